import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/index.js';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { useTestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `SHOW` says on one session of `db`. */
const show = async (db: Db, name: string) =>
  (await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];

describe('database session limits on PostgreSQL', () => {
  const t = useTestDatabase();
  let db: Db;
  let s: TestApp;
  beforeAll(async () => {
    // As the app opens it from DATABASE_URL, with short limits.
    db = await openDb({
      databaseUrl: t.url,
      dataDir: '',
      statementTimeoutMs: 500,
      idleInTransactionTimeoutMs: 500,
    });
    s = await startTestApp({ ...t, db });
  });
  afterAll(async () => {
    await s?.stop();
    await db?.close();
  });

  it('starts every session with the configured statement and idle-in-transaction timeouts', async () => {
    expect(await show(db, 'statement_timeout')).toBe('500ms');
    expect(await show(db, 'idle_in_transaction_session_timeout')).toBe('500ms');
    await db.transaction(async (tx) => {
      const r = await tx.query<{ setting: string }>(
        "SELECT current_setting('statement_timeout') AS setting",
      );
      expect(r.rows[0]!.setting).toBe('500ms');
    });
  });

  it('turns either off with 0', async () => {
    const off = await openDb({
      databaseUrl: t.url,
      dataDir: '',
      statementTimeoutMs: 0,
      idleInTransactionTimeoutMs: 0,
    });
    try {
      expect(await show(off, 'statement_timeout')).toBe('0');
      expect(await show(off, 'idle_in_transaction_session_timeout')).toBe('0');
    } finally {
      await off.close();
    }
  });

  it('cancels a statement over the timeout: the client sees a masked error, and the server goes on', async () => {
    const admin = await s.auth({ role: 'admin' });
    const QUERY = '{ events(first: 1) { edges { cursor } } }';
    expect((await s.graphql(QUERY, {}, admin)).body.errors).toBeUndefined();
    // Another session (without limits) holds the log's table, so the read waits … and waits.
    const holder = new pg.Client({ connectionString: t.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const r = await s.graphql(QUERY, {}, admin);
      expect(r.body.errors?.[0]?.message).toBe('Unexpected error.');
      expect(JSON.stringify(r.body)).not.toMatch(/timeout|cancel|statement|stack|originalError/i);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const after = await s.graphql(QUERY, {}, admin);
    expect(after.body.errors).toBeUndefined();
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it('ends a transaction left idle longer than the timeout, and the pool goes on', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await sleep(1_500);
        await tx.query('SELECT 1');
      }),
    ).rejects.toThrow();
    expect(await show(db, 'statement_timeout')).toBe('500ms');
  });

  it('lets migrations run past the statement timeout, then restores it on their session', async () => {
    // One session, so the check after the migration sees the very session it used.
    const one = openPostgres({ connectionString: t.url!, max: 1, statementTimeoutMs: 500 });
    try {
      const holder = new pg.Client({ connectionString: t.url });
      await holder.connect();
      // Another process holds the migration lock for longer than the statement timeout.
      await holder.query('SELECT pg_advisory_lock(7311000001)');
      const migrating = migrate(one);
      await sleep(1_000);
      await holder.query('SELECT pg_advisory_unlock(7311000001)');
      await holder.end();
      expect(await migrating).toEqual([]);
      expect(await show(one, 'statement_timeout')).toBe('500ms');
    } finally {
      await one.close();
    }
  });
});
