import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { Db } from './types.js';

export type { Db, Queryable, Session, Listener, Engine } from './types.js';
export { isTransientDatabaseError } from './errors.js';

/**
 * Opens the engine the configuration names: PostgreSQL with DATABASE_URL, else PGlite.
 * Every PostgreSQL session (the pool's and the LISTEN connection) starts with the
 * configured `statement_timeout` and `idle_in_transaction_session_timeout` (0: off), so a
 * runaway statement or a transaction left open cannot hold a connection or its locks.
 * PGlite gets neither: it accepts the settings but, without timers in its single
 * in-process session, does not enforce them (see ADR 0007).
 */
export async function openDb(
  config: Pick<
    Config,
    'databaseUrl' | 'dataDir' | 'statementTimeoutMs' | 'idleInTransactionTimeoutMs'
  >,
  logger?: Logger,
): Promise<Db> {
  if (config.databaseUrl) {
    const db = openPostgres({
      connectionString: config.databaseUrl,
      statementTimeoutMs: config.statementTimeoutMs,
      idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs,
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
