import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirInUse, openPglite } from '../../src/db/pglite.js';

/**
 * The embedded engine's data folder belongs to one process at a time: PGlite itself
 * would let a second process open the same files (a seed beside a running server) and
 * corrupt them.
 */
describe('the embedded data folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'strata-lock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is refused to a second opener while open, with a clear error; free again once closed', async () => {
    const first = await openPglite({ dataDir: dir });
    try {
      await first.query(`CREATE TABLE kept (n int)`);
      await first.query(`INSERT INTO kept VALUES (1)`);
      const second = openPglite({ dataDir: dir });
      await expect(second).rejects.toBeInstanceOf(DataDirInUse);
      await expect(second).rejects.toThrow(/in use by another Strata process.*DATABASE_URL/s);
      // The refused opener changed nothing.
      expect((await first.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 1 }]);
    } finally {
      await first.close();
    }
    const again = await openPglite({ dataDir: dir });
    try {
      expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 1 }]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
