import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/eventstore/cursor.js';
import { EventStore } from '../../src/eventstore/store.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import { Notifier } from '../../src/eventstore/notifier.js';
import {
  ProjectionRuntime,
  ReadTimeoutError,
  type ProjectionRuntimeOptions,
} from '../../src/projections/runtime.js';
import type { Projection } from '../../src/projections/types.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';
import { counts, countingProjection } from './toy.js';
import { until } from '../support/wait.js';

const logger = pino({ level: 'silent' });

describe(`projection runtime on ${engine}`, () => {
  let t: TestDatabase;
  let store: EventStore;
  let notifier: Notifier;
  let runtime: ProjectionRuntime | undefined;

  beforeEach(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    notifier = new Notifier(t.db, logger, 200);
    await notifier.start();
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await notifier.stop();
    await t.dispose();
  });

  async function start(
    projections: Projection[],
    batchSize = 1000,
    options: ProjectionRuntimeOptions = {},
  ) {
    runtime = new ProjectionRuntime(t.db, store, notifier, projections, logger, {
      idleMs: 100,
      batchSize,
      ...options,
    });
    await runtime.start();
    return runtime;
  }

  /**
   * The cursor of the last event appended so far. Not `store.head()`: the head is what
   * every reader can see now, which lags while a transaction of this database that began
   * before the last append (a projection batch) is still open.
   */
  const logEnd = async () => {
    const r = await t.db.query<{ transaction_id: string; global_position: number }>(
      `SELECT transaction_id::text AS transaction_id, global_position FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = r.rows[0]!;
    return encodeCursor({ transactionId: row.transaction_id, globalPosition: row.global_position });
  };

  const counted = (streamId: string, n = 1) =>
    store.append(
      streamId,
      'thing',
      Array.from({ length: n }, () => ({ type: 'Counted', data: {} })),
    );

  it('applies the log in batches and moves its checkpoint with the data', async () => {
    await counted('a', 3);
    await counted('b', 2);
    await store.append('c', 'other', [{ type: 'Ignored', data: {} }]);
    const r = await start([countingProjection('p1')], 2);
    const last = await counted('a');
    await r.waitFor(last.cursor, ['p1']);
    expect(await counts(t.db, 'p1')).toEqual({ a: 4, b: 2 });
    const [status] = await r.status();
    expect(status).toMatchObject({
      name: 'p1',
      generation: 1,
      active: true,
      state: 'running',
      eventsBehind: 0,
      eventsProcessed: 7,
      cursor: last.cursor,
    });
  });

  it('re-applying a batch changes nothing (rows remember their version)', async () => {
    await counted('a', 3);
    const r = await start([countingProjection('p1')]);
    await r.waitFor(await logEnd(), ['p1']);
    const events = await store.readAll();
    const p = countingProjection('p1');
    await t.db.transaction((tx) => p.apply(tx, events, (name) => `${name}_g1`));
    expect(await counts(t.db, 'p1')).toEqual({ a: 3 });
  });

  it('applies a batch wholly with its checkpoint or not at all', async () => {
    await counted('a', 5);
    let attempts = 0;
    const p = countingProjection('p1', {
      beforeApply: () => {
        attempts++;
      },
    });
    const failing: Projection = {
      ...p,
      async apply(tx, events, table) {
        await p.apply(tx, events, table); // the rows are written …
        if (attempts === 1) throw Object.assign(new Error('connection lost'), { code: '08006' }); // … then the transaction dies
      },
    };
    const r = await start([failing]);
    await r.waitFor(await logEnd(), ['p1']);
    expect(attempts).toBe(2);
    expect(await counts(t.db, 'p1')).toEqual({ a: 5 }); // not 10: the first attempt left nothing
  });

  it('runners at the same position apply their batches in one transaction, each with its checkpoint', async () => {
    const seen = new Map<string, Set<unknown>>();
    const watched = (name: string): Projection => {
      const p = countingProjection(name);
      return {
        ...p,
        apply: (tx, events, table) => {
          seen.set(name, (seen.get(name) ?? new Set()).add(tx));
          return p.apply(tx, events, table);
        },
      };
    };
    const r = await start([watched('g1'), watched('g2'), watched('g3')]);
    // All three idle at the end of the log, then woken together by the same commits.
    await until(
      async () => (await r.status()).every((s) => s.state === 'running' && s.leaseOwner !== null),
      'the runners leased',
    );
    await counted('a', 3);
    await counted('b', 2);
    await r.waitFor(await logEnd(), ['g1', 'g2', 'g3']);
    for (const name of ['g1', 'g2', 'g3']) {
      expect(await counts(t.db, name)).toEqual({ a: 3, b: 2 });
    }
    // The three read the same events at the same time: one transaction applied them all.
    const shared = [...seen.get('g1')!].filter(
      (tx) => seen.get('g2')!.has(tx) && seen.get('g3')!.has(tx),
    );
    expect(shared.length).toBeGreaterThan(0);
    const status = await r.status();
    for (const name of ['g1', 'g2', 'g3']) {
      expect(status.find((s) => s.name === name)).toMatchObject({
        state: 'running',
        eventsBehind: 0,
      });
    }
  });

  it('a poison event stops only its projection, visibly, and it resumes after the fix', async () => {
    await counted('a', 2);
    const poison = await store.append('a', 'thing', [{ type: 'Poison', data: {} }]);
    await counted('a', 2);
    let fixed = false;
    const p = countingProjection('p1');
    const fragile: Projection = {
      ...p,
      apply: (tx, events, table) =>
        p.apply(tx, fixed ? events.filter((e) => e.type !== 'Poison') : events, table),
    };
    const r = await start([fragile, { ...countingProjection('p2'), eventTypes: ['Counted'] }]);
    await until(
      async () => (await r.status()).find((s) => s.name === 'p1')?.state === 'stopped',
      'p1 stopped on the poison event',
    );
    await r.waitFor(await logEnd(), ['p2']);
    const status = await r.status();
    const p1 = status.find((s) => s.name === 'p1')!;
    expect(p1).toMatchObject({ phase: 'stopped on error', eventsBehind: 3 });
    expect(p1.error).toMatchObject({
      eventId: poison.events[0]!.eventId,
      cursor: poison.cursor,
      type: 'Poison',
    });
    expect(p1.error!.message).toMatch(/cannot digest/);
    expect(await counts(t.db, 'p1')).toEqual({ a: 2 }); // stopped right before the poison event
    expect(await counts(t.db, 'p2')).toEqual({ a: 4 }); // the other projection went on

    fixed = true;
    await r.resume('p1');
    await r.waitFor(await logEnd(), ['p1']);
    expect(await counts(t.db, 'p1')).toEqual({ a: 4 });
    expect((await r.status()).find((s) => s.name === 'p1')).toMatchObject({
      state: 'running',
      error: null,
      eventsBehind: 0,
    });
  });

  it('rebuilds a new generation while the old one serves, then switches', async () => {
    await counted('a', 3);
    const r = await start([countingProjection('p1')]);
    await r.waitFor(await logEnd(), ['p1']);
    const generation = await r.rebuild('p1');
    expect(generation).toBe(2);
    // The view still shows generation 1 while 2 builds (or already 2, with the same rows).
    expect(await counts(t.db, 'p1')).toEqual({ a: 3 });
    await until(
      async () => (await r.status()).some((s) => s.generation === 2 && s.active),
      'generation 2 active',
    );
    await counted('b', 1);
    await r.waitFor(await logEnd(), ['p1']);
    expect(await counts(t.db, 'p1')).toEqual({ a: 3, b: 1 });
    const status = await r.status();
    expect(status.map((s) => [s.name, s.generation, s.active])).toEqual([['p1', 2, true]]);
    const tables = await t.db.query<{ n: string }>(
      `SELECT table_name AS n FROM information_schema.tables WHERE table_name LIKE 'p1_counts_g%' ORDER BY 1`,
    );
    expect(tables.rows.map((x) => x.n)).toEqual(['p1_counts_g2']); // the old generation is dropped
  });

  describe('rebuilds in batches read while the one before is applied, each event once, in order', () => {
    for (const serving of [false, true]) {
      it(
        serving
          ? 'in small batches while the process answers requests'
          : 'in large batches while it is idle',
        async () => {
          for (let i = 0; i < 6; i++) {
            await counted('a', 2);
            await counted('b', 3);
            await store.append('c', 'other', [{ type: 'Ignored', data: {} }]);
          }
          const applied: string[][] = [];
          const r = await start(
            [
              countingProjection('p1', {
                beforeApply: (events) => applied.push(events.map((e) => e.eventId)),
              }),
            ],
            2,
            { rebuildBatchSize: 7, serving: () => serving },
          );
          await r.waitFor(await logEnd(), ['p1']);
          applied.length = 0;
          const generation = await r.rebuild('p1');
          await until(
            async () => (await r.status()).some((s) => s.generation === generation && s.active),
            'the rebuilt generation active',
          );
          const log = (await store.readAll()).filter((e) => e.type === 'Counted');
          expect(applied.flat()).toEqual(log.map((e) => e.eventId));
          // Batches of log events (7 or 2), of which the Counted ones are applied.
          expect(Math.max(...applied.map((b) => b.length))).toBe(serving ? 2 : 6);
          expect(await counts(t.db, 'p1')).toEqual({ a: 12, b: 18 });
          const [status] = await r.status();
          expect(status).toMatchObject({ generation, eventsProcessed: 36, eventsBehind: 0 });
        },
      );
    }
  });

  describe("with the projection's build run (the next batch folded while the last is written)", () => {
    const log = async () => {
      for (let i = 0; i < 6; i++) {
        await counted('a', 2);
        await counted('b', 3);
        await store.append('c', 'other', [{ type: 'Ignored', data: {} }]);
      }
    };
    /** Rebuilds p1 with `failWrite`; the Counted event ids seen by folds and applies. */
    const rebuild = async (failWrite?: (batch: number) => boolean) => {
      await log();
      const seen: string[] = [];
      let building = false;
      const note = (events: StoredEvent[]) => {
        if (building)
          seen.push(...events.filter((e) => e.type === 'Counted').map((e) => e.eventId));
      };
      const r = await start(
        [
          countingProjection('p1', {
            beforeApply: note,
            build: { onFold: note, ...(failWrite ? { failWrite } : {}) },
          }),
        ],
        2,
        { rebuildBatchSize: 4 },
      );
      await r.waitFor(await logEnd(), ['p1']);
      building = true;
      const generation = await r.rebuild('p1');
      await until(
        async () => (await r.status()).some((s) => s.generation === generation && s.active),
        'the rebuilt generation active',
      );
      expect(await counts(t.db, 'p1')).toEqual({ a: 12, b: 18 });
      const [status] = await r.status();
      expect(status).toMatchObject({ generation, eventsProcessed: 36, eventsBehind: 0 });
      const counted = (await store.readAll())
        .filter((e) => e.type === 'Counted')
        .map((e) => e.eventId);
      return { seen, counted };
    };

    it('folds and writes every event once, in commit order, each batch with its checkpoint', async () => {
      const { seen, counted } = await rebuild();
      expect(seen).toEqual(counted);
    });

    it('after a batch that cannot be written, goes on batch by batch from the last one committed', async () => {
      let thrown = 0;
      const { seen, counted } = await rebuild((batch) => {
        if (batch !== 3 || thrown > 0) return false;
        thrown++;
        return true;
      });
      expect(thrown).toBe(1);
      // The failed batch (and the one folded meanwhile) are applied again: every event
      // is seen, and the last time each is seen is in commit order.
      const last = new Map(seen.map((id, i) => [id, i] as const));
      expect([...last.keys()].sort((x, y) => last.get(x)! - last.get(y)!)).toEqual(counted);
      expect(seen.length).toBeGreaterThan(counted.length);
    });
  });

  it('read-your-writes waits for the cursor, and times out with a clear error when paused', async () => {
    const r = await start([countingProjection('p1')]);
    const first = await counted('a');
    await r.waitFor(first.cursor, ['p1'], 5_000);
    expect(await counts(t.db, 'p1')).toEqual({ a: 1 });
    await r.pause('p1');
    const second = await counted('a');
    const err = await r.waitFor(second.cursor, ['p1'], 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadTimeoutError);
    expect((err as Error).message).toMatch(/did not reach the requested cursor within 300 ms/);
    await r.resume('p1');
    await r.waitFor(second.cursor, ['p1'], 5_000);
    expect(await counts(t.db, 'p1')).toEqual({ a: 2 });
  });
});
