import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';

/** Migrations racing on a fresh, empty PostgreSQL database (several sessions: PostgreSQL only). */
describe('migrate on an empty PostgreSQL database', () => {
  const adminUrl = inject('pgAdminUrl');
  const created: string[] = [];
  const pools: Db[] = [];

  async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  async function emptyDatabase(): Promise<string> {
    const name = `strata_mig_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    created.push(name);
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  }

  function pool(url: string): Db {
    const db = openPostgres({ connectionString: url, max: 2 });
    pools.push(db);
    return db;
  }

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
    for (const name of created.splice(0))
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('concurrent migrate() calls from separate pools neither break nor apply twice', async () => {
    const names = (await loadMigrations()).map((m) => m.name);
    for (let round = 0; round < 3; round++) {
      const url = await emptyDatabase();
      const dbs = Array.from({ length: 4 }, () => pool(url));
      // Connect every pool first so the calls really start together.
      await Promise.all(dbs.map((db) => db.query('SELECT 1')));
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      // Exactly one call applied the migrations; the others waited and found nothing to do.
      expect(results.filter((r) => r.length > 0)).toEqual([names]);
      expect(results.filter((r) => r.length === 0)).toHaveLength(dbs.length - 1);
      const r = await dbs[0]!.query<{ name: string }>(
        'SELECT name FROM schema_migrations ORDER BY version',
      );
      expect(r.rows.map((x) => x.name)).toEqual(names);
      // The schema is whole: the append function works.
      const fn = await dbs[1]!.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM pg_proc WHERE proname = 'strata_append'`,
      );
      expect(fn.rows[0]!.n).toBe(1);
      // No advisory lock is left behind.
      const locks = await dbs[2]!.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(locks.rows[0]!.n).toBe(0);
    }
  });
});
