import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

/** A database with nothing in it (not cloned from the migrated template). */
async function emptyDatabase(): Promise<{ db: Db; dispose(): Promise<void> }> {
  if (engine === 'pglite') {
    const db = await openPglite();
    return { db, dispose: () => db.close() };
  }
  const adminUrl = inject('pgAdminUrl');
  const name = `strata_mig_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const db = openPostgres({ connectionString: u.toString(), max: 2 });
  return {
    db,
    async dispose() {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

describe('migrate', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(() => t.dispose());

  it('records every migration once in schema_migrations; running again applies nothing', async () => {
    const all = await loadMigrations();
    expect(all.length).toBeGreaterThan(0);
    expect(all.map((m) => m.version)).toEqual([...all.map((m) => m.version)].sort((a, b) => a - b));
    expect(new Set(all.map((m) => m.version)).size).toBe(all.length);
    // The test database was cloned from a migrated template.
    const before = await t.db.query<{ version: number; name: string; applied_at: Date }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(before.rows.map((r) => [r.version, r.name])).toEqual(
      all.map((m) => [m.version, m.name]),
    );
    expect(before.rows[0]!.name).toBe('0001_event_store');
    expect(await migrate(t.db)).toEqual([]);
    expect(await migrate(t.db)).toEqual([]);
    const after = await t.db.query(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(after.rows).toEqual(before.rows);
  });

  it('applies a new migration once, after the others', async () => {
    const all = await loadMigrations();
    const extra = {
      version: 9001,
      name: '9001_extra',
      sql: 'CREATE TABLE extra_thing (id int PRIMARY KEY); INSERT INTO extra_thing VALUES (1);',
    };
    expect(await migrate(t.db, [...all, extra])).toEqual(['9001_extra']);
    expect(await migrate(t.db, [...all, extra])).toEqual([]);
    const r = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM extra_thing');
    expect(r.rows[0]!.n).toBe(1);
    const v = await t.db.query<{ version: number }>(
      'SELECT version FROM schema_migrations WHERE version = 9001',
    );
    expect(v.rows).toHaveLength(1);
  });

  it('rolls a failing migration back entirely, records nothing, and releases its lock', async () => {
    const all = await loadMigrations();
    const bad = {
      version: 9002,
      name: '9002_bad',
      sql: 'CREATE TABLE half_done (id int); SELECT 1 / 0;',
    };
    await expect(migrate(t.db, [...all, bad])).rejects.toThrow(
      /Migration 9002_bad failed: division by zero/,
    );
    const table = await t.db.query(`SELECT 1 FROM pg_class WHERE relname = 'half_done'`);
    expect(table.rows).toHaveLength(0);
    const v = await t.db.query('SELECT 1 FROM schema_migrations WHERE version = 9002');
    expect(v.rows).toHaveLength(0);
    // The advisory lock was released: the next run is not blocked, and a fixed file applies.
    const fixed = { ...bad, sql: 'CREATE TABLE half_done (id int);' };
    expect(await migrate(t.db, [...all, fixed])).toEqual(['9002_bad']);
  });

  it('int8 comes back as a JS number, xid8 as a string', async () => {
    const r = await t.db.query<{
      big: number;
      small: number;
      neg: number;
      count: number;
      xid: string;
      pos: string;
    }>(
      `SELECT 9007199254740991::int8 AS big, 1::int8 AS small, (-9007199254740991)::int8 AS neg,
              (SELECT count(*) FROM schema_migrations) AS count,
              pg_current_xact_id() AS xid, '18446744073709551615'::xid8 AS pos`,
    );
    const row = r.rows[0]!;
    expect(row.big).toBe(Number.MAX_SAFE_INTEGER);
    expect(row.small).toBe(1);
    expect(row.neg).toBe(-Number.MAX_SAFE_INTEGER);
    expect(typeof row.count).toBe('number');
    expect(typeof row.xid).toBe('string');
    expect(row.xid).toMatch(/^\d+$/);
    expect(row.pos).toBe('18446744073709551615');
  });

  it('an int8 beyond 2^53 fails loudly instead of losing precision', async () => {
    await expect(t.db.query('SELECT 9007199254740992::int8 AS n')).rejects.toThrow(/safe integer/);
    // The engine is still usable afterwards.
    const r = await t.db.query<{ n: number }>('SELECT 2::int8 AS n');
    expect(r.rows[0]!.n).toBe(2);
  });

  it('migrates a fresh, empty database from nothing, once', async () => {
    const fresh = await emptyDatabase();
    try {
      const names = (await loadMigrations()).map((m) => m.name);
      expect(await migrate(fresh.db)).toEqual(names);
      expect(await migrate(fresh.db)).toEqual([]);
      const r = await fresh.db.query<{ name: string }>(
        'SELECT name FROM schema_migrations ORDER BY version',
      );
      expect(r.rows.map((x) => x.name)).toEqual(names);
    } finally {
      await fresh.dispose();
    }
  });
});
