import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printSortedSchema } from '../../src/server/schema.js';

describe('schema.graphql', () => {
  it('is the printed, sorted schema of the code (run `npm run schema:print` after changing types)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSortedSchema());
  });
});
