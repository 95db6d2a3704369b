import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSortedSchema } from '../server/schema.js';
import { program, run } from './common.js';

/** `npm run schema:print`: regenerates the committed schema.graphql from the Pothos code. */
async function main(argv: string[]): Promise<void> {
  program('schema:print', 'Write schema.graphql (the GraphQL contract) from the code; no database')
    .allowExcessArguments(false)
    .parse(argv);
  const file = new URL('../../schema.graphql', import.meta.url);
  await writeFile(file, printSortedSchema());
  process.stdout.write(`${path.relative(process.cwd(), fileURLToPath(file))} written\n`);
}

run('schema:print', () => main(process.argv));
