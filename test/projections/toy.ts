import type { Queryable } from '../../src/db/types.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import type { Projection } from '../../src/projections/types.js';

/** A projection small enough to reason about: events counted per stream. */
export function countingProjection(
  name: string,
  hooks: { beforeApply?: (events: StoredEvent[]) => void } = {},
): Projection {
  return {
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
