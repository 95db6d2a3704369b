import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { Db } from './types.js';

export type { Db, Queryable, Session, Listener, Engine } from './types.js';

/** Opens the engine the configuration names: PostgreSQL with DATABASE_URL, else PGlite. */
export async function openDb(
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
  logger?: Logger,
): Promise<Db> {
  if (config.databaseUrl) {
    const db = openPostgres({
      connectionString: config.databaseUrl,
      ...(logger ? { logger } : {}),
    });
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await db.close();
      throw new Error(`Cannot reach PostgreSQL at DATABASE_URL: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return db;
  }
  return openPglite({ dataDir: path.resolve(config.dataDir) });
}
