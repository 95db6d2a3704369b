import { loadConfig } from '../config/config.js';
import { openDb } from '../db/index.js';
import { migrate } from '../db/migrate.js';

/** `npm run migrate`: applies pending migrations to the configured database and exits. */
const config = loadConfig();
const db = await openDb(config);
try {
  const applied = await migrate(db);
  process.stdout.write(
    applied.length
      ? `Applied: ${applied.join(', ')}\n`
      : 'Nothing to apply: the schema is up to date.\n',
  );
} finally {
  await db.close();
}
