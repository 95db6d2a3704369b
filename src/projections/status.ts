import type { Queryable } from '../db/types.js';
import { encodeCursor } from '../eventstore/cursor.js';
import type { ProjectionError, ProjectionRow, ProjectionState } from './types.js';

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
  error: ProjectionError | null;
  leaseOwner: string | null;
}

/** eventsBehind is exact up to this many events, and this many beyond. */
export const LAG_COUNT_LIMIT = 100_000;

/** Every generation not retired; `batchSize` is how far behind counts as catching up. */
export async function projectionStatus(
  db: Queryable,
  batchSize: number,
): Promise<ProjectionStatus[]> {
  const rows = (
    await db.query<ProjectionRow>(
      `SELECT * FROM projections WHERE state <> 'retired' ORDER BY name, generation`,
    )
  ).rows;
  return Promise.all(
    rows.map(async (r) => {
      const lag = await db.query<{ behind: number; oldest: Date | null }>(
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
          : r.state === 'running' && behind > batchSize
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
