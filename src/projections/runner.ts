import { randomUUID } from 'node:crypto';
import type { Db, LockSession, Queryable } from '../db/types.js';
import { encodeCursor, type LogPosition } from '../eventstore/cursor.js';
import { MAX_READ_LIMIT, type EventStore } from '../eventstore/store.js';
import type { StoredEvent } from '../eventstore/types.js';
import {
  CHECKPOINT_CHANNEL,
  EVENTS_CHANNEL,
  LEADERSHIP_CHANNEL,
  type Notifier,
} from '../eventstore/notifier.js';
import { SharedReads } from '../eventstore/shared-reads.js';
import type { Logger } from '../observability/logger.js';
import type { ReadYourWrites } from './consistency.js';
import { physical, trySwitch } from './generations.js';
import type { Projection, ProjectionError, ProjectionRow, ProjectionState } from './types.js';

export interface ProjectionRuntimeOptions {
  /** Events per batch of a serving generation (each batch is one transaction). */
  batchSize?: number;
  /**
   * Events per batch of a generation being rebuilt (default: as many as one read of the
   * log may return). Nobody reads its tables yet, so larger transactions cost no one
   * freshness, and more of an order's events fall in one batch: fewer writes of its row.
   */
  rebuildBatchSize?: number;
  /**
   * Whether this process is answering requests now. A rebuild then gives way to them: it
   * applies small batches ({@link YIELD_BATCH}), each followed by a pause, so that it takes
   * about {@link YIELD_SHARE} of the time it would alone.
   */
  serving?: () => boolean;
  /** Reads of the log shared with the other readers of the process (default: the runners' own). */
  sharedReads?: SharedReads;
  /**
   * How often a runner that another process leads tries to take over (default 200 ms):
   * the bound on a takeover after that process dies. A graceful stop hands over at once.
   */
  followMs?: number;
  /** Safety-net poll when no wake-up arrives. */
  idleMs?: number;
  /** Identifies this process as the leader (`lease_owner`) of the generations it runs. */
  owner?: string;
  onBatch?: (name: string, events: number, seconds: number) => void;
  onPoison?: (name: string, error: ProjectionError | null) => void;
}

/** The generation's `lease_owner` fence turned this runner's batch away (see `lead`). */
class LeaseLost extends Error {}

/**
 * A rebuild that gives way to requests (`serving`): events per batch (a few milliseconds
 * of the server's thread each), and the share of time it runs, pausing for the rest.
 */
export const YIELD_BATCH = 250;
export const YIELD_SHARE = 0.15;

const TRANSIENT = /^(08|57P|40001|40P01|53|55P03)/;
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT.test(code);
}

/**
 * Runs the projections of this process: one runner per (projection, generation). Across
 * processes only one runner leads a generation: the one whose process holds its advisory
 * lock (`lockSession`, ADR 19), which a dead process loses the moment its connection
 * drops. A runner reads the log in commit order from its checkpoint (the store's one
 * `readAll`), applies a batch and moves the checkpoint in the same transaction,
 * compare-and-set on the old checkpoint and on `lease_owner`: the fence that turns away a
 * runner that lost its lock without knowing it yet.
 */
/** A runner's batch waiting to be applied with others (see `Runners.applyTogether`). */
interface GroupMember {
  p: Projection;
  generation: number;
  from: LogPosition;
  events: StoredEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A batch applied together with others failed; the runner applies alone next time. */
class GroupFailed extends Error {
  constructor(cause: unknown) {
    super('a batch applied together with other projections failed', { cause });
  }
}

export class Runners {
  private readonly runners = new Map<string, Promise<void>>();
  private readonly wakers = new Set<() => void>();
  /** Pauses that end at once when the runners stop. */
  private readonly stopWaiters = new Set<() => void>();
  private stopped = false;
  private readonly owner: string;
  readonly batchSize: number;
  private readonly rebuildBatchSize: number;
  private readonly followMs: number;
  private readonly idleMs: number;
  private offEvents: (() => void) | undefined;
  private offLeadership: (() => void) | undefined;
  /** Waits of runners led elsewhere: they end when a leader hands over. */
  private readonly followers = new Set<() => void>();
  /** This process's leadership locks, one per generation it leads (opened when first needed). */
  private locks: LockSession | undefined;
  private opening: Promise<LockSession> | undefined;
  /** When a commit was last announced; an empty read soon after it is re-tried quickly. */
  private announcedAt = 0;
  /** Batches waiting for the end of this turn to be applied together (see `applyTogether`). */
  private readonly groups = new Map<string, GroupMember[]>();
  /** Reads of the log shared with the other readers of this process. */
  private readonly reads: SharedReads;

