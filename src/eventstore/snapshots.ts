import type { Queryable } from '../db/types.js';
import { checkName, checkPositiveInt, toJson } from './validation.js';

/** Aggregate state saved at a stream version, tagged with the shape's schema version. */
export interface Snapshot<S = unknown> {
  streamId: string;
  version: number;
  schemaVersion: number;
  state: S;
}

/**
 * Snapshots are an optimisation only: the events stay the truth. A snapshot written by
 * an older shape of the aggregate (another schema version) is never loaded.
 */
export class SnapshotStore {
  constructor(
    private readonly db: Queryable,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  async save(s: Snapshot): Promise<void> {
    checkName('streamId', s.streamId);
    checkPositiveInt('version', s.version, 1);
    checkPositiveInt('schemaVersion', s.schemaVersion, 1);
    const state = toJson('state', s.state, this.maxBytes);
    await this.db.query(
      `INSERT INTO snapshots (stream_id, version, schema_version, state) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT DO NOTHING`,
      [s.streamId, s.version, s.schemaVersion, state],
    );
  }

  /** The newest snapshot of `schemaVersion` at or below `atOrBelow` (default: any version). */
  async loadLatest<S>(
    streamId: string,
    schemaVersion: number,
    atOrBelow?: number,
  ): Promise<Snapshot<S> | null> {
    checkName('streamId', streamId);
    checkPositiveInt('schemaVersion', schemaVersion, 1);
    if (atOrBelow !== undefined) checkPositiveInt('atOrBelow', atOrBelow);
    const r = await this.db.query<{ version: number; state: S }>(
      `SELECT version, state FROM snapshots
       WHERE stream_id = $1 AND schema_version = $2 AND ($3::integer IS NULL OR version <= $3)
       ORDER BY version DESC LIMIT 1`,
      [streamId, schemaVersion, atOrBelow ?? null],
    );
    const row = r.rows[0];
    return row ? { streamId, version: row.version, schemaVersion, state: row.state } : null;
  }
}
