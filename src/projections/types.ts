import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';

/** A read table of a projection. Queries use the plain `name` (a view of the active generation). */
export interface ProjectionTable {
  name: string;
  /** DDL that creates the physical table `table` (and its indexes, named after it). */
  ddl(table: string): string;
}

/**
 * A projection: read tables built from the log. It applies a batch of events inside the
 * runtime's transaction, which also moves its checkpoint; so a batch is applied wholly
 * with its checkpoint, or not at all. `apply` must be idempotent per event as well (each
 * row remembers the last stream version it applied), so a re-delivered event changes
 * nothing even if it somehow reached the projection twice.
 */
export interface Projection {
  readonly name: string;
  /** Version of the projection's code and tables; a new version is built beside the old. */
  readonly version: number;
  readonly tables: readonly ProjectionTable[];
  /** Event types it reads; other events only move its checkpoint. */
  readonly eventTypes: readonly string[];
  /**
   * `transactional` (default): `apply` runs inside the runtime's transaction with the
   * checkpoint move. `effects` (process managers): `apply` runs outside any transaction,
   * given the database itself, and may issue commands; the checkpoint then moves in a
   * statement of its own, so a batch may be delivered again after a crash (at least once):
   * its effects must be idempotent (derived command ids).
   */
  readonly mode?: 'transactional' | 'effects';
  /**
   * Problems it recorded instead of stopping (a process manager's failed steps), newest
   * first: shown by the admin `projections` query.
   */
  problems?(limit: number): Promise<ProjectionProblem[]>;
  /** `table(name)` gives the physical table of the generation being built. */
  apply(tx: Queryable, events: StoredEvent[], table: (name: string) => string): Promise<void>;
  /**
   * Optional, for a generation being built (ADR 13): starts a run of batches that gives the
   * same rows as `apply`, with state kept from one batch to the next, so that the runtime
   * can fold the next batch while the last one is being written. A run ends, and its state
   * is dropped, when a batch fails or the runtime stops building this way.
   */
  build?(): ProjectionBuildRun;
}

export interface ProjectionBuildRun {
  /**
   * Folds `events` (of the types the projection reads) into the run's state and returns
   * the batch's writes, which the runtime runs in the batch's transaction with its
   * checkpoint. Batches are written one at a time, in order; while one is being written
   * the next is folded, so `q` (outside any transaction) shows only what earlier batches
   * committed: the state must hold every row the batch being written changes.
   */
  fold(
    q: Queryable,
    events: StoredEvent[],
    table: (name: string) => string,
  ): Promise<(tx: Queryable) => Promise<void>>;
}

/** A problem a projection recorded and went on: about one item (e.g. an order). */
export interface ProjectionProblem {
  /** What it is about, e.g. the order id. */
  key: string;
  /** The event that records it. */
  type: string;
  message: string;
  at: string;
}

// ---------------------------------------------------------------------------------------
// The runtime's bookkeeping: one row of the `projections` table per (projection, generation)

export type ProjectionState = 'running' | 'rebuilding' | 'paused' | 'stopped' | 'retired';

/** The event a projection stopped on, as stored with its generation. */
export interface ProjectionError {
  eventId: string;
  cursor: string;
  type: string;
  message: string;
}

export interface ProjectionRow {
  name: string;
  generation: number;
  code_version: number;
  active: boolean;
  state: ProjectionState;
  checkpoint_txid: string;
  checkpoint_position: number;
  events_processed: number;
  error: ProjectionError | null;
  lease_owner: string | null;
}