  constructor(
    private readonly db: Db,
    private readonly store: EventStore,
    private readonly notifier: Notifier,
    private readonly byName: ReadonlyMap<string, Projection>,
    private readonly logger: Logger,
    private readonly checkpoints: ReadYourWrites,
    private readonly options: ProjectionRuntimeOptions = {},
  ) {
    this.owner = options.owner ?? `${process.pid}-${randomUUID().slice(0, 8)}`;
    this.batchSize = options.batchSize ?? 1000;
    this.rebuildBatchSize = Math.min(options.rebuildBatchSize ?? MAX_READ_LIMIT, MAX_READ_LIMIT);
    this.followMs = options.followMs ?? 200;
    this.idleMs = options.idleMs ?? 2_000;
    this.reads = options.sharedReads ?? new SharedReads(store);
  }

  /** Wakes the runners whenever a commit is announced, or a leader hands over. */
  listen(): void {
    this.offEvents = this.notifier.on(EVENTS_CHANNEL, (reason) => {
      if (reason === 'notify') this.announcedAt = Date.now();
      this.wakeAll();
    });
    this.offLeadership = this.notifier.on(LEADERSHIP_CHANNEL, () => {
      for (const w of [...this.followers]) w();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offEvents?.();
    this.offLeadership?.();
    this.wakeAll();
    for (const w of [...this.stopWaiters]) w();
    await Promise.allSettled(this.runners.values());
    // Hand over at once: the locks go with the session, and the others hear of it.
    await this.db
      .query(`UPDATE projections SET lease_owner = NULL WHERE lease_owner = $1`, [this.owner])
      .catch(() => undefined);
    const locks = this.locks ?? (await this.opening?.catch(() => undefined));
    this.locks = undefined;
    await locks?.close();
    await this.db
      .query('SELECT pg_notify($1, $2)', [LEADERSHIP_CHANNEL, ''])
      .catch(() => undefined);
  }

  wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Waits `ms` (a new event does not end it; stopping does). */
  private pause(ms: number): Promise<void> {
    return this.wait(ms, this.stopWaiters);
  }

  /** Waits `ms`, or until a leader hands over. */
  private follow(ms: number): Promise<void> {
    return this.wait(ms, this.followers);
  }

  /** Waits for a wake-up or the timeout, whichever comes first. */
  private sleep(ms: number): Promise<void> {
    return this.wait(ms, this.wakers);
  }

  /** Waits `ms`, or until one of `enders` is called (at once when stopped). */
  private wait(ms: number, enders: Set<() => void>): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        enders.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      enders.add(done);
    });
  }

  /** Starts a runner for each live generation that has none in this process yet. */
  async spawnRunners(): Promise<void> {
    const rows = (
      await this.db.query<ProjectionRow>(
        `SELECT * FROM projections WHERE state IN ('running', 'rebuilding', 'paused', 'stopped')`,
      )
    ).rows;
    for (const row of rows) this.spawn(row.name, row.generation);
  }

