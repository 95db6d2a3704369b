import type { Logger } from 'pino';
import { openPostgres } from './postgres.js';
import type {
  Db,
  LockSession,
  Listener,
  QueryOptions,
  QueryResult,
  Queryable,
  Session,
  TransactionOptions,
} from './types.js';

/*
 * Read replicas (docs/adr/0017-read-replicas.md): streaming replicas of the primary that
 * GraphQL queries read their read models from. Only reads of one request go there, through
 * a {@link ReadRoute}; everything that writes, listens or must see the newest state (the
 * event store, projections, the process manager, live feeds, mutations) keeps the primary.
 * A replica is an optimisation, never a dependency: whatever it cannot answer, the primary
 * answers.
 */

/** Where a statement of a query ran: a replica, the primary from the start, or the primary after leaving a replica. */
export type ReadTarget = 'replica' | 'primary' | 'fallback';

/** Why a request left its replica for the primary. */
export type FallbackReason = 'lag' | 'error';

export interface ReadReplicaOptions {
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  logger?: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** A replica that failed is left alone this long, then tried again (default 5 s). */
  retryAfterMs?: number;
  /** Connections per replica (default 10). */
  poolSize?: number;
  /**
   * How long a read-your-writes wait gives a request's replica to replay a cursor before
   * the request reads the primary instead (STRATA_REPLICA_WAIT_MS; default 1 s).
   */
  waitMs?: number;
}

interface Replica {
  /** host:port, for logs (never the password). */
  readonly name: string;
  readonly db: Db;
  /** Not used before this time (ms since the epoch) after a failure. */
  downUntil: number;
}

/** SQLSTATE classes a replica shares with the primary: the statement itself, not the replica, is at fault. */
const SAME_ON_PRIMARY = /^(22|57014)/;

export class ReadReplicas {
  /** Statements of queries by where they ran (read by the metrics on scrape). */
  readonly reads: Record<ReadTarget, number> = { replica: 0, primary: 0, fallback: 0 };
  /** Requests that left their replica for the primary, by why. */
  readonly fallbacks: Record<FallbackReason, number> = { lag: 0, error: 0 };
  private readonly replicas: Replica[];
  private next = 0;
  private readonly retryAfterMs: number;
  readonly waitMs: number;

  constructor(
    readonly primary: Db,
    replicas: readonly { name: string; db: Db }[],
    private readonly options: ReadReplicaOptions = {},
  ) {
    this.replicas = replicas.map((r) => ({ ...r, downUntil: 0 }));
    this.retryAfterMs = options.retryAfterMs ?? 5_000;
    this.waitMs = options.waitMs ?? 1_000;
  }

  /**
   * Pools for the replicas at `urls`, opened lazily: a replica that is down at start
   * delays nothing and fails nothing (its requests read the primary until it answers).
   */
  static open(primary: Db, urls: readonly string[], options: ReadReplicaOptions = {}) {
    return new ReadReplicas(
      primary,
      urls.map((url) => ({
        name: new URL(url).host,
        db: openPostgres({
          connectionString: url,
          applicationName: 'strata-read',
          max: options.poolSize ?? 10,
          // A replica that does not answer must cost a query little before the primary does.
          connectTimeoutMs: 2_000,
          ...(options.statementTimeoutMs !== undefined
            ? { statementTimeoutMs: options.statementTimeoutMs }
            : {}),
          ...(options.idleInTransactionTimeoutMs !== undefined
            ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
            : {}),
          ...(options.logger ? { logger: options.logger } : {}),
        }),
      })),
      options,
    );
  }

  /** How many replicas, and which are in use now (false: left alone after a failure). */
  status(): { name: string; up: boolean }[] {
    const now = Date.now();
    return this.replicas.map((r) => ({ name: r.name, up: r.downUntil <= now }));
  }

  /**
   * The reads of one request: the next usable replica in turn (round robin), or the
   * primary when none is usable.
   */
  forRequest(): ReadRoute {
    const now = Date.now();
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[(this.next + i) % this.replicas.length]!;
      if (r.downUntil <= now) {
        this.next = (this.next + i + 1) % this.replicas.length;
        return new ReadRoute(this, r);
      }
    }
    return new ReadRoute(this, undefined);
  }

  /** @internal A replica failed a statement: left alone for a while. */
  failed(r: Replica, err: unknown): void {
    const wasUp = r.downUntil <= Date.now();
    r.downUntil = Date.now() + this.retryAfterMs;
    if (wasUp)
      this.options.logger?.warn(
        { replica: r.name, err: (err as Error)?.message, retryAfterMs: this.retryAfterMs },
        'read replica failed; its reads go to the primary for a while',
      );
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.db.close()));
  }
}

/**
 * One request's reads: on its replica until it leaves it (the replica failed, or lags
 * behind a cursor the request must see), then on the primary for the rest of the request.
 * A `Db`, so that queries and loaders use it as they would the primary; only `query` goes
 * to the replica: transactions, sessions and LISTEN always run on the primary.
 */
export class ReadRoute implements Db {
  readonly engine = 'postgres' as const;
  private left = false;

  constructor(
    private readonly replicas: ReadReplicas,
    private replica: Replica | undefined,
  ) {}

  /** The replica this request reads from; undefined once on the primary. */
  get current(): Queryable | undefined {
    return this.replica?.db;
  }

  /** How long a read-your-writes wait gives the replica (see ReadReplicaOptions.waitMs). */
  get waitMs(): number {
    return this.replicas.waitMs;
  }

  /** The rest of this request reads from the primary. */
  leave(reason: FallbackReason, err?: unknown): void {
    const r = this.replica;
    if (!r) return;
    this.replica = undefined;
    this.left = true;
    this.replicas.fallbacks[reason]++;
    if (reason === 'error') this.replicas.failed(r, err);
  }

  async query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    const r = this.replica;
    if (r) {
      try {
        const result = await r.db.query<R>(sql, params, options);
        this.replicas.reads.replica++;
        return result;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && SAME_ON_PRIMARY.test(code)) throw err;
        // A read is safe to repeat: the primary answers it.
        if (this.replica === r) this.leave('error', err);
      }
    }
    const result = await this.replicas.primary.query<R>(sql, params, options);
    this.replicas.reads[this.left ? 'fallback' : 'primary']++;
    return result;
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.replicas.primary.transaction(fn, options);
  }

  lockSession(): Promise<LockSession> {
    return this.replicas.primary.lockSession();
  }

  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.replicas.primary.withSession(fn);
  }

  listen(
    channels: readonly string[],
    onNotify: (channel: string, payload: string) => void,
    options?: Parameters<Db['listen']>[2],
  ): Promise<Listener> {
    return this.replicas.primary.listen(channels, onNotify, options);
  }

  /** The pools belong to {@link ReadReplicas}: a request closes nothing. */
  async close(): Promise<void> {}
}
