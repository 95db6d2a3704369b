import type { Queryable } from '../../src/db/types.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import type { Projection, ProjectionBuildRun } from '../../src/projections/types.js';

/** A projection small enough to reason about: events counted per stream. */
export function countingProjection(
  name: string,
  hooks: {
    beforeApply?: (events: StoredEvent[]) => void;
    /** Gives it a build run (Projection.build) whose folds this sees, and whose writes may fail. */
    build?: { onFold: (events: StoredEvent[]) => void; failWrite?: (batch: number) => boolean };
  } = {},
): Projection {
  const build = hooks.build;
  return {
    ...(build ? { build: () => countingBuildRun(name, build) } : {}),
    name,
    version: 1,
    eventTypes: ['Counted', 'Poison'],
    tables: [
      {
        name: `${name}_counts`,
        ddl: (t) =>
          `CREATE TABLE ${t} (stream_id text PRIMARY KEY, events integer NOT NULL, last_version integer NOT NULL)`,
      },
    ],
    async apply(tx: Queryable, events, table) {
      hooks.beforeApply?.(events);
      for (const e of events) {
        if (e.type === 'Poison') throw new Error(`cannot digest ${e.eventId}`);
        // Idempotent per row: an event at or below the row's version is already in.
        await tx.query(
          `INSERT INTO ${table(`${name}_counts`)} AS c (stream_id, events, last_version) VALUES ($1, 1, $2)
           ON CONFLICT (stream_id) DO UPDATE SET events = c.events + 1, last_version = EXCLUDED.last_version
           WHERE c.last_version < EXCLUDED.last_version`,
          [e.streamId, e.version],
        );
      }
    },
  };
}

export async function counts(db: Queryable, name: string): Promise<Record<string, number>> {
  const r = await db.query<{ stream_id: string; events: number }>(
    `SELECT stream_id, events FROM ${name}_counts ORDER BY stream_id`,
  );
  return Object.fromEntries(r.rows.map((row) => [row.stream_id, row.events]));
}

/** The counting projection's build run: counts held from batch to batch, written absolute. */
function countingBuildRun(
  name: string,
  hooks: { onFold: (events: StoredEvent[]) => void; failWrite?: (batch: number) => boolean },
): ProjectionBuildRun {
  const held = new Map<string, { events: number; last_version: number }>();
  let batch = 0;
  return {
    async fold(q, events, table) {
      const n = ++batch;
      hooks.onFold(events);
      const t = table(`${name}_counts`);
      const missing = [...new Set(events.map((e) => e.streamId))].filter((id) => !held.has(id));
      if (missing.length) {
        const r = await q.query<{ stream_id: string; events: number; last_version: number }>(
          `SELECT stream_id, events, last_version FROM ${t} WHERE stream_id = ANY($1::text[])`,
          [missing],
        );
        for (const row of r.rows) held.set(row.stream_id, row);
      }
      const changed = new Set<string>();
      for (const e of events) {
        if (e.type === 'Poison') throw new Error(`cannot digest ${e.eventId}`);
        const c = held.get(e.streamId);
        if (c && e.version <= c.last_version) continue;
        held.set(e.streamId, { events: (c?.events ?? 0) + 1, last_version: e.version });
        changed.add(e.streamId);
      }
      const rows = [...changed].map((id) => ({ stream_id: id, ...held.get(id)! }));
      return async (tx) => {
        if (hooks.failWrite?.(n)) throw new Error(`batch ${n} cannot be written`);
        for (const r of rows)
          await tx.query(
            `INSERT INTO ${t} AS c (stream_id, events, last_version) VALUES ($1, $2, $3)
             ON CONFLICT (stream_id) DO UPDATE SET events = EXCLUDED.events, last_version = EXCLUDED.last_version
             WHERE c.last_version < EXCLUDED.last_version`,
            [r.stream_id, r.events, r.last_version],
          );
      };
    },
  };
}
