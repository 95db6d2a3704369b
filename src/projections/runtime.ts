import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/types.js';
import {
  compareLogPositions,
  decodeCursor,
  encodeCursor,
  type LogPosition,
} from '../eventstore/cursor.js';
import type { EventStore } from '../eventstore/store.js';
import type { StoredEvent } from '../eventstore/types.js';
import { CHECKPOINT_CHANNEL, EVENTS_CHANNEL, type Notifier } from '../eventstore/notifier.js';
import type { Logger } from '../observability/logger.js';
import type { Projection } from './types.js';

export type ProjectionState = 'running' | 'rebuilding' | 'paused' | 'stopped' | 'retired';

export interface ProjectionStatus {
  name: string;
  generation: number;
  codeVersion: number;
  active: boolean;
  state: ProjectionState;
  /** `catching up` while far behind, else the stored state. */
  phase: 'running' | 'catching up' | 'rebuilding' | 'paused' | 'stopped on error' | 'retired';
  cursor: string | null;
  eventsProcessed: number;
  /** Exact up to {@link LAG_COUNT_LIMIT}; a larger lag reads as that limit. */
  eventsBehind: number;
  secondsBehind: number;
  error: { eventId: string; cursor: string; type: string; message: string } | null;
  leaseOwner: string | null;
}

export interface ProjectionRuntimeOptions {
  batchSize?: number;
  /** How long a runner's lease lasts without renewal; another process takes over after it. */
  leaseMs?: number;
  /** Safety-net poll when no wake-up arrives. */
  idleMs?: number;
  /** Identifies this process in leases. */
  owner?: string;
  onBatch?: (name: string, events: number, seconds: number) => void;
  onPoison?: (name: string, error: ProjectionStatus['error']) => void;
}

export class ReadTimeoutError extends Error {
  override name = 'ReadTimeoutError';
  constructor(
    readonly cursor: string,
    readonly waitedMs: number,
  ) {
    super(
      `The read models did not reach the requested cursor within ${waitedMs} ms; try again shortly`,
    );
  }
}

class LeaseLost extends Error {}

const TRANSIENT = /^(08|57P|40001|40P01|53|55P03)/;
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT.test(code);
}

/** eventsBehind is exact up to this many events, and this many beyond. */
export const LAG_COUNT_LIMIT = 100_000;

const physical = (table: string, generation: number) => `${table}_g${generation}`;
const SETUP_LOCK = 7_311_000_002;

interface Row {
  name: string;
  generation: number;
  code_version: number;
  active: boolean;
  state: ProjectionState;
  checkpoint_txid: string;
  checkpoint_position: number;
  events_processed: number;
  error: ProjectionStatus['error'];
  lease_owner: string | null;
}

/**
 * Runs the projections of this process: one runner per (projection, generation), each
 * holding a lease so that across processes only one runner applies a generation. A runner
 * reads the log in commit order from its checkpoint (the store's one `readAll`), applies a
 * batch and moves the checkpoint in the same transaction, compare-and-set on the old one.
 */
/**
 * A process manager (`effects` mode) has no read tables to rebuild: replaying the log
 * through it would only re-send every command it ever sent (replays, all of them).
 */
export class RebuildRefused extends Error {
  override name = 'RebuildRefused';
  constructor(readonly projection: string) {
    super(
      `${projection} is a process manager, not a read model: it has nothing to rebuild (its state is in its own streams)`,
    );
  }
}

export class ProjectionRuntime {
  private readonly byName = new Map<string, Projection>();
  private readonly runners = new Map<string, Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private stopped = false;
  private readonly owner: string;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private offEvents: (() => void) | undefined;
  /** When a commit was last announced; an empty read soon after it is re-tried quickly. */
  private announcedAt = 0;
  /**
   * Checkpoints this process has committed for the active generations it runs: lets a
   * read-your-writes wait answer from memory. Only ever behind the truth, never ahead.
   */
  private readonly localCheckpoints = new Map<string, LogPosition>();

  constructor(
    private readonly db: Db,
    private readonly store: EventStore,
    private readonly notifier: Notifier,
    projections: readonly Projection[],
    private readonly logger: Logger,
    private readonly options: ProjectionRuntimeOptions = {},
  ) {
    for (const p of projections) this.byName.set(p.name, p);
    this.owner = options.owner ?? `${process.pid}-${randomUUID().slice(0, 8)}`;
    this.batchSize = options.batchSize ?? 1000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.idleMs = options.idleMs ?? 2_000;
  }

