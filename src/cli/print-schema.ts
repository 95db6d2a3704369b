import { writeFile } from 'node:fs/promises';
import { printSortedSchema } from '../server/schema.js';

/** `npm run schema:print`: regenerates the committed schema.graphql from the Pothos code. */
await writeFile(new URL('../../schema.graphql', import.meta.url), printSortedSchema());
process.stdout.write('schema.graphql written\n');
