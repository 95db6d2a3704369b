import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import {
  INT8_OID,
  parseInt8,
  type Db,
  type Listener,
  type ListenOptions,
  type QueryOptions,
  type LockSession,
  type QueryResult,
  type Queryable,
  type Session,
  type TransactionOptions,
} from './types.js';

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Milliseconds; a session idle inside a transaction longer than this is terminated. */
  idleInTransactionTimeoutMs?: number;
  /** Milliseconds; 0 disables. */
  statementTimeoutMs?: number;
  /** Milliseconds to open a connection before giving up (default: no bound). */
  connectTimeoutMs?: number;
  logger?: Pick<Logger, 'warn' | 'error' | 'info'>;
}

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? parseInt8
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function connectionConfig(o: PostgresOptions): pg.ClientConfig {
  const settings = [
    `-c idle_in_transaction_session_timeout=${o.idleInTransactionTimeoutMs ?? 60_000}`,
    `-c statement_timeout=${o.statementTimeoutMs ?? 0}`,
  ];
  return {
    connectionString: o.connectionString,
    application_name: o.applicationName ?? 'strata',
    options: settings.join(' '),
    types,
    keepAlive: true,
    ...(o.connectTimeoutMs ? { connectionTimeoutMillis: o.connectTimeoutMs } : {}),
  };
}

/**
 * Statements with parameters are prepared: named after a hash of their text, so each
 * connection parses and plans one once and then only binds it (PostgreSQL keeps a generic
 * plan when it costs no more than planning each call). Strata's statements come from its
 * code, a bounded set; past {@link MAX_PREPARED} distinct texts (a statement built with a
 * varying shape) the rest run unnamed, so no connection holds an unbounded number of plans.
 * See docs/adr/0011-prepared-statements.md.
 */
export const MAX_PREPARED = 500;
const prepared = new Map<string, string>();

/** How many statement texts have a name so far (at most {@link MAX_PREPARED}). */
export const preparedStatementTexts = (): number => prepared.size;

