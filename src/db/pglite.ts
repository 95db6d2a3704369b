import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import {
  INT8_OID,
  parseInt8,
  type Db,
  type QueryResult,
  type Queryable,
  type Session,
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

/**
 * The embedded engine. PGlite is a single PostgreSQL session in this process: its
 * transactions run one at a time (PGlite queues them), and LISTEN/NOTIFY is in-process.
 */
export async function openPglite(o: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  if (o.dataDir) await mkdir(o.dataDir, { recursive: true });
  const pglite = await PGlite.create({
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(o.loadDataDir ? { loadDataDir: o.loadDataDir } : {}),
    parsers: { [INT8_OID]: parseInt8 },
  });
  const base = wrap(pglite);
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
    transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      return pglite.transaction((tx) => fn(wrap(tx)));
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
    async close() {
      if (!pglite.closed) await pglite.close();
    },
  };
}