  get projections(): Projection[] {
    return [...this.byName.values()];
  }

  /** Creates missing generations and tables, then starts a runner for each live generation. */
  private started = false;

  async start(): Promise<void> {
    this.started = true;
    this.offEvents = this.notifier.on(EVENTS_CHANNEL, (reason) => {
      if (reason === 'notify') this.announcedAt = Date.now();
      this.wakeAll();
    });
    for (const p of this.byName.values()) await this.ensureActiveGeneration(p);
    await this.spawnRunners();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offEvents?.();
    this.wakeAll();
    await Promise.allSettled(this.runners.values());
    // Let another process take over at once rather than after the lease expires.
    await this.db
      .query(
        `UPDATE projections SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`,
        [this.owner],
      )
      .catch(() => undefined);
  }

  private wakeAll() {
    for (const w of [...this.wakers]) w();
  }

  /** Waits for a wake-up or the timeout, whichever comes first. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async ensureActiveGeneration(p: Projection): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
      const rows = (
        await tx.query<Row>(
          `SELECT * FROM projections WHERE name = $1 AND state <> 'retired' ORDER BY generation`,
          [p.name],
        )
      ).rows;
      if (rows.length === 0) {
        await this.createGeneration(tx, p, 1, true);
        return;
      }
      const active = rows.find((r) => r.active);
      const building = rows.find((r) => r.state === 'rebuilding');
      if (active && active.code_version !== p.version && !building) {
        // New code: build the new shape beside the old one, which keeps serving meanwhile.
        const next = Math.max(...rows.map((r) => r.generation)) + 1;
        await this.createGeneration(tx, p, next, false);
        this.logger.info(
          { projection: p.name, generation: next },
          'projection code changed: rebuilding',
        );
      }
    });
  }

  private async createGeneration(
    tx: Queryable,
    p: Projection,
    generation: number,
    active: boolean,
  ) {
    const r = await tx.query<{ g: number }>(
      'SELECT coalesce(max(generation), 0) AS g FROM projections WHERE name = $1',
      [p.name],
    );
    const gen = Math.max(generation, (r.rows[0]?.g ?? 0) + 1);
    for (const t of p.tables) await tx.query(t.ddl(physical(t.name, gen)));
    await tx.query(
      `INSERT INTO projections (name, generation, code_version, active, state) VALUES ($1, $2, $3, $4, $5)`,
      [p.name, gen, p.version, active, active ? 'running' : 'rebuilding'],
    );
    if (active) await this.pointViews(tx, p, gen);
    return gen;
  }

  private async pointViews(tx: Queryable, p: Projection, generation: number) {
    for (const t of p.tables) {
      await tx.query(`DROP VIEW IF EXISTS ${t.name}`);
      await tx.query(`CREATE VIEW ${t.name} AS SELECT * FROM ${physical(t.name, generation)}`);
    }
  }

  private async spawnRunners() {
    const rows = (
      await this.db.query<Row>(
        `SELECT * FROM projections WHERE state IN ('running', 'rebuilding', 'paused', 'stopped')`,
      )
    ).rows;
    for (const row of rows) this.spawn(row.name, row.generation);
  }

  private spawn(name: string, generation: number) {
    const key = `${name}#${generation}`;
    if (this.runners.has(key) || !this.byName.has(name)) return;
    const run = this.run(this.byName.get(name)!, generation).finally(() => {
      this.runners.delete(key);
      // A generation ends when a rebuild (maybe in another process) replaced it: pick up
      // whatever generation is live now.
      if (!this.stopped) {
        this.spawnRunners().catch((err: unknown) =>
          this.logger.warn({ err }, 'could not start projection runners'),
        );
      }
    });
    this.runners.set(key, run);
  }

  /** One runner: lease → read → apply + checkpoint → repeat, until stopped or retired. */
  private async run(p: Projection, generation: number): Promise<void> {
    let slowMode = false; // after a failed batch: one event at a time, to find the poison one
    let backoff = 100;
    // The lease as this runner last knew it: renewed only when half used up, since every
    // committed batch extends it anyway (one write less per batch).
    let held: { checkpoint: LogPosition; state: ProjectionState; until: number } | undefined;
    let recheck = 5; // ms; see SubscriptionHub.recheck for why an empty read is retried
    while (!this.stopped) {
      try {
        if (!held || Date.now() > held.until - this.leaseMs / 2) {
          const lease = await this.lease(p.name, generation);
          if (lease === 'retired') return;
          if (!lease) {
            held = undefined;
            await this.sleep(Math.min(this.leaseMs / 2, 5_000));
            continue;
          }
          held = { ...lease, until: Date.now() + this.leaseMs };
        }
        const events = await this.store.readAll({
          after: encodeCursor(held.checkpoint),
          limit: slowMode ? 1 : this.batchSize,
        });
        if (events.length === 0) {
          if (held.state === 'rebuilding' && (await this.trySwitch(p, generation))) {
            held.state = 'running';
          }
          if (Date.now() - this.announcedAt < 1_000 && recheck <= 320) {
            await this.sleep(recheck);
            recheck *= 2;
          } else {
            await this.sleep(this.idleMs);
          }
          continue;
        }
        recheck = 5;
        const started = performance.now();
        try {
          await this.applyBatch(p, generation, held.checkpoint, events);
        } catch (err) {
          if (err instanceof LeaseLost || isTransient(err)) {
            held = undefined;
            this.localCheckpoints.delete(p.name);
            throw err;
          }
          if (!slowMode && events.length > 1) {
            slowMode = true;
            continue;
          }
          await this.poison(p, generation, events[0]!, err);
          held = undefined; // stopped: wait (re-leasing fails) until resumed
          continue;
        }
        const last = events[events.length - 1]!;
        held.checkpoint = {
          transactionId: last.transactionId,
          globalPosition: last.globalPosition,
        };
        held.until = Date.now() + this.leaseMs;
        if (held.state === 'running') this.localCheckpoints.set(p.name, held.checkpoint);
        slowMode = false;
        backoff = 100;
        this.options.onBatch?.(p.name, events.length, (performance.now() - started) / 1000);
        this.notifier.announce(CHECKPOINT_CHANNEL);
      } catch (err) {
        if (this.stopped) return;
        if (!(err instanceof LeaseLost))
          this.logger.warn({ err, projection: p.name }, 'projection batch failed; retrying');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /** Takes or renews the lease; null when another process holds it or the generation is idle. */
  private async lease(name: string, generation: number) {
    const r = await this.db.query<Pick<Row, 'checkpoint_txid' | 'checkpoint_position' | 'state'>>(
      `UPDATE projections SET lease_owner = $3, lease_until = now() + ($4 || ' milliseconds')::interval
       WHERE name = $1 AND generation = $2 AND state IN ('running', 'rebuilding')
         AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until < now())
       RETURNING checkpoint_txid::text AS checkpoint_txid, checkpoint_position, state`,
      [name, generation, this.owner, String(this.leaseMs)],
    );
    const row = r.rows[0];
    if (!row) {
      const s = await this.db.query<{ state: string }>(
        'SELECT state FROM projections WHERE name = $1 AND generation = $2',
        [name, generation],
      );
      return s.rows[0] === undefined || s.rows[0].state === 'retired' ? ('retired' as const) : null;
    }
    return {
      state: row.state,
      checkpoint: {
        transactionId: row.checkpoint_txid,
        globalPosition: row.checkpoint_position,
      } satisfies LogPosition,
    };
  }

  private async applyBatch(
    p: Projection,
    generation: number,
    from: LogPosition,
    events: StoredEvent[],
  ) {
    const last = events[events.length - 1]!;
    const handled = new Set(p.eventTypes);
    const relevant = events.filter((e) => handled.has(e.type));
    const table = (t: string) => physical(t, generation);
    const moveCheckpoint = async (q: Queryable) => {
      const moved = await q.query(
        `UPDATE projections
         SET checkpoint_txid = $3::xid8, checkpoint_position = $4, events_processed = events_processed + $5,
             updated_at = now(), lease_until = now() + ($7 || ' milliseconds')::interval
         WHERE name = $1 AND generation = $2 AND lease_owner = $6
           AND checkpoint_txid = $8::xid8 AND checkpoint_position = $9 AND state IN ('running', 'rebuilding')`,
        [
          p.name,
          generation,
          last.transactionId,
          last.globalPosition,
          events.length,
          this.owner,
          String(this.leaseMs),
          from.transactionId,
          from.globalPosition,
        ],
      );
      if (moved.rowCount !== 1) throw new LeaseLost(`lost the lease of ${p.name}#${generation}`);
    };
    if (p.mode === 'effects') {
      // A process manager sends commands, which cannot run inside a transaction of ours
      // (PGlite is one session). At least once: a crash between the two re-delivers the
      // batch, whose effects are idempotent by their derived command ids.
      if (relevant.length) await p.apply(this.db, relevant, table);
      await moveCheckpoint(this.db);
      return;
    }
    await this.db.transaction(async (tx) => {
      // Read tables are derived data: a crash may lose the last batches, but never one
      // without its checkpoint (same transaction), so they are simply applied again. Not
      // waiting for the WAL flush keeps projections off the append path's disk.
      await tx.query('SET LOCAL synchronous_commit = off');
      if (relevant.length) await p.apply(tx, relevant, table);
      await moveCheckpoint(tx);
    });
  }

  private async poison(p: Projection, generation: number, event: StoredEvent, err: unknown) {
    const error = {
      eventId: event.eventId,
      cursor: event.cursor,
      type: event.type,
      message: (err as Error)?.message ?? String(err),
    };
    this.logger.error(
      { projection: p.name, generation, ...error },
      'projection stopped on a poison event',
    );
    await this.db.query(
      // A generation retired meanwhile (its tables dropped under a running batch) is not
      // poisoned: its runner just ends.
      `UPDATE projections SET state = 'stopped', error = $3::jsonb, updated_at = now()
       WHERE name = $1 AND generation = $2 AND state IN ('running', 'rebuilding')`,
      [p.name, generation, JSON.stringify(error)],
    );
    this.options.onPoison?.(p.name, error);
  }

  /** A rebuilt generation that has caught up becomes the active one, all views at once. */
  /** True once this generation is the active one (switched now, or already). */
  private async trySwitch(p: Projection, generation: number): Promise<boolean> {
    const switched = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
      // Lock both rows: the serving generation cannot commit another batch meanwhile.
      const rows = (
        await tx.query<{ generation: number; state: string; active: boolean; ahead: boolean }>(
          `SELECT generation, state, active,
                  (checkpoint_txid, checkpoint_position) >
                    (SELECT checkpoint_txid, checkpoint_position FROM projections
                     WHERE name = $1 AND generation = $2) AS ahead
           FROM projections WHERE name = $1 AND (generation = $2 OR active) FOR UPDATE`,
          [p.name, generation],
        )
      ).rows;
      const mine = rows.find((r) => r.generation === generation);
      if (mine?.state !== 'rebuilding') return mine?.active === true;
      // Switch only when caught up with the serving generation too: no reader that saw an
      // event through the old one (or its runner's memory) may miss it in the new one.
      if (rows.some((r) => r.active && r.ahead)) return false;
      await tx.query(
        `UPDATE projections SET active = false, state = 'retired', lease_owner = NULL WHERE name = $1 AND active`,
        [p.name],
      );
      await tx.query(
        `UPDATE projections SET active = true, state = 'running' WHERE name = $1 AND generation = $2`,
        [p.name, generation],
      );
      await this.pointViews(tx, p, generation);
      return true;
    });
    if (!switched) return false;
    this.logger.info({ projection: p.name, generation }, 'rebuilt projection is now active');
    await this.dropRetiredTables(p);
    return true;
  }

  private async dropRetiredTables(p: Projection) {
    const rows = (
      await this.db.query<{ generation: number }>(
        `SELECT generation FROM projections WHERE name = $1 AND state = 'retired'`,
        [p.name],
      )
    ).rows;
    for (const { generation } of rows) {
      for (const t of p.tables)
        await this.db.query(`DROP TABLE IF EXISTS ${physical(t.name, generation)}`);
      // Its runner, wherever it is, finds no row and ends (lease() treats that as retired).
      await this.db.query(`DELETE FROM projections WHERE name = $1 AND generation = $2`, [
        p.name,
        generation,
      ]);
    }
  }

  /**
   * Starts building a new generation from the start of the log while the current one
   * keeps serving; it becomes active once caught up. The runner runs in this process when
   * the runtime is started, or when `run` is set (the CLI), else in whichever server
   * process picks it up.
   */
  async rebuild(name: string, options: { run?: boolean } = {}): Promise<number> {
    const p = this.byName.get(name);
    if (!p) throw new Error(`Unknown projection ${name}`);
    if (p.mode === 'effects') throw new RebuildRefused(name);
    const generation = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
      await tx.query(
        `UPDATE projections SET state = 'retired' WHERE name = $1 AND state = 'rebuilding'`,
        [name],
      );
      return this.createGeneration(tx, p, 1, false);
    });
    if (this.started || options.run) this.spawn(name, generation);
    return generation;
  }

  async pause(name: string): Promise<void> {
    await this.db.query(
      `UPDATE projections SET state = 'paused', updated_at = now() WHERE name = $1 AND state IN ('running', 'rebuilding') AND active`,
      [name],
    );
  }

  /** Resumes a paused projection, or one stopped on a poison event (after the fix). */
  async resume(name: string): Promise<void> {
    await this.db.query(
      `UPDATE projections SET state = 'running', error = NULL, updated_at = now() WHERE name = $1 AND state IN ('paused', 'stopped') AND active`,
      [name],
    );
    const rows = (
      await this.db.query<Row>(`SELECT * FROM projections WHERE name = $1 AND active`, [name])
    ).rows;
    if (this.started) for (const r of rows) this.spawn(r.name, r.generation);
    this.wakeAll();
  }

  async status(): Promise<ProjectionStatus[]> {
    const rows = (
      await this.db.query<Row>(
        `SELECT * FROM projections WHERE state <> 'retired' ORDER BY name, generation`,
      )
    ).rows;
    return Promise.all(
      rows.map(async (r) => {
        const lag = await this.db.query<{ behind: number; oldest: Date | null }>(
          // Counted up to a cap: /health and metrics call this, and a rebuild starts a
          // whole log behind.
          `SELECT count(*)::int8 AS behind, min(recorded_at) AS oldest FROM (
             SELECT recorded_at FROM events
             WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
               AND transaction_id < (SELECT strata_read_horizon())
             ORDER BY transaction_id, global_position
             LIMIT $3) AS behind`,
          [r.checkpoint_txid, r.checkpoint_position, LAG_COUNT_LIMIT],
        );
        const behind = lag.rows[0]?.behind ?? 0;
        const oldest = lag.rows[0]?.oldest;
        const secondsBehind = oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
        const phase: ProjectionStatus['phase'] =
          r.state === 'stopped'
            ? 'stopped on error'
            : r.state === 'running' && behind > this.batchSize
              ? 'catching up'
              : r.state;
        return {
          name: r.name,
          generation: r.generation,
          codeVersion: r.code_version,
          active: r.active,
          state: r.state,
          phase,
          cursor: r.checkpoint_position
            ? encodeCursor({
                transactionId: r.checkpoint_txid,
                globalPosition: r.checkpoint_position,
              })
            : null,
          eventsProcessed: r.events_processed,
          eventsBehind: behind,
          secondsBehind,
          error: r.error,
          leaseOwner: r.lease_owner,
        };
      }),
    );
  }

  /**
   * Read-your-writes: resolves once every named projection's active generation has
   * applied the log up to `cursor`; throws ReadTimeoutError after `timeoutMs`.
   */
  async waitFor(
    cursor: string,
    names: readonly string[] = [...this.byName.keys()],
    timeoutMs = 5_000,
  ): Promise<void> {
    const target = decodeCursor(cursor);
    const deadline = Date.now() + timeoutMs;
    // Listen before checking, so a checkpoint that moves in between still wakes us.
    let woken = false;
    let wake: (() => void) | undefined;
    const off = this.notifier.on(CHECKPOINT_CHANNEL, () => {
      woken = true;
      wake?.();
    });
    let lastDbCheck = 0;
    const inMemory = () =>
      names.every((n) => {
        const c = this.localCheckpoints.get(n);
        return c !== undefined && compareLogPositions(c, target) >= 0;
      });
    try {
      for (;;) {
        woken = false;
        if (inMemory()) return;
        // The database knows the checkpoints of projections run by other processes (and
        // ours, if memory lags after a lost lease): ask it now and then, not per wake-up.
        if (Date.now() - lastDbCheck >= 100) {
          lastDbCheck = Date.now();
          const r = await this.db.query<{ checkpoint_txid: string; checkpoint_position: number }>(
            `SELECT checkpoint_txid::text AS checkpoint_txid, checkpoint_position FROM projections WHERE active AND name = ANY($1::text[])`,
            [names],
          );
          const reached =
            r.rows.length === names.length &&
            r.rows.every(
              (row) =>
                compareLogPositions(
                  { transactionId: row.checkpoint_txid, globalPosition: row.checkpoint_position },
                  target,
                ) >= 0,
            );
          if (reached) return;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new ReadTimeoutError(cursor, timeoutMs);
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      off();
    }
  }
}
