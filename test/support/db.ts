import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { inject } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { useHooks, type Per } from './hooks.js';

export const engine = inject('engine');

export interface TestDatabase {
  db: Db;
  /** Connection URL (PostgreSQL only): for child processes and extra sessions. */
  url: string | undefined;
  /** Closes the engine and drops the database. */
  dispose(): Promise<void>;
}

let templateBlob: Blob | undefined;

/** A fresh, migrated database on the engine under test, cloned from the run's template. */
export async function createTestDatabase(
  options: { poolSize?: number } = {},
): Promise<TestDatabase> {
  if (engine === 'pglite') {
    templateBlob ??= new Blob([await readFile(inject('pgliteTemplate'))]);
    const db = await openPglite({ loadDataDir: templateBlob });
    return { db, url: undefined, dispose: () => db.close() };
  }
  const templateUrl = inject('pgTemplateUrl');
  const template = new URL(templateUrl).pathname.slice(1);
  const name = `strata_t_${template.replace('strata_tpl_', '')}_${randomBytes(5).toString('hex')}`;
  const adminUrl = inject('pgAdminUrl');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = templateUrl.replace(`/${template}`, `/${name}`);
  const db = openPostgres({ connectionString: url, max: options.poolSize ?? 20 });
  return {
    db,
    url,
    async dispose() {
      await db.close();
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

export interface UseTestDatabaseOptions {
  poolSize?: number;
  per?: Per;
}

/**
 * A test database for the file (or each test), created and disposed of by hooks; the
 * accessors reach the current one.
 */
export function useTestDatabase(options: UseTestDatabaseOptions = {}): TestDatabase {
  const opened = useHooks(
    'test database',
    options.per,
    () => createTestDatabase({ poolSize: options.poolSize }),
    (t) => t.dispose(),
  );
  return {
    get db() {
      return opened().db;
    },
    get url() {
      return opened().url;
    },
    dispose: () => opened().dispose(),
  };
}
