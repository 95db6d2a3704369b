import type { Principal } from '../auth/principal.js';
import { encodeCursor } from '../eventstore/cursor.js';
import { ConcurrencyError, IdempotencyConflictError } from '../eventstore/errors.js';
import type { SnapshotStore } from '../eventstore/snapshots.js';
import type { EventStore } from '../eventstore/store.js';
import type {
  AppendResult,
  EventMetadata,
  StoredEvent,
  StreamAppend,
} from '../eventstore/types.js';
import { DomainError, type Decider, type DomainEvent } from '../shared/decider.js';
import { fingerprint } from '../shared/hash.js';
import { fold, snapshotIfDue, type Loaded, type LoadTarget } from './fold.js';
import { UnitOfWork } from './unit-of-work.js';

export type { Loaded, LoadTarget } from './fold.js';

/** Who asks, and why: becomes every event's metadata. */
export interface CommandEnvelope {
  /** Client-made idempotency key (a uuid). */
  commandId: string;
  principal: Principal;
  correlationId: string;
  /** The GraphQL mutation (or process step) that issued the command. */
  operation: string;
  /** The command's input as the client sent it, minus commandId: its fingerprint detects a reused id. */
  input: unknown;
}

export interface CommandResult<S> {
  streamId: string;
  /** The stream's version after the command. */
  version: number;
  /** Cursor of the last event the command appended (read-your-writes). */
  cursor: string;
  /** True when this was a replay of an already processed command id. */
  duplicate: boolean;
  /** State after the command; absent for replays (load it if needed). */
  state?: S;
}

/** Extra streams to append in the same transaction (e.g. a unique-email reservation). */
export type Companion<S, E> = (
  events: E[],
  state: S,
  load: <S2, E2 extends DomainEvent>(
    d: Decider<never, E2, S2>,
    streamId: string,
  ) => Promise<Loaded<S2>>,
) => Promise<StreamAppend[]>;

export interface HandlerOptions {
  snapshotEvery: number;
  /** Attempts after a version conflict caused by a concurrent writer. */
  maxAttempts?: number;
  onError?: (err: unknown, context: Record<string, unknown>) => void;
}

/**
 * The one command handler for every aggregate: load (newest usable snapshot + later
 * events) → decide (pure) → append with the expected version → snapshot every N events.
 * A conflict with a concurrent writer reloads and decides again, a bounded number of
 * times; a version the client named itself is never retried.
 */
export class CommandHandler {
  private readonly maxAttempts: number;

