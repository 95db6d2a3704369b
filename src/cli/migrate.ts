import { loadDatabaseConfig } from '../config/config.js';
import { DataDirInUse } from '../db/pglite.js';
import { migrate } from '../db/migrate.js';
import { CliError, describeDatabase, openDatabase, program, run } from './common.js';

/**
 * `npm run migrate`: applies pending migrations to the configured database (DATABASE_URL,
 * else the embedded one in STRATA_DATA_DIR), says which, and exits.
 */
async function main(argv: string[]): Promise<void> {
  program('migrate', 'Apply pending migrations to the configured database, then exit')
    .addHelpText(
      'after',
      '\nThe database: DATABASE_URL, else the embedded one in STRATA_DATA_DIR. Servers also migrate when they start.',
    )
    .allowExcessArguments(false)
    .parse(argv);

  const config = loadDatabaseConfig();
  const where = describeDatabase(config);
  let db;
  try {
    db = await openDatabase(config);
  } catch (err) {
    if (!(err instanceof DataDirInUse)) throw err;
    // A server applies pending migrations at start, so the one holding the folder has
    // those it knew then; newer code's need a restart, which migrates first.
    throw new CliError(
      `${where} is held by another process, most likely a running server (npm start), which applied its migrations when it started. To apply newer ones, stop it and start it again (it migrates first), or stop it and run this again.`,
    );
  }
  try {
    const applied = await migrate(db);
    const embedded = config.databaseUrl ? '' : ' (DATABASE_URL is not set)';
    process.stdout.write(
      `Migrating ${where}${embedded}: ${
        applied.length
          ? `applied ${applied.join(', ')}.`
          : 'nothing to apply, the schema is up to date.'
      }\n`,
    );
  } finally {
    await db.close();
  }
}

run('migrate', () => main(process.argv));
