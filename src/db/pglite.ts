import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import lockfile from 'proper-lockfile';
import {
  INT8_OID,
  parseInt8,
  type Db,
  type LockSession,
  type QueryResult,
  type Queryable,
  type Session,
  type TransactionOptions,
} from './types.js';

export interface PgliteOptions {
  /** Folder for the data; omitted means in memory. */
  dataDir?: string;
  /** A tarball from `dumpDataDir()` to start from (tests clone a migrated template). */
  loadDataDir?: Blob;
}

function wrap(q: Pick<PGlite, 'query'>): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await q.query<R>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  };
}

/** The embedded data folder is open in another process. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
  constructor(readonly dataDir: string) {
    super(
      `The embedded database in ${dataDir} is in use by another Strata process (a running \`npm start\`?). ` +
        'Stop it first; to run several processes at once, use PostgreSQL (DATABASE_URL).',
    );
  }
}

/**
 * Takes the data folder for this process. PGlite is PostgreSQL inside one process, with
 * nothing of its own to stop a second process from opening the same files, which would
 * corrupt them. The lock is kept fresh while the process lives; one left by a killed
 * process goes stale after 10 s.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(dataDir, {
      lockfilePath: path.join(dataDir, '.strata.lock'),
      stale: 10_000,
      update: 2_000,
      retries: 0,
      // Only when the process stalled for longer than `stale` and another took over: the
      // next write fails loudly anyway; crashing here would lose in-flight answers.
      onCompromised: () => undefined,
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') throw new DataDirInUse(dataDir);
    throw err;
  }
}

/**
 * The embedded engine. PGlite is a single PostgreSQL session in this process: its
 * transactions run one at a time (PGlite queues them), and LISTEN/NOTIFY is in-process.
 */
export async function openPglite(o: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  let unlock: (() => Promise<void>) | undefined;
  if (o.dataDir) {
    await mkdir(o.dataDir, { recursive: true });
    unlock = await lockDataDir(o.dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = await createPglite(o);
  } catch (err) {
    await unlock?.();
    throw err;
  }
  return wrapPglite(pglite, unlock);
}

function createPglite(o: PgliteOptions): Promise<PGlite> {
  return PGlite.create({
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(o.loadDataDir ? { loadDataDir: o.loadDataDir } : {}),
    parsers: { [INT8_OID]: parseInt8 },
  });
}

function wrapPglite(
  pglite: PGlite,
  unlock: (() => Promise<void>) | undefined,
): Db & { pglite: PGlite } {
  const base = wrap(pglite);
  const locks = new Map<string, object>();
  const session: Session = {
    ...base,
    async exec(sql: string) {
      await pglite.exec(sql);
    },
  };
  return {
    engine: 'pglite',
    pglite,
    query: base.query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) {
      return pglite.transaction(async (tx) => {
        if (options?.asyncCommit) await tx.query('SET LOCAL synchronous_commit = off');
        return fn(wrap(tx));
      });
    },
    withSession<T>(fn: (s: Session) => Promise<T>) {
      return fn(session);
    },
    async listen(channels, onNotify, options) {
      const unlisten = await Promise.all(
        channels.map((channel) => pglite.listen(channel, (payload) => onNotify(channel, payload))),
      );
      options?.onListening?.();
      return {
        close: async () => {
          for (const u of unlisten) await u();
        },
        backendPid: () => undefined,
      };
    },
    lockSession() {
      return Promise.resolve(lockSession(locks));
    },
    async close() {
      if (!pglite.closed) await pglite.close();
      const release = unlock;
      unlock = undefined;
      await release?.();
    },
  };
}

/**
 * PGlite is one session in one process (its data folder is locked to it): a lock session
 * is a holder in this map, so that two sessions still exclude each other as on PostgreSQL.
 */
function lockSession(locks: Map<string, object>): LockSession {
  const me = {};
  let closed = false;
  return {
    tryLock(key) {
      if (closed) return Promise.resolve(false);
      const holder = locks.get(key);
      if (holder === undefined) locks.set(key, me);
      return Promise.resolve(holder === undefined || holder === me);
    },
    unlock(key) {
      if (locks.get(key) === me) locks.delete(key);
      return Promise.resolve();
    },
    holds: (key) => locks.get(key) === me,
    close() {
      closed = true;
      for (const [key, holder] of locks) if (holder === me) locks.delete(key);
      return Promise.resolve();
    },
  };
}
