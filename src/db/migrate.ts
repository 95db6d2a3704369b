import { readdir, readFile } from 'node:fs/promises';
import type { Db } from './types.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Arbitrary but fixed: every Strata process agrees on it, so migrations run one at a time. */
const MIGRATION_LOCK = 7_311_000_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Versioned migrations: files named `NNNN_description.sql`, applied in order, once each. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
    })),
  );
}

/**
 * Applies the pending migrations, each in its own transaction, under a session advisory
 * lock: a second process starting at the same time waits, then finds nothing to do.
 * Returns the names applied by this call.
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  return db.withSession(async (session) => {
    // Waiting for another process's migrations, or building an index on a big table, may
    // take longer than the statement timeout of ordinary work; RESET (below) restores it
    // before the session goes back to the pool.
    await session.query('SET statement_timeout = 0');
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await session.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = new Set(
        (
          await session.query<{ version: number }>('SELECT version FROM schema_migrations')
        ).rows.map((r) => r.version),
      );
      const applied: string[] = [];
      for (const m of all) {
        if (done.has(m.version)) continue;
        await session.exec('BEGIN');
        try {
          await session.exec(m.sql);
          await session.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await session.exec('COMMIT');
        } catch (err) {
          await session.exec('ROLLBACK');
          throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.name);
      }
      return applied;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      await session.query('RESET statement_timeout');
    }
  });
}
