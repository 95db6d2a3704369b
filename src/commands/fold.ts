import type { SnapshotStore } from '../eventstore/snapshots.js';
import type { LoadedStream } from '../eventstore/store.js';
import type { StoredEvent } from '../eventstore/types.js';
import type { Decider, DomainEvent } from '../shared/decider.js';

/** An aggregate as loaded: its folded state and the version it is at (0: no stream). */
export interface Loaded<S> {
  state: S;
  version: number;
}

/** A stream to load with the decider that folds it. */
export interface LoadTarget {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any decider's state
  decider: Decider<never, any, any>;
  streamId: string;
}

/** A loaded stream's snapshot and later events, folded by its decider. */
export function fold<S, E extends DomainEvent>(
  decider: Decider<never, E, S>,
  stream: LoadedStream,
): Loaded<S> & { lastEvent?: StoredEvent } {
  let state = (stream.snapshot?.state as S | undefined) ?? decider.initialState;
  let version = stream.snapshot?.version ?? 0;
  for (const e of stream.events) {
    state = decider.evolve(state, { type: e.type, data: e.data } as E);
    version = e.version;
  }
  const last = stream.events[stream.events.length - 1];
  return { state, version, ...(last ? { lastEvent: last } : {}) };
}

/**
 * Saves a snapshot when a write took the stream across a multiple of `snapshotEvery`. A
 * snapshot is only an optimisation: the write has committed, so a failure is reported
 * and otherwise ignored.
 */
export async function snapshotIfDue(
  snapshots: SnapshotStore,
  options: {
    snapshotEvery: number;
    onError?: (err: unknown, context: Record<string, unknown>) => void;
  },
  decider: { snapshotVersion: number },
  streamId: string,
  from: number,
  to: number,
  state: unknown,
): Promise<void> {
  const every = options.snapshotEvery;
  if (Math.floor(to / every) === Math.floor(from / every)) return;
  try {
    await snapshots.save({ streamId, version: to, schemaVersion: decider.snapshotVersion, state });
  } catch (err) {
    options.onError?.(err, { streamId, version: to, what: 'snapshot' });
  }
}