  spawn(name: string, generation: number): void {
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

  /** One runner: lead → read → apply + checkpoint → repeat, until stopped or retired. */
  private async run(p: Projection, generation: number): Promise<void> {
    let slowMode = false; // after a failed batch: one event at a time, to find the poison one
    let solo = false; // after a failed group: alone, so that a failure is this projection's own
    let backoff = 100;
    const key = leadershipKey(p.name, generation);
    // The generation as this runner last knew it while leading it.
    let held: { checkpoint: LogPosition; state: ProjectionState } | undefined;
    let recheck = 5; // ms; see SubscriptionHub.recheck for why an empty read is retried
    // The next batch, read while this one is applied when the log has more (catching up,
    // rebuilding): on PostgreSQL reading and writing then overlap, on two connections (on
    // PGlite, one session, the read just waits its turn). Any read of the log is a correct
    // one (commit order below the horizon), however early it was made.
    let ahead: { after: string; limit: number; events: Promise<StoredEvent[]> } | undefined;
    while (!this.stopped) {
      try {
        if (held && !this.locks?.holds(key)) {
          // The leadership connection was lost, and the lock with it: another process may
          // lead now. Whatever this runner still has in flight, the fence turns away.
          held = undefined;
          ahead = undefined;
          this.checkpoints.forget(p.name);
        }
        if (!held) {
          const led = await this.lead(p.name, generation, key);
          if (led === 'retired') return;
          if (led === 'led elsewhere') {
            await this.follow(this.followMs);
            continue;
          }
          if (led === 'idle') {
            await this.sleep(this.idleMs); // `resume` wakes it
            continue;
          }
          held = led;
        }
        const yielding = held.state === 'rebuilding' && this.options.serving?.() === true;
        if (held.state === 'rebuilding' && p.build && !yielding && !slowMode && !solo) {
          try {
            held.checkpoint = await this.buildRun(p, p.build, generation, held.checkpoint);
          } catch (err) {
            held = undefined;
            throw err;
          }
          if (this.stopped) continue;
        }
        const after = encodeCursor(held.checkpoint);
        const limit = slowMode
          ? 1
          : yielding
            ? Math.min(YIELD_BATCH, this.batchSize)
            : held.state === 'rebuilding'
              ? this.rebuildBatchSize
              : this.batchSize;
        const read =
          ahead?.after === after && ahead.limit === limit
            ? ahead.events
            : this.reads.read(after, limit);
        ahead = undefined;
        const events = await read;
        if (events.length === limit && !slowMode) {
          const last = events[events.length - 1]!;
          const next = encodeCursor(last);
          ahead = { after: next, limit, events: this.reads.read(next, limit) };
          // Awaited, or dropped, by the next turn; a failure then is that turn's to handle.
          ahead.events.catch(() => undefined);
        }
        if (events.length === 0) {
          if (
            held.state === 'rebuilding' &&
            (await trySwitch(this.db, this.logger, p, generation))
          ) {
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
          if (slowMode || solo || p.mode === 'effects') {
            await this.applyBatch(p, generation, held.checkpoint, events);
          } else {
            await this.applyTogether(p, generation, held.checkpoint, events);
          }
        } catch (err) {
          if (err instanceof GroupFailed) {
            solo = true;
            continue;
          }
          if (err instanceof LeaseLost || isTransient(err)) {
            held = undefined;
            this.checkpoints.forget(p.name);
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
        if (held.state === 'running') this.checkpoints.committed(p.name, held.checkpoint);
        slowMode = false;
        solo = false;
        backoff = 100;
        const took = performance.now() - started;
        this.options.onBatch?.(p.name, events.length, took / 1000);
        this.notifier.announce(CHECKPOINT_CHANNEL);
        if (yielding) await this.pause(took * (1 / YIELD_SHARE - 1));
      } catch (err) {
        if (this.stopped) return;
        if (!(err instanceof LeaseLost))
          this.logger.warn({ err, projection: p.name }, 'projection batch failed; retrying');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /**
   * Takes the lead of `name#generation` if no other process has it: its advisory lock,
   * then `lease_owner`, unconditionally, since whoever was there before has lost the lock
   * (it died, or its connection did). Writing the owner is the fence: a batch of the old
   * leader still in flight then fails its compare-and-set, while one that committed first
   * is in the checkpoint read back here (the row lock orders the two). 'led elsewhere'
   * when another process has it, 'idle' when it is paused or stopped, 'retired' when gone.
   */
  private async lead(name: string, generation: number, key: string) {
    this.opening ??= this.db.lockSession().catch((err: unknown) => {
      this.opening = undefined; // the next attempt opens it again
      throw err;
    });
    const locks = (this.locks ??= await this.opening);
    const retiredOr = async <T>(otherwise: T) => {
      const s = await this.db.query<{ state: string }>(
        'SELECT state FROM projections WHERE name = $1 AND generation = $2',
        [name, generation],
      );
      return s.rows[0] === undefined || s.rows[0].state === 'retired'
        ? ('retired' as const)
        : otherwise;
    };
    if (!(await locks.tryLock(key))) return retiredOr('led elsewhere' as const);
    const r = await this.db.query<
      Pick<ProjectionRow, 'checkpoint_txid' | 'checkpoint_position' | 'state'>
    >(
      `UPDATE projections SET lease_owner = $3, lease_until = NULL
       WHERE name = $1 AND generation = $2 AND state IN ('running', 'rebuilding')
       RETURNING checkpoint_txid::text AS checkpoint_txid, checkpoint_position, state`,
      [name, generation, this.owner],
    );
    const row = r.rows[0];
    if (!row) {
      // Paused, stopped or gone: nothing to lead; another process may look in turn.
      await locks.unlock(key);
      return retiredOr('idle' as const);
    }
    return {
      state: row.state,
      checkpoint: {
        transactionId: row.checkpoint_txid,
        globalPosition: row.checkpoint_position,
      } satisfies LogPosition,
    };
  }

  /**
   * Applies a batch together with the batches of the other runners of this process that
   * reached the same events in the same turn of the event loop (they share the read, so
   * they mostly do): one transaction and one checkpoint statement for all of them instead
   * of one each. Each projection's read tables and its checkpoint still commit together.
   * If the group fails, every member is told `GroupFailed` and applies alone next time, so
   * that a poison event is blamed on its own projection only.
   */
  private applyTogether(
    p: Projection,
    generation: number,
    from: LogPosition,
    events: StoredEvent[],
  ): Promise<void> {
    const last = events[events.length - 1]!;
    const key = `${from.transactionId}:${from.globalPosition}>${last.transactionId}:${last.globalPosition}:${events.length}`;
    return new Promise<void>((resolve, reject) => {
      const member: GroupMember = { p, generation, from, events, resolve, reject };
      const waiting = this.groups.get(key);
      if (waiting) {
        waiting.push(member);
        return;
      }
      this.groups.set(key, [member]);
      setImmediate(() => {
        const members = this.groups.get(key)!;
        this.groups.delete(key);
        void this.applyGroup(members);
      });
    });
  }

  private async applyGroup(members: GroupMember[]): Promise<void> {
    if (members.length === 1) {
      const m = members[0]!;
      await this.applyBatch(m.p, m.generation, m.from, m.events).then(m.resolve, m.reject);
      return;
    }
    const { from, events } = members[0]!;
    const last = events[events.length - 1]!;
    try {
      await this.db.transaction(
        async (tx) => {
          for (const m of members) {
            const handled = new Set(m.p.eventTypes);
            const relevant = m.events.filter((e) => handled.has(e.type));
            if (relevant.length) {
              await m.p.apply(tx, relevant, (t) => physical(t, m.generation));
            }
          }
          const moved = await tx.query(
            `UPDATE projections AS p
             SET checkpoint_txid = $1::xid8, checkpoint_position = $2,
                 events_processed = p.events_processed + $3, updated_at = now()
             FROM unnest($5::text[], $6::integer[]) AS m(name, generation)
             WHERE p.name = m.name AND p.generation = m.generation AND p.lease_owner = $4
               AND p.checkpoint_txid = $7::xid8 AND p.checkpoint_position = $8
               AND p.state IN ('running', 'rebuilding')`,
            [
              last.transactionId,
              last.globalPosition,
              events.length,
              this.owner,
              members.map((m) => m.p.name),
              members.map((m) => m.generation),
              from.transactionId,
              from.globalPosition,
            ],
          );
          if (moved.rowCount !== members.length) {
            throw new LeaseLost(
              `lost the lead of one of ${members.map((m) => `${m.p.name}#${m.generation}`).join(', ')}`,
            );
          }
        },
        { asyncCommit: true },
      );
    } catch (err) {
      // Lost leases and transient errors are every member's: each re-leases or backs off.
      const told = err instanceof LeaseLost || isTransient(err) ? err : new GroupFailed(err);
      for (const m of members) m.reject(told);
      return;
    }
    for (const m of members) m.resolve();
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
    const moveCheckpoint = (q: Queryable) =>
      this.moveCheckpoint(q, p, generation, from, last, events.length);
    if (p.mode === 'effects') {
      // A process manager sends commands, which cannot run inside a transaction of ours
      // (PGlite is one session). At least once: a crash between the two re-delivers the
      // batch, whose effects are idempotent by their derived command ids.
      if (relevant.length) await p.apply(this.db, relevant, table);
      await moveCheckpoint(this.db);
      return;
    }
    // Read tables are derived data: a crash may lose the last batches, but never one
    // without its checkpoint (same transaction), so they are simply applied again. Not
    // waiting for the WAL flush keeps projections off the append path's disk.
    await this.db.transaction(
      async (tx) => {
        if (relevant.length) await p.apply(tx, relevant, table);
        await moveCheckpoint(tx);
      },
      { asyncCommit: true },
    );
  }

  /**
   * Moves the checkpoint of `p#generation` from `from` to `to` (`events` read):
   * compare-and-set on the old checkpoint and on `lease_owner`, so that a runner that lost
   * the lead cannot commit a batch.
   */
  private async moveCheckpoint(
    q: Queryable,
    p: Projection,
    generation: number,
    from: LogPosition,
    to: LogPosition,
    events: number,
  ): Promise<void> {
    const moved = await q.query(
      `UPDATE projections
       SET checkpoint_txid = $3::xid8, checkpoint_position = $4, events_processed = events_processed + $5,
           updated_at = now()
       WHERE name = $1 AND generation = $2 AND lease_owner = $6
         AND checkpoint_txid = $7::xid8 AND checkpoint_position = $8 AND state IN ('running', 'rebuilding')`,
      [
        p.name,
        generation,
        to.transactionId,
        to.globalPosition,
        events,
        this.owner,
        from.transactionId,
        from.globalPosition,
      ],
    );
    if (moved.rowCount !== 1) throw new LeaseLost(`lost the lead of ${p.name}#${generation}`);
  }

  /**
   * Builds a generation with the projection's `build` (ADR 13): the next batch is folded
   * while the last one is written, each batch in its own transaction with its checkpoint,
   * one after the other. Returns the checkpoint reached. Ends, once the batch being
   * written has committed, when the log is nearly caught up (a short read: the ordinary
   * path takes the rest and the switch), when requests come in, or when a batch fails:
   * the ordinary path then applies from the committed checkpoint, batch by batch, and
   * finds a poison event as it always does. Lost leases and transient errors are thrown.
   */
  private async buildRun(
    p: Projection,
    build: NonNullable<Projection['build']>,
    generation: number,
    from: LogPosition,
  ): Promise<LogPosition> {
    const run = build();
    const table = (t: string) => physical(t, generation);
    const handled = new Set(p.eventTypes);
    const size = this.rebuildBatchSize;
    let committed = from;
    let at = from;
    let writing: Promise<void> | undefined;
    let next = this.reads.read(encodeCursor(at), size);
    try {
      while (!this.stopped && this.options.serving?.() !== true) {
        const events = await next;
        if (events.length < size) break;
        const last = events[events.length - 1]!;
        const end: LogPosition = {
          transactionId: last.transactionId,
          globalPosition: last.globalPosition,
        };
        next = this.reads.read(encodeCursor(end), size);
        next.catch(() => undefined); // awaited next turn, or dropped
        const started = performance.now();
        const write = await run.fold(
          this.db,
          events.filter((e) => handled.has(e.type)),
          table,
        );
        await writing; // the batch before has committed (or this throws)
        const prev = at;
        at = end;
        writing = this.db
          .transaction(
            async (tx) => {
              await write(tx);
              await this.moveCheckpoint(tx, p, generation, prev, end, events.length);
            },
            { asyncCommit: true },
          )
          .then(() => {
            committed = end;
            this.options.onBatch?.(p.name, events.length, (performance.now() - started) / 1000);
            this.notifier.announce(CHECKPOINT_CHANNEL);
          });
        writing.catch(() => undefined); // awaited next turn or below
      }
      await writing;
    } catch (err) {
      await writing?.catch(() => undefined);
      if (err instanceof LeaseLost || isTransient(err)) throw err;
      this.logger.warn(
        { err, projection: p.name, generation },
        'building batch by batch after a failed batch',
      );
    }
    return committed;
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
}

/** The advisory lock of one generation's leadership. */
export const leadershipKey = (name: string, generation: number): string =>
  `strata projection ${name}#${generation}`;