function statementName(sql: string): string | undefined {
  const known = prepared.get(sql);
  if (known !== undefined || prepared.size >= MAX_PREPARED) return known;
  const name = `strata_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
  prepared.set(sql, name);
  return name;
}

/** A statement for node-pg: named when the caller names it or it has parameters. */
function toConfig(
  sql: string,
  params?: readonly unknown[],
  options?: QueryOptions,
): pg.QueryConfig {
  const config: pg.QueryConfig = { text: sql, values: params as unknown[] | undefined };
  const name = options?.name ?? (params?.length ? statementName(sql) : undefined);
  if (name !== undefined) config.name = name;
  return config;
}

function wrap(client: pg.ClientBase): Session {
  return {
    async query<R>(
      sql: string,
      params?: readonly unknown[],
      options?: QueryOptions,
    ): Promise<QueryResult<R>> {
      const r = await client.query(toConfig(sql, params, options));
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

export function openPostgres(o: PostgresOptions): Db {
  const pool = new pg.Pool({ ...connectionConfig(o), max: o.max ?? 20 });
  // An idle client whose server went away emits here; without a handler the process
  // would crash. The pool drops that client and opens a new one on the next checkout.
  pool.on('error', (err) => o.logger?.warn({ err }, 'idle PostgreSQL client lost'));

  async function withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      broken ??= isConnectionError(err) ? (err as Error) : undefined;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  return {
    engine: 'postgres',
    async query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions) {
      const r = await pool.query(toConfig(sql, params, options));
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) {
      return withClient(async (client) => {
        // One simple-protocol message, two statements: one round trip.
        await client.query(
          options?.asyncCommit ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN',
        );
        try {
          const result = await fn(wrap(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          try {
            await client.query('ROLLBACK');
          } catch {
            // The connection is gone; the server rolls back on its own.
          }
          throw err;
        }
      });
    },
    withSession<T>(fn: (s: Session) => Promise<T>) {
      return withClient((client) => fn(wrap(client)));
    },
    lockSession() {
      return Promise.resolve(new PgLockSession(connectionConfig(o), o.logger));
    },
    listen(channels, onNotify, options) {
      return PgListener.start(connectionConfig(o), channels, onNotify, options ?? {}, o.logger);
    },
    async close() {
      if (!pool.ended && !pool.ending) await pool.end();
    },
  };
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return (
    code === undefined ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === 'ECONNRESET' ||
    code === 'ECONNREFUSED'
  );
}

/**
 * A round trip on a dedicated connection every `everyMs`: a server that has gone away
 * (and a connection TCP still believes in) shows within `timeoutMs` as an error.
 */
function keepAlive(
  client: pg.Client,
  what: string,
  everyMs: number,
  timeoutMs: number,
  lost: (err: Error) => void,
  ping: () => Promise<unknown> = () => client.query('SELECT 1'),
): NodeJS.Timeout {
  const interval = setInterval(() => {
    const timer = setTimeout(
      () => client.emit('error', new Error(`${what} keepalive timed out`)),
      timeoutMs,
    );
    ping().then(
      () => clearTimeout(timer),
      (err: Error) => {
        clearTimeout(timer);
        lost(err);
      },
    );
  }, everyMs);
  interval.unref();
  return interval;
}

/**
 * One dedicated connection (outside the pool) that LISTENs, reconnects with capped
 * backoff, and notices a dead peer by a periodic round trip rather than waiting for TCP.
 */
class PgListener implements Listener {
  private client: pg.Client | undefined;
  private closed = false;
  private pid: number | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;

  private constructor(
    private readonly config: pg.ClientConfig,
    private readonly channels: readonly string[],
    private readonly onNotify: (channel: string, payload: string) => void,
    private readonly options: ListenOptions,
    private readonly logger: PostgresOptions['logger'],
  ) {}

  static async start(
    config: pg.ClientConfig,
    channels: readonly string[],
    onNotify: (channel: string, payload: string) => void,
    options: ListenOptions,
    logger?: PostgresOptions['logger'],
  ): Promise<PgListener> {
    const l = new PgListener(config, channels, onNotify, options, logger);
    await l.connect(); // the first connection must succeed, so start-up fails loudly
    return l;
  }

  backendPid() {
    return this.pid;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', (msg) => {
      if (this.channels.includes(msg.channel)) this.onNotify(msg.channel, msg.payload ?? '');
    });
    await client.connect();
    try {
      for (const channel of this.channels)
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      this.pid = r.rows[0]?.pid;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    this.keepalive = keepAlive(client, 'LISTEN', 10_000, 5_000, (err) => this.lost(client, err));
    this.options.onListening?.();
  }

  private lost(client: pg.Client, err: Error) {
    if (this.client !== client) return; // already handled
    this.client = undefined;
    this.pid = undefined;
    clearInterval(this.keepalive);
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger?.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
    this.options.onDisconnect?.(err);
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    const delay = Math.min(5_000, 50 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.retry = setTimeout(() => {
      this.connect().catch((err: Error) => {
        if (this.closed) return;
        this.logger?.warn({ err: err.message }, 'LISTEN reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }

  async close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.keepalive);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}

/** A lock key as PostgreSQL's one int8 advisory-lock space: the first 8 bytes of its hash. */
export function advisoryKey(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

/**
 * Session-level advisory locks on one dedicated connection (outside the pool, so the
 * pool's idle timeout never ends it). PostgreSQL releases them when that connection's
 * backend ends: a killed process loses them at once. The session asks the server to
 * probe its peer's TCP connection too, so a lost machine's locks go within seconds
 * rather than the kernel's two hours. A lost connection forgets every lock at once; the
 * next `tryLock` connects again.
 */
class PgLockSession implements LockSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();
  private closed = false;
  private keepalive: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly logger: PostgresOptions['logger'],
  ) {}

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({
        ...this.config,
        application_name: `${this.config.application_name ?? 'strata'} leadership`,
      });
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client, new Error('leadership connection ended')));
      await client.connect();
      try {
        // The server notices a vanished client in about 5 + 3 × 1 s, then frees its locks.
        await client.query(
          'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 8000',
        );
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        throw new Error('the lock session is closed');
      }
      this.client = client;
      // And this side notices a dead server (its locks gone with it) within seconds.
      this.keepalive = keepAlive(
        client,
        'leadership',
        2_000,
        3_000,
        (err) => this.lost(client, err),
        () => this.serial(() => client.query('SELECT 1')),
      );
      return client;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private lost(client: pg.Client, err: Error) {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.keepalive);
    if (this.held.size && !this.closed)
      this.logger?.warn(
        { err: err.message, locks: [...this.held] },
        'leadership connection lost: its locks are gone',
      );
    this.held.clear();
    client.end().catch(() => undefined);
  }

  /** One statement at a time on the connection (pg's own queue is going away). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async tryLock(key: string): Promise<boolean> {
    if (this.closed) return false;
    if (this.held.has(key)) return true;
    const client = await this.connect();
    const r = await this.serial(() =>
      client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int8) AS ok', [
        advisoryKey(key),
      ]),
    );
    const ok = r.rows[0]?.ok === true && this.client === client;
    if (ok) this.held.add(key);
    return ok;
  }

  async unlock(key: string): Promise<void> {
    if (!this.held.delete(key)) return;
    const client = this.client;
    if (!client) return;
    await this.serial(() =>
      client.query('SELECT pg_advisory_unlock($1::int8)', [advisoryKey(key)]),
    ).catch((err: unknown) =>
      // Unlocked anyway if the connection is gone; else it must not outlive us holding it.
      this.lost(client, err as Error),
    );
  }

  holds(key: string): boolean {
    return this.held.has(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    clearInterval(this.keepalive);
    const c = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}
