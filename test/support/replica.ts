import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrlFor } from './global-setup.js';

/**
 * The streaming replica pair of `scripts/replica-pair.sh` (`.ci/run` starts one), for
 * the files named `*.replica.test.ts`: vitest runs them on the PostgreSQL pass when the
 * pair's variables are set, and always under STRATA_REQUIRE_POSTGRES=1, where a missing
 * pair fails them here rather than skipping them.
 */
export interface ReplicaPair {
  /** The primary's `postgres` database: for creating and dropping test databases. */
  primaryUrl: string;
  /** The replica's `postgres` database. */
  replicaUrl: string;
}

export function replicaPair(): ReplicaPair {
  const primaryUrl = process.env.TEST_REPLICA_PRIMARY_URL;
  const replicaUrl = process.env.TEST_REPLICA_URL;
  if (!primaryUrl || !replicaUrl)
    throw new Error(
      'TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL are required: start a primary and a streaming replica with eval "$(scripts/replica-pair.sh start)"',
    );
  return { primaryUrl, replicaUrl };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface ReplicatedDatabase {
  /** The database on the primary and on the replica. */
  primaryUrl: string;
  replicaUrl: string;
  /**
   * Resolves once the replica has replayed everything the primary has written so far
   * (asynchronous commits included, such as projection batches': they reach the replica
   * once the primary's WAL writer flushes them, within a few hundred ms).
   */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops (and waits until stopped) / resumes the replica's replay of the primary's WAL. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  drop(): Promise<void>;
}

/** A fresh database on the pair's primary, once the replica has it too. */
export async function createReplicatedDatabase(pair: ReplicaPair): Promise<ReplicatedDatabase> {
  const name = `strata_r_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(pair.primaryUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const db: ReplicatedDatabase = {
    primaryUrl: databaseUrlFor(pair.primaryUrl, name),
    replicaUrl: databaseUrlFor(pair.replicaUrl, name),
    async caughtUp(timeoutMs = 10_000) {
      const lsn = await withClient(pair.primaryUrl, async (c) => {
        const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        return r.rows[0]!.lsn;
      });
      const deadline = Date.now() + timeoutMs;
      await withClient(pair.replicaUrl, async (c) => {
        for (;;) {
          const r = await c.query<{ done: boolean }>(
            'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
            [lsn],
          );
          if (r.rows[0]?.done) return;
          if (Date.now() > deadline)
            throw new Error(`the replica did not replay up to ${lsn} within ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
    },
    async pauseReplay() {
      await withClient(pair.replicaUrl, async (c) => {
        await c.query('SELECT pg_wal_replay_pause()');
        for (;;) {
          const r = await c.query<{ state: string }>(
            'SELECT pg_get_wal_replay_pause_state() AS state',
          );
          if (r.rows[0]?.state === 'paused') return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
    },
    async resumeReplay() {
      await withClient(pair.replicaUrl, (c) => c.query('SELECT pg_wal_replay_resume()'));
    },
    async drop() {
      await db.resumeReplay().catch(() => undefined);
      await withClient(pair.primaryUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
  await db.caughtUp();
  return db;
}
