import { randomUUID } from 'node:crypto';
import type { SnapshotStore } from '../eventstore/snapshots.js';
import type { EventStore } from '../eventstore/store.js';
import type { AppendResult, EventMetadata, NewEvent, StreamAppend } from '../eventstore/types.js';
import type { Decider, DomainEvent } from '../shared/decider.js';
import { fold, snapshotIfDue, type Loaded, type LoadTarget } from './fold.js';

/*
 * Several commands decided in memory and committed in one append (docs/adr/0010).
 *
 * A process manager that reacts to events by sending commands pays, per command, a load,
 * an append and a trip through the log before it sees the effect. A unit of work loads the
 * streams a batch of reactions needs in one round trip, lets each command be decided
 * against the state the earlier ones left (its events are folded in at once), and commits
 * everything in one transaction, every stream at the version it was loaded at. A
 * concurrent writer on any of them makes the commit fail with ConcurrencyError and write
 * nothing; the caller starts again from a fresh unit of work.
 *
 * What it does not give: a decision that read a stream without writing to it is not
 * version-checked (the same as a command handler's gathered streams).
 */

/** A stream as the unit of work holds it: loaded state, then what was decided since. */
interface Tracked {
  decider: Decider<unknown, DomainEvent, unknown>;
  streamId: string;
  state: unknown;
  /** The version the stream was at when loaded (0: no stream), then after each commit. */
  version: number;
  pending: NewEvent[];
  /** When its first pending event was decided, in this unit of work's sequence. */
  firstDecided: number;
}

/** Events decided and not yet committed, per stream. */
export interface PendingStream {
  streamId: string;
  streamType: string;
  events: readonly NewEvent[];
}

export interface UnitOfWorkOptions {
  snapshotEvery: number;
  onError?: (err: unknown, context: Record<string, unknown>) => void;
}

export class UnitOfWork {
  private readonly streams = new Map<string, Tracked>();
  private decided = 0;

  constructor(
    private readonly store: EventStore,
    private readonly snapshots: SnapshotStore,
    private readonly options: UnitOfWorkOptions,
  ) {}

  /** Loads, in one round trip, every target not loaded yet (snapshot + tail). */
  async load(targets: readonly LoadTarget[]): Promise<void> {
    const missing = new Map<string, LoadTarget>();
    for (const t of targets) {
      if (!this.streams.has(t.streamId)) missing.set(t.streamId, t);
    }
    if (missing.size === 0) return;
    const { streams } = await this.store.loadStreams(
      [...missing.values()].map((t) => ({
        streamId: t.streamId,
        snapshotSchemaVersion: t.decider.snapshotVersion,
      })),
    );
    for (const t of missing.values()) {
      // Another load of the same stream may have finished meanwhile: the first one stays.
      if (this.streams.has(t.streamId)) continue;
      const { state, version } = fold(
        t.decider as Decider<never, DomainEvent, unknown>,
        streams.get(t.streamId)!,
      );
      this.streams.set(t.streamId, {
        decider: t.decider as Decider<unknown, DomainEvent, unknown>,
        streamId: t.streamId,
        state,
        version,
        pending: [],
        firstDecided: 0,
      });
    }
  }

  /** A loaded stream's state, with what was decided on it so far. */
  get<S>(decider: Decider<never, DomainEvent, S>, streamId: string): Loaded<S> {
    const t = this.tracked(decider, streamId);
    return { state: t.state as S, version: t.version + t.pending.length };
  }

  /**
   * Decides `command` on a loaded stream and folds the events in. Throws what the
   * decider throws (a refusal), and then nothing changes. Returns the events with the ids
   * they will have in the log.
   */
  decide<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C,
    metadata: EventMetadata,
  ): (E & { eventId: string })[] {
    const t = this.tracked(decider as Decider<never, DomainEvent, S>, streamId);
    const events = decider.decide(command, t.state as S);
    t.state = events.reduce(decider.evolve, t.state as S);
    if (events.length > 0 && t.pending.length === 0) t.firstDecided = ++this.decided;
    return events.map((e) => {
      const eventId = randomUUID();
      t.pending.push({ eventId, type: e.type, data: e.data, metadata });
      return { ...e, eventId };
    });
  }

  /** How many events would be committed now. */
  pendingEvents(): number {
    let n = 0;
    for (const t of this.streams.values()) n += t.pending.length;
    return n;
  }

  /** What would be committed now, per stream, in the order of the append. */
  pending(): PendingStream[] {
    return this.touched().map((t) => ({
      streamId: t.streamId,
      streamType: t.decider.streamType,
      events: t.pending,
    }));
  }

  /**
   * Appends everything decided, atomically, each stream expected at the version it was
   * loaded at; null when nothing was decided. Throws ConcurrencyError when a stream moved
   * meanwhile (nothing is written; start again from a fresh unit of work).
   */
  async commit(): Promise<AppendResult | null> {
    const touched = this.touched();
    if (touched.length === 0) return null;
    const appends: StreamAppend[] = touched.map((t) => ({
      streamId: t.streamId,
      streamType: t.decider.streamType,
      events: t.pending,
      expected: t.version === 0 ? 'noStream' : t.version,
    }));
    const result = await this.store.appendMany(appends);
    const saves: Promise<void>[] = [];
    for (const t of touched) {
      const from = t.version;
      t.version += t.pending.length;
      t.pending = [];
      saves.push(
        snapshotIfDue(
          this.snapshots,
          this.options,
          t.decider,
          t.streamId,
          from,
          t.version,
          t.state,
        ),
      );
    }
    // Side by side: each is one statement of its own, and none can fail the commit.
    await Promise.all(saves);
    return result;
  }

  /**
   * The streams with pending events, in the order they were first written to: each
   * stream's events are one block of the append, so this keeps the log in the order of
   * cause and effect as far as whole blocks can (the process's decision, then the
   * reservation it asked for, then the shipment).
   */
  private touched(): Tracked[] {
    return [...this.streams.values()]
      .filter((t) => t.pending.length > 0)
      .sort((a, b) => a.firstDecided - b.firstDecided);
  }

  private tracked<S>(decider: Decider<never, DomainEvent, S>, streamId: string): Tracked {
    const t = this.streams.get(streamId);
    if (!t) throw new Error(`${streamId} was not loaded into this unit of work`);
    if (t.decider.streamType !== decider.streamType) {
      throw new Error(
        `${streamId} was loaded as a ${t.decider.streamType}, not a ${decider.streamType}`,
      );
    }
    return t;
  }
}
