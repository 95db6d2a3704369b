import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError, EventStore, type AppendResult } from '../../src/eventstore/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * Several real sessions appending at once (PostgreSQL only: PGlite runs one transaction
 * at a time, so nothing there can race).
 */
const APPENDERS = 32;
/** Each appender stops after this many successful appends … */
const WINS_EACH = 3;
/** … or this many attempts, so a starved appender cannot loop for ever. */
const MAX_ROUNDS = 200;

/** Resolves once `n` callers are waiting, so they all start their next step together. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return () => {
    waiting += 1;
    if (waiting === n) open();
    return gate;
  };
}

describe('concurrent appends (PostgreSQL)', () => {
  let t: TestDatabase;
  let store: EventStore;
  beforeAll(async () => {
    t = await createTestDatabase({ poolSize: APPENDERS + 2 });
    store = new EventStore(t.db);
    // Open every pooled connection up front, so the appenders really run side by side.
    await Promise.all(Array.from({ length: APPENDERS }, () => t.db.query('SELECT pg_sleep(0.05)')));
  });
  afterAll(() => t.dispose());

  it(`${APPENDERS} appenders on one stream: each version has exactly one winner, no holes`, async () => {
    await store.append('hot', 'thing', [{ type: 'Opened', data: {} }], { expected: 'noStream' });
    interface Outcome {
      wins: { expected: number; version: number; result: AppendResult }[];
      losses: unknown[];
      rounds: number;
    }
    const ready = barrier(APPENDERS);
    const run = async (writer: number): Promise<Outcome> => {
      const out: Outcome = { wins: [], losses: [], rounds: 0 };
      let expected = await store.streamVersion('hot');
      await ready();
      while (out.wins.length < WINS_EACH && out.rounds < MAX_ROUNDS) {
        out.rounds += 1;
        try {
          const result = await store.append(
            'hot',
            'thing',
            [{ type: 'Bumped', data: { writer, expected } }],
            { expected },
          );
          out.wins.push({ expected, version: result.streams[0]!.version, result });
          expected = result.streams[0]!.version;
        } catch (err) {
          out.losses.push(err);
          expected = await store.streamVersion('hot');
        }
      }
      return out;
    };
    const outcomes = await Promise.all(Array.from({ length: APPENDERS }, (_, w) => run(w)));

    const wins = outcomes.flatMap((o, writer) => o.wins.map((w) => ({ ...w, writer })));
    const losses = outcomes.flatMap((o) => o.losses);
    // Every loser got a ConcurrencyError that says what it expected and what it found.
    for (const err of losses) {
      expect(err).toBeInstanceOf(ConcurrencyError);
      const c = err as ConcurrencyError;
      expect(c.streamId).toBe('hot');
      expect(typeof c.expected).toBe('number');
      expect(c.actual).toBeGreaterThan(c.expected as number);
    }
    expect(losses.length).toBeGreaterThan(0); // there was contention
    // Each winner wrote exactly the version after the one it expected.
    for (const w of wins) expect(w.version).toBe(w.expected + 1);
    // Each version has exactly one winner, and the versions have no holes.
    const versions = wins.map((w) => w.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: wins.length }, (_, i) => i + 2));
    expect(wins.length).toBeGreaterThan(APPENDERS); // most appenders won several times
    // The stream holds exactly the winners' events, in the order they won.
    const events = await store.readStream('hot');
    expect(events.map((e) => e.version)).toEqual(
      Array.from({ length: wins.length + 1 }, (_, i) => i + 1),
    );
    const byVersion = new Map(wins.map((w) => [w.version, w]));
    for (const e of events.slice(1)) {
      const w = byVersion.get(e.version)!;
      expect(e.data).toEqual({ writer: w.writer, expected: w.expected });
      expect(e.eventId).toBe(w.result.events[0]!.eventId);
    }
    expect(await store.streamVersion('hot')).toBe(wins.length + 1);
    const count = await t.db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM events WHERE stream_id = 'hot'`,
    );
    expect(count.rows[0]!.n).toBe(wins.length + 1);
  });

  it('concurrent creators of a new stream with noStream: exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const streamId = `new-${round}`;
      const ready = barrier(16);
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, async (_, writer) => {
          await ready();
          return store.append(
            streamId,
            'thing',
            [
              { type: 'Created', data: { writer } },
              { type: 'Named', data: { writer } },
            ],
            {
              expected: 'noStream',
              commandId: randomUUID(),
            },
          );
        }),
      );
      const won = results.filter(
        (r): r is PromiseFulfilledResult<AppendResult> => r.status === 'fulfilled',
      );
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(15);
      for (const l of lost) {
        expect(l.reason).toBeInstanceOf(ConcurrencyError);
        expect(l.reason).toMatchObject({ streamId, expected: 'noStream', actual: 2 });
      }
      const events = await store.readStream(streamId);
      expect(events.map((e) => e.version)).toEqual([1, 2]);
      expect(events.map((e) => e.eventId)).toEqual(won[0]!.value.events.map((e) => e.eventId));
      // The losers' command ids were not consumed: their rows rolled back with them.
      const cmds = await t.db.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM processed_commands WHERE result->'streams'->0->>'streamId' = $1`,
        [streamId],
      );
      expect(cmds.rows[0]!.n).toBe(1);
    }
  });

  it('the same command id sent twice at once: one write, both get the same result', async () => {
    for (let round = 0; round < 10; round++) {
      const commandId = randomUUID();
      const streamId = `twin-${round}`;
      const ready = barrier(2);
      const send = async () => {
        await ready();
        return store.append(streamId, 'thing', [{ type: 'Placed', data: { round } }], {
          commandId,
          expected: 'noStream',
        });
      };
      const [a, b] = await Promise.all([send(), send()]);
      expect([a.duplicate, b.duplicate].sort()).toEqual([false, true]);
      expect({ ...a, duplicate: false }).toEqual({ ...b, duplicate: false });
      const events = await store.readStream(streamId);
      expect(events).toHaveLength(1);
      expect(events[0]!.eventId).toBe(a.events[0]!.eventId);
      const cmds = await t.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM processed_commands WHERE command_id = $1',
        [commandId],
      );
      expect(cmds.rows[0]!.n).toBe(1);
    }
  });

  it('the same command id sent by many at once with the same input: one write', async () => {
    const commandId = randomUUID();
    const ready = barrier(12);
    const results = await Promise.all(
      Array.from({ length: 12 }, async () => {
        await ready();
        return store.append('crowd', 'thing', [{ type: 'Placed', data: {} }], { commandId });
      }),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    const first = results.find((r) => !r.duplicate)!;
    for (const r of results) expect({ ...r, duplicate: false }).toEqual(first);
    expect(await store.readStream('crowd')).toHaveLength(1);
  });
});
