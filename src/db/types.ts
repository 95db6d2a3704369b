/**
 * The database layer: one small interface with two engines behind it (PostgreSQL through a
 * `pg` Pool, or the embedded PGlite). Everything above this folder speaks only this
 * interface, so both engines run the same SQL and the same tests.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** How a statement is sent; engines may ignore what they cannot do. */
export interface QueryOptions {
  /**
   * Prepare the statement once per connection under this name and only bind it afterwards
   * (PostgreSQL: skips parsing and planning on every call). One name, one constant text.
   * PGlite ignores it.
   */
  name?: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
}

/** A notification listener that survives lost connections. */
export interface ListenOptions {
  /**
   * Called each time LISTEN is (re-)established, before any notification of that
   * connection is delivered. Notifications sent while disconnected are lost, so a caller
   * uses this to catch up from its own cursor.
   */
  onListening?: () => void;
  /** Called when the connection is lost; it will be re-established with backoff. */
  onDisconnect?: (err: Error) => void;
}

export interface Listener {
  /** Stops listening and releases the connection. */
  close(): Promise<void>;
  /** Backend process id of the LISTEN session (PostgreSQL only; for tests and metrics). */
  backendPid(): number | undefined;
}

export type Engine = 'postgres' | 'pglite';

export interface TransactionOptions {
  /**
   * Commit without waiting for the WAL flush (`synchronous_commit = off` for this
   * transaction): for derived data that is rebuilt from the log if a crash loses it.
   * PostgreSQL sends it with BEGIN, in the same round trip.
   */
  asyncCommit?: boolean;
}

export interface Db extends Queryable {
  readonly engine: Engine;
  /** Runs `fn` in one transaction on one session: commit on return, rollback on throw. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Runs `fn` holding one session outside any transaction (e.g. for session-level
   * advisory locks). `exec` runs a multi-statement script.
   */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /** LISTEN on the channels, on one connection; `onNotify` receives channel and payload. */
  listen(
    channels: readonly string[],
    onNotify: (channel: string, payload: string) => void,
    options?: ListenOptions,
  ): Promise<Listener>;
  /**
   * A session of its own for leadership locks (session-level advisory locks): PostgreSQL
   * frees them the moment that session's connection drops, so a process that dies loses
   * its locks at once. See docs/adr/0019-leadership-by-advisory-locks.md.
   */
  lockSession(): Promise<LockSession>;
  close(): Promise<void>;
}

/**
 * Named exclusive locks held by one database session. On PostgreSQL, one dedicated
 * connection: when it is lost, every lock is gone (and `holds` says so at once).
 */
export interface LockSession {
  /** Takes the lock `key` if no other session holds it; true when this session holds it. */
  tryLock(key: string): Promise<boolean>;
  /** Gives the lock up (nothing when not held). */
  unlock(key: string): Promise<void>;
  /** Whether this session holds `key` as far as it knows: false once the connection is lost. */
  holds(key: string): boolean;
  /** Gives every lock up and ends the session. */
  close(): Promise<void>;
}

export interface Session extends Queryable {
  exec(sql: string): Promise<void>;
}

/**
 * int8 arrives as a string from `pg` and as a number from PGlite; both engines parse it
 * with this one function so callers see the same type. Every int8 Strata stores (global
 * positions, counts) stays far below 2^53; a larger one is a bug worth failing loudly on.
 */
export function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

export const INT8_OID = 20;