  constructor(
    private readonly store: EventStore,
    private readonly snapshots: SnapshotStore,
    private readonly options: HandlerOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /**
   * A unit of work on this handler's store: several commands decided in memory and
   * committed in one append (see unit-of-work.ts).
   */
  unitOfWork(): UnitOfWork {
    return new UnitOfWork(this.store, this.snapshots, this.options);
  }

  /** Folds a stream into state, starting from the newest usable snapshot. */
  async load<S, E extends DomainEvent>(
    decider: Decider<never, E, S>,
    streamId: string,
    at: { version?: number; time?: Date } = {},
  ): Promise<Loaded<S> & { lastEvent?: StoredEvent }> {
    if (at.version === undefined && at.time === undefined) {
      const { streams } = await this.store.loadStreams([
        { streamId, snapshotSchemaVersion: decider.snapshotVersion },
      ]);
      return fold(decider, streams.get(streamId)!);
    }
    const snapshot = at.time
      ? null // a time target cannot be mapped to a version without reading; fold from the start
      : await this.snapshots.loadLatest<S>(streamId, decider.snapshotVersion, at.version);
    const events = await this.store.readStream(streamId, {
      fromVersion: (snapshot?.version ?? 0) + 1,
      ...(at.version !== undefined ? { toVersion: at.version } : {}),
      ...(at.time ? { toTime: at.time } : {}),
    });
    return fold(decider, { snapshot, events });
  }

  /**
   * Runs `command` against the stream `streamId` of `decider`.
   * Throws DomainError (refused), ConcurrencyError (client's expectedVersion was stale, or
   * conflicts persisted), IdempotencyConflictError.
   */
  async execute<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C | ((gathered: Loaded<unknown>[]) => C),
    envelope: CommandEnvelope,
    options: {
      /**
       * Other streams the command needs (a catalogue entry, the customer): loaded in the
       * same round trip as the stream itself and handed to `command`, in this order.
       */
      gather?: readonly LoadTarget[];
      expectedVersion?: number | null;
      companions?: Companion<S, E>;
      /** Checks the caller may act on this aggregate as loaded; throws to refuse. */
      authorize?: (state: S) => void;
    } = {},
  ): Promise<CommandResult<S>> {
    // The caller is part of the fingerprint: someone else reusing a command id is a conflict,
    // never a way to read another caller's result.
    const requestHash = fingerprint({
      operation: envelope.operation,
      userId: envelope.principal.userId,
      input: envelope.input,
    });

    const metadata: EventMetadata = {
      userId: envelope.principal.userId,
      role: envelope.principal.role,
      commandId: envelope.commandId,
      correlationId: envelope.correlationId,
      causationId: envelope.commandId,
      mutation: envelope.operation,
    };

    for (let attempt = 1; ; attempt++) {
      // One round trip: the stream (snapshot + tail) and, the first time, whether this
      // command id has run before (a replay answers the first run's result, not decided again).
      const gather = options.gather ?? [];
      const loaded = await this.store.loadStreams(
        [
          { streamId, snapshotSchemaVersion: decider.snapshotVersion },
          ...gather.map((t) => ({
            streamId: t.streamId,
            snapshotSchemaVersion: t.decider.snapshotVersion,
          })),
        ],
        attempt === 1 ? envelope.commandId : undefined,
      );
      if (loaded.previous) return replayOf<S>(envelope.commandId, requestHash, loaded.previous);
      const { state, version } = fold(
        decider as Decider<never, E, S>,
        loaded.streams.get(streamId)!,
      );
      options.authorize?.(state);
      if (options.expectedVersion != null && options.expectedVersion !== version) {
        throw new ConcurrencyError(streamId, options.expectedVersion, version);
      }
      let events: E[];
      let companions: StreamAppend[] = [];
      try {
        const concrete =
          typeof command === 'function'
            ? (command as (gathered: Loaded<unknown>[]) => C)(
                gather.map((t) =>
                  fold(
                    t.decider as Decider<never, DomainEvent, unknown>,
                    loaded.streams.get(t.streamId)!,
                  ),
                ),
              )
            : command;
        events = decider.decide(concrete, state);
        if (events.length && options.companions) {
          companions = await options.companions(events, state, (d, id) => this.load(d, id));
        }
      } catch (err) {
        // A concurrent twin of this very command may have just won; answer as it did.
        if (err instanceof DomainError) {
          const twin = await this.previousResult<S>(envelope.commandId, requestHash);
          if (twin) return twin;
        }
        throw err;
      }
      if (events.length === 0) {
        // Nothing to do (the command's effect is already there): answer with the current position.
        const head = await this.store.readStream(streamId, { backwards: true, limit: 1 });
        return { streamId, version, cursor: head[0]?.cursor ?? '', duplicate: false, state };
      }
      let result: AppendResult;
      try {
        result = await this.store.appendMany(
          [
            {
              streamId,
              streamType: decider.streamType,
              events: events.map((e) => ({ type: e.type, data: e.data })),
              expected: version === 0 ? 'noStream' : version,
            },
            ...companions,
          ],
          { commandId: envelope.commandId, requestHash, metadata },
        );
      } catch (err) {
        if (
          err instanceof ConcurrencyError &&
          options.expectedVersion == null &&
          attempt < this.maxAttempts
        ) {
          await sleep(Math.random() * 5 * attempt);
          continue;
        }
        throw err;
      }
      if (result.duplicate) return fromAppendResult<S>(result);
      const newVersion = result.streams[0]!.version;
      const newState = events.reduce(decider.evolve, state);
      await snapshotIfDue(
        this.snapshots,
        this.options,
        decider,
        streamId,
        version,
        newVersion,
        newState,
      );
      return {
        streamId,
        version: newVersion,
        cursor: result.cursor,
        duplicate: false,
        state: newState,
      };
    }
  }

  /** The stored result of an already processed command id, or IdempotencyConflict. */
  private async previousResult<S>(
    commandId: string,
    requestHash: string,
  ): Promise<CommandResult<S> | null> {
    const { previous } = await this.store.loadStreams([], commandId);
    return previous ? replayOf<S>(commandId, requestHash, previous) : null;
  }
}

/** A command id's first run answering a replay; a different fingerprint is a conflict. */
function replayOf<S>(
  commandId: string,
  requestHash: string,
  previous: { requestHash: string; result: unknown },
): CommandResult<S> {
  if (previous.requestHash !== requestHash) throw new IdempotencyConflictError(commandId);
  return fromStored(previous.result as StoredAppend);
}

/** The shape `strata_append` records as a command's result. */
interface StoredAppend {
  transactionId: string;
  streams: { streamId: string; version: number }[];
  events: [string, number, number][][];
}

function fromStored<S>(r: StoredAppend): CommandResult<S> {
  const lastPosition = Math.max(...r.events.flat().map(([, , position]) => position));
  return {
    streamId: r.streams[0]!.streamId,
    version: r.streams[0]!.version,
    cursor: encodeCursorFor(r.transactionId, lastPosition),
    duplicate: true,
  };
}

function fromAppendResult<S>(r: AppendResult): CommandResult<S> {
  return {
    streamId: r.streams[0]!.streamId,
    version: r.streams[0]!.version,
    cursor: r.cursor,
    duplicate: true,
  };
}

const encodeCursorFor = (transactionId: string, globalPosition: number) =>
  encodeCursor({ transactionId, globalPosition });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
