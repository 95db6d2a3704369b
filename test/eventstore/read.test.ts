import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/types.js';
import {
  EventStore,
  InvalidCursorError,
  InvalidInputError,
  MAX_READ_LIMIT,
  SnapshotStore,
  UpcasterRegistry,
  compareLogPositions,
  decodeCursor,
  encodeCursor,
  type AppendResult,
  type NewEvent,
  type StoredEvent,
} from '../../src/eventstore/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const ev = (n: number, type = 'Thing'): NewEvent => ({ type, data: { n } });
const ns = (events: StoredEvent[]) => events.map((e) => (e.data as { n: number }).n);
const ids = (events: StoredEvent[]) => events.map((e) => e.eventId);

/** Delegates to the real database and counts the statements it was asked to run. */
function counting(db: Queryable): Queryable & { calls: number } {
  const c = {
    calls: 0,
    query<R>(sql: string, params?: readonly unknown[]) {
      c.calls += 1;
      return db.query<R>(sql, params);
    },
  };
  return c;
}

/**
 * Waits (bounded) until readers can see the log up to `cursor`. On PostgreSQL an event is
 * visible to readAll only once every transaction that got its id earlier has ended, on the
 * whole server (other test files, other databases): so read-your-own-append needs this.
 */
async function visible(store: EventStore, cursor: string): Promise<void> {
  const target = decodeCursor(cursor);
  for (let i = 0; i < 400; i++) {
    const head = await store.head();
    if (head && compareLogPositions(decodeCursor(head.cursor), target) >= 0) return;
    await sleep(25);
  }
  throw new Error(`the log did not become visible up to ${cursor} within 10 s`);
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('EventStore.readStream', () => {
  let t: TestDatabase;
  let store: EventStore;
  let timed: StoredEvent[];
  beforeAll(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    // Ten events over three transactions; another stream around it.
    await store.append('other', 'thing', [ev(100)]);
    await store.append('s', 'thing', [ev(1), ev(2), ev(3)], { expected: 'noStream' });
    await store.append('s', 'thing', [ev(4), ev(5), ev(6), ev(7)], { expected: 3 });
    await store.append('other', 'thing', [ev(101)]);
    await store.append('s', 'thing', [ev(8), ev(9), ev(10)], { expected: 7 });
    // One event per transaction, a few milliseconds apart, for reads as of a time.
    for (let n = 1; n <= 4; n++) {
      if (n > 1) await sleep(15);
      await store.append('timed', 'thing', [ev(n)]);
    }
    timed = await store.readStream('timed');
  });
  afterAll(() => t.dispose());

  it('reads the whole stream in version order by default', async () => {
    const all = await store.readStream('s');
    expect(all.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ns(all)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(all.map((e) => e.streamId))).toEqual(new Set(['s']));
    expect(all.every((e) => e.streamType === 'thing' && e.schemaVersion === 1)).toBe(true);
  });

  it('returns nothing for a stream that does not exist', async () => {
    expect(await store.readStream('nope')).toEqual([]);
  });

  it.each([
    ['fromVersion', { fromVersion: 4 }, [4, 5, 6, 7, 8, 9, 10]],
    ['fromVersion 0 (same as 1)', { fromVersion: 0 }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    ['fromVersion past the end', { fromVersion: 11 }, []],
    ['toVersion', { toVersion: 3 }, [1, 2, 3]],
    ['fromVersion and toVersion', { fromVersion: 3, toVersion: 5 }, [3, 4, 5]],
    ['toVersion below fromVersion', { fromVersion: 5, toVersion: 4 }, []],
    ['toVersion past the end', { toVersion: 99 }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    ['limit', { limit: 4 }, [1, 2, 3, 4]],
    ['fromVersion and limit', { fromVersion: 6, limit: 2 }, [6, 7]],
    ['backwards', { backwards: true }, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]],
    ['backwards with limit (the newest events)', { backwards: true, limit: 3 }, [10, 9, 8]],
    ['backwards between versions', { backwards: true, fromVersion: 2, toVersion: 5 }, [5, 4, 3, 2]],
  ])('%s', async (_, options, versions) => {
    const r = await store.readStream('s', options);
    expect(r.map((e) => e.version)).toEqual(versions);
    expect(ns(r)).toEqual(versions);
  });

  it('reads as of a time between two events', async () => {
    expect(timed.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    const [, second, third] = timed as [StoredEvent, StoredEvent, StoredEvent];
    expect(third.recordedAt.getTime()).toBeGreaterThan(second.recordedAt.getTime());
    const between = new Date((second.recordedAt.getTime() + third.recordedAt.getTime()) / 2);
    expect((await store.readStream('timed', { toTime: between })).map((e) => e.version)).toEqual([
      1, 2,
    ]);
    const before = new Date(timed[0]!.recordedAt.getTime() - 1);
    expect(await store.readStream('timed', { toTime: before })).toEqual([]);
    expect(await store.readStream('timed', { toTime: new Date(Date.now() + 60_000) })).toHaveLength(
      4,
    );
    const backwards = await store.readStream('timed', {
      toTime: between,
      backwards: true,
      limit: 1,
    });
    expect(backwards.map((e) => e.version)).toEqual([2]);
  });

  it('includes the event itself when asked for the state as of its own recordedAt', async () => {
    // recordedAt is a JS Date (milliseconds) while the column has microseconds: the time a
    // client was shown for an event must still include that event.
    for (const e of timed) {
      const r = await store.readStream('timed', { toTime: e.recordedAt });
      expect(r.map((x) => x.version)).toEqual(
        timed.filter((x) => x.version <= e.version).map((x) => x.version),
      );
    }
  });

  describe('refuses bad options before reading', () => {
    it.each([
      ['an empty stream id', '', {}, /streamId/],
      ['a stream id over 255 characters', 'x'.repeat(256), {}, /streamId/],
      ['a negative fromVersion', 's', { fromVersion: -1 }, /fromVersion/],
      ['a fractional fromVersion', 's', { fromVersion: 1.5 }, /fromVersion/],
      ['a negative toVersion', 's', { toVersion: -2 }, /toVersion/],
      [
        'a toVersion that is not a number',
        's',
        { toVersion: '3' as unknown as number },
        /toVersion/,
      ],
      ['a limit of 0', 's', { limit: 0 }, /limit/],
      ['a negative limit', 's', { limit: -5 }, /limit/],
      ['a NaN limit', 's', { limit: Number.NaN }, /limit/],
      ['an invalid date', 's', { toTime: new Date('nope') }, /toTime/],
      ['a toTime that is a string', 's', { toTime: '2024-01-01' as unknown as Date }, /toTime/],
    ])('%s', async (_, streamId, options, message) => {
      const db = counting(t.db);
      const err = await new EventStore(db).readStream(streamId, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(message);
      expect(db.calls).toBe(0);
    });
  });
});

describe('EventStore.readAll', () => {
  let t: TestDatabase;
  let store: EventStore;
  /** Every event, as one reader reading from the start in one go sees it. */
  let log: StoredEvent[];
  beforeAll(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    expect(await store.head()).toBeNull();
    expect(await store.readAll()).toEqual([]);
    let n = 0;
    let last!: AppendResult;
    // 28 events over 12 transactions: single events, batches, and commands over two streams.
    for (let round = 0; round < 4; round++) {
      await store.append(`order-${round}`, 'order', [ev(++n, 'OrderPlaced')]);
      await store.append(`cart-${round % 2}`, 'cart', [
        ev(++n, 'ItemAdded'),
        ev(++n, 'ItemAdded'),
        ev(++n, 'ItemRemoved'),
      ]);
      last = await store.appendMany([
        {
          streamId: `order-${round}`,
          streamType: 'order',
          events: [ev(++n, 'OrderPaid')],
          expected: 1,
        },
        {
          streamId: `pay-${round}`,
          streamType: 'payment',
          events: [ev(++n, 'PaymentTaken'), ev(++n, 'PaymentSettled')],
          expected: 'noStream',
        },
      ]);
    }
    await visible(store, last.cursor);
    log = await store.readAll({ limit: MAX_READ_LIMIT });
  });
  afterAll(() => t.dispose());

  it('reads every event from the start, in commit order', async () => {
    expect(ns(log)).toEqual(Array.from({ length: 28 }, (_, i) => i + 1));
    expect(new Set(ids(log)).size).toBe(28);
    expect(new Set(log.map((e) => e.cursor)).size).toBe(28);
    // Ordered by (transaction id, global position); positions are unique.
    for (let i = 1; i < log.length; i++) {
      const [a, b] = [log[i - 1]!, log[i]!];
      const ta = BigInt(a.transactionId);
      const tb = BigInt(b.transactionId);
      expect(ta < tb || (ta === tb && a.globalPosition < b.globalPosition)).toBe(true);
    }
    // The events of one command share one transaction id.
    const byTx = new Map<string, number>();
    for (const e of log) byTx.set(e.transactionId, (byTx.get(e.transactionId) ?? 0) + 1);
    expect([...byTx.values()].sort()).toEqual([1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  it('resuming from every cursor returns exactly the rest, in the same order', async () => {
    const all = ids(log);
    for (let i = 0; i < log.length; i++) {
      const rest = await store.readAll({ after: log[i]!.cursor, limit: MAX_READ_LIMIT });
      expect(ids(rest)).toEqual(all.slice(i + 1));
    }
  });

  it('pages through the log with any limit and gets the same sequence', async () => {
    for (const limit of [1, 2, 5, 7, 27, 28, 29]) {
      const seen: StoredEvent[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.readAll({ after, limit });
        expect(page.length).toBeLessThanOrEqual(limit);
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1]!.cursor;
      }
      expect(ids(seen)).toEqual(ids(log));
    }
  });

  it('resumes from the cursor an append returned', async () => {
    const r = await store.append('late', 'order', [ev(1000, 'OrderPlaced'), ev(1001, 'OrderPaid')]);
    await visible(store, r.cursor);
    try {
      const after = await store.readAll({ after: log[log.length - 1]!.cursor });
      expect(after.map((e) => e.cursor)).toEqual(r.events.map((e) => e.cursor));
      expect(after[after.length - 1]!.cursor).toBe(r.cursor);
      expect(await store.readAll({ after: r.cursor })).toEqual([]);
    } finally {
      log = await store.readAll({ limit: MAX_READ_LIMIT });
    }
  });

  it.each([
    ['streamTypes', { streamTypes: ['payment'] }, (e: StoredEvent) => e.streamType === 'payment'],
    [
      'several streamTypes',
      { streamTypes: ['payment', 'cart'] },
      (e: StoredEvent) => e.streamType !== 'order',
    ],
    [
      'eventTypes',
      { eventTypes: ['ItemAdded', 'OrderPaid'] },
      (e: StoredEvent) => ['ItemAdded', 'OrderPaid'].includes(e.type),
    ],
    ['streamId', { streamId: 'order-2' }, (e: StoredEvent) => e.streamId === 'order-2'],
    [
      'streamTypes and eventTypes',
      { streamTypes: ['order'], eventTypes: ['OrderPaid'] },
      (e: StoredEvent) => e.streamType === 'order' && e.type === 'OrderPaid',
    ],
    ['a filter nothing matches', { eventTypes: ['Unknown'] }, () => false],
    ['empty filter lists (no filter)', { streamTypes: [], eventTypes: [] }, () => true],
  ])('filters by %s, in commit order, resumable', async (_, filter, keep) => {
    const expected = log.filter(keep);
    const got = await store.readAll({ ...filter, limit: MAX_READ_LIMIT });
    expect(ids(got)).toEqual(ids(expected));
    // Paging through a filtered feed with its own cursors gives the same events.
    const paged: StoredEvent[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const page = await store.readAll({ ...filter, after, limit: 2 });
      if (page.length === 0) break;
      paged.push(...page);
      after = page[page.length - 1]!.cursor;
    }
    expect(ids(paged)).toEqual(ids(expected));
    // A cursor from the unfiltered log works for a filtered read too.
    const mid = log[11]!;
    const rest = await store.readAll({ ...filter, after: mid.cursor, limit: MAX_READ_LIMIT });
    expect(ids(rest)).toEqual(ids(log.slice(12).filter(keep)));
  });

  it('head() is the newest event readers can see', async () => {
    const head = await store.head();
    const last = log[log.length - 1]!;
    expect(head).toEqual({
      cursor: last.cursor,
      globalPosition: last.globalPosition,
      recordedAt: last.recordedAt,
    });
    expect(await store.readAll({ after: head!.cursor })).toEqual([]);
  });

  describe('limit bounds', () => {
    it('returns at most limit events, up to the maximum', async () => {
      expect(await store.readAll({ limit: 1 })).toHaveLength(1);
      expect(ids(await store.readAll({ limit: 5 }))).toEqual(ids(log.slice(0, 5)));
      expect(await store.readAll({ limit: MAX_READ_LIMIT })).toHaveLength(log.length);
      expect(await store.readAll()).toHaveLength(log.length); // default 1000
    });

    it.each([
      ['0', 0],
      ['negative', -1],
      ['fractional', 2.5],
      ['NaN', Number.NaN],
      ['a string', '10' as unknown as number],
      ['over the maximum', MAX_READ_LIMIT + 1],
    ])('refuses a limit that is %s without reading', async (_, limit) => {
      const db = counting(t.db);
      const err = await new EventStore(db).readAll({ limit }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field: 'limit' });
      expect(db.calls).toBe(0);
    });
  });

  describe('malformed cursors are an InvalidCursorError and nothing is read', () => {
    const valid = () => log[3]!.cursor;
    const body = () => valid().slice(3);
    it.each<[string, () => unknown]>([
      ['garbage', () => 'garbage'],
      ['an empty string', () => ''],
      ['a bare prefix', () => 'c1.'],
      ['a wrong prefix', () => `c2.${body()}`],
      ['no prefix', () => body()],
      ['an upper-case prefix', () => `C1.${body()}`],
      ['standard base64 padding', () => `${valid()}=`],
      ['characters outside base64url', () => `c1.${body().slice(0, -1)}+`],
      ['a tampered body (a character removed)', () => `c1.${body().slice(1)}`],
      ['a tampered body (a character appended)', () => `${valid()}A`],
      [
        'a tampered body (a character changed)',
        () => `c1.${body().slice(0, 1) === 'Z' ? 'Y' : 'Z'}${body().slice(1)}`,
      ],
      ['an encoded non-number', () => `c1.${b64('abc:1')}`],
      ['an encoded position only', () => `c1.${b64('12345')}`],
      ['three parts', () => `c1.${b64('1:2:3')}`],
      ['a negative position', () => `c1.${b64('5:-1')}`],
      ['whitespace', () => `c1.${b64(' 5:1')}`],
      ['a transaction id over 64 bits', () => `c1.${b64('99999999999999999999:1')}`],
      ['a transaction id of exactly 2^64', () => `c1.${b64('18446744073709551616:1')}`],
      ['a transaction id of 21 digits', () => `c1.${b64(`${'9'.repeat(21)}:1`)}`],
      ['a position over 2^53', () => `c1.${b64('5:9007199254740993')}`],
      ['a position of 17 digits', () => `c1.${b64('5:12345678901234567')}`],
      ['an overlong cursor', () => `c1.${'A'.repeat(200)}`],
      ['a number instead of a string', () => 42],
      ['an object instead of a string', () => ({ transactionId: '1', globalPosition: 1 })],
    ])('%s', async (_, cursor) => {
      const db = counting(t.db);
      const err = await new EventStore(db)
        .readAll({ after: cursor() as string })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidCursorError);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field: 'cursor' });
      expect(db.calls).toBe(0);
    });

    it('accepts any well-formed position, even one never handed out', async () => {
      // Cursors are not signed: a well-formed position is a position.
      const first = log[0]!;
      const rest = await store.readAll({
        after: encodeCursor({
          transactionId: first.transactionId,
          globalPosition: first.globalPosition,
        }),
      });
      expect(ids(rest)).toEqual(ids(log.slice(1)));
      expect(await store.readAll({ after: `c1.${b64('0000:0')}` })).toHaveLength(log.length);
      expect(await store.readAll({ after: `c1.${b64('18446744073709551615:1')}` })).toEqual([]);
    });
  });
});

describe('readAll orders transaction ids as numbers', () => {
  // Transaction ids of different lengths ('99' and '100') only meet when the server's
  // counter crosses a power of ten, so these rows are written with chosen ids (all older
  // than any real transaction, hence visible). Positions are deliberately out of id order.
  let t: TestDatabase;
  let store: EventStore;
  const rows: [xid: string, n: number][] = [
    ['100', 1],
    ['99', 2],
    ['9', 3],
    ['101', 4],
    ['100', 5],
    ['10', 6],
  ];
  const expected = [3, 6, 2, 1, 5, 4]; // by (transaction id, global position)
  beforeAll(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    for (const [xid, n] of rows) {
      await t.db.query(
        `INSERT INTO events (event_id, stream_id, stream_type, event_type, schema_version, stream_version, data, metadata, transaction_id)
         VALUES (gen_random_uuid(), 'tx-' || $1::text, 'thing', 'Thing', 1, $2, jsonb_build_object('n', $2::int), '{}', $3::xid8)`,
        [n, n, xid],
      );
    }
  });
  afterAll(() => t.dispose());

  it('reads in numeric transaction id order, and resumes without skipping or repeating', async () => {
    const all = await store.readAll();
    expect(ns(all)).toEqual(expected);
    for (let i = 0; i < all.length; i++) {
      expect(ns(await store.readAll({ after: all[i]!.cursor }))).toEqual(expected.slice(i + 1));
    }
    for (const limit of [1, 2, 4]) {
      const seen: StoredEvent[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const page = await store.readAll({ after, limit });
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1]!.cursor;
      }
      expect(ns(seen)).toEqual(expected);
    }
  });

  it('head() is the event with the largest transaction id', async () => {
    const head = await store.head();
    const last = (await store.readAll()).at(-1)!;
    expect(last.transactionId).toBe('101');
    expect(head?.cursor).toBe(last.cursor);
  });
});

describe('upcasting on read', () => {
  let t: TestDatabase;
  let store: EventStore;
  const upcasters = new UpcasterRegistry()
    // v1 {sku, qty} → v2 {sku, quantity} → v3 {sku, quantity, unit}
    .register('ItemAdded', 1, (d: { sku: string; qty: number }) => ({
      sku: d.sku,
      quantity: d.qty,
    }))
    .register('ItemAdded', 2, (d: { sku: string; quantity: number }) => ({ ...d, unit: 'each' }));
  beforeAll(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db, { upcasters });
    await store.append('cart-1', 'cart', [
      { type: 'ItemAdded', schemaVersion: 1, data: { sku: 'A', qty: 1 } },
      { type: 'ItemAdded', schemaVersion: 2, data: { sku: 'B', quantity: 2 } },
      { type: 'CartOpened', data: { qty: 'not touched' } },
    ]);
    const r = await store.append('cart-1', 'cart', [
      { type: 'ItemAdded', data: { sku: 'C', quantity: 3, unit: 'box' } },
      { type: 'ItemAdded', schemaVersion: 1, data: { sku: 'D', qty: 4 } },
    ]);
    await visible(store, r.cursor);
  });
  afterAll(() => t.dispose());

  const current = [
    { sku: 'A', quantity: 1, unit: 'each' },
    { sku: 'B', quantity: 2, unit: 'each' },
    { sku: 'C', quantity: 3, unit: 'box' },
    { sku: 'D', quantity: 4, unit: 'each' },
  ];

  it('stamps new events with the current schema version', () => {
    expect(upcasters.currentVersion('ItemAdded')).toBe(3);
    expect(upcasters.currentVersion('CartOpened')).toBe(1);
  });

  it('readStream returns old events in the current shape and version', async () => {
    const events = await store.readStream('cart-1');
    const items = events.filter((e) => e.type === 'ItemAdded');
    expect(items.map((e) => e.data)).toEqual(current);
    expect(items.map((e) => e.schemaVersion)).toEqual([3, 3, 3, 3]);
    const other = events.find((e) => e.type === 'CartOpened')!;
    expect(other).toMatchObject({ schemaVersion: 1, data: { qty: 'not touched' } });
  });

  it('readAll returns them upcast too (also when filtered by type)', async () => {
    const all = await store.readAll({ eventTypes: ['ItemAdded'] });
    expect(all.map((e) => e.data)).toEqual(current);
    expect(all.every((e) => e.schemaVersion === 3)).toBe(true);
  });

  it('leaves the stored events as they were written', async () => {
    const r = await t.db.query<{ schema_version: number; data: unknown }>(
      `SELECT schema_version, data FROM events WHERE event_type = 'ItemAdded' ORDER BY stream_version`,
    );
    expect(r.rows).toEqual([
      { schema_version: 1, data: { sku: 'A', qty: 1 } },
      { schema_version: 2, data: { sku: 'B', quantity: 2 } },
      { schema_version: 3, data: { sku: 'C', quantity: 3, unit: 'box' } },
      { schema_version: 1, data: { sku: 'D', qty: 4 } },
    ]);
    // A store without the upcasters sees the raw shapes.
    const raw = await new EventStore(t.db).readStream('cart-1', { toVersion: 1 });
    expect(raw[0]).toMatchObject({ schemaVersion: 1, data: { sku: 'A', qty: 1 } });
  });

  it('refuses to register one step twice', () => {
    expect(() =>
      new UpcasterRegistry().register('X', 1, (d) => d).register('X', 1, (d) => d),
    ).toThrow(/twice/);
  });
});

describe('SnapshotStore', () => {
  let t: TestDatabase;
  let snapshots: SnapshotStore;
  beforeAll(async () => {
    t = await createTestDatabase();
    snapshots = new SnapshotStore(t.db, 1024);
    for (const version of [10, 20, 30]) {
      await snapshots.save({
        streamId: 'order-1',
        version,
        schemaVersion: 2,
        state: { at: version, shape: 2 },
      });
    }
    await snapshots.save({
      streamId: 'order-1',
      version: 40,
      schemaVersion: 1,
      state: { at: 40, shape: 1 },
    });
    await snapshots.save({
      streamId: 'order-2',
      version: 50,
      schemaVersion: 2,
      state: { at: 50, shape: 2 },
    });
  });
  afterAll(() => t.dispose());

  it('loads the newest snapshot of the schema version', async () => {
    expect(await snapshots.loadLatest('order-1', 2)).toEqual({
      streamId: 'order-1',
      version: 30,
      schemaVersion: 2,
      state: { at: 30, shape: 2 },
    });
  });

  it.each([
    [35, 30],
    [30, 30],
    [29, 20],
    [20, 20],
    [10, 10],
    [9, null],
    [0, null],
  ])('loads the newest at or below version %i', async (atOrBelow, version) => {
    const s = await snapshots.loadLatest<{ at: number }>('order-1', 2, atOrBelow);
    expect(s?.version ?? null).toBe(version);
    if (s) expect(s.state.at).toBe(version);
  });

  it('ignores a snapshot of another schema version, even a newer one', async () => {
    // Version 40 exists, but in schema 1: schema 2 readers fall back to 30.
    expect((await snapshots.loadLatest('order-1', 2, 45))?.version).toBe(30);
    expect(await snapshots.loadLatest('order-1', 1)).toMatchObject({
      version: 40,
      state: { shape: 1 },
    });
    expect(await snapshots.loadLatest('order-1', 1, 39)).toBeNull();
    expect(await snapshots.loadLatest('order-1', 3)).toBeNull();
  });

  it('does not mix streams, and finds nothing for an unknown stream', async () => {
    expect((await snapshots.loadLatest('order-2', 2))?.version).toBe(50);
    expect(await snapshots.loadLatest('order-3', 2)).toBeNull();
  });

  it('keeps the first snapshot saved at a version', async () => {
    await snapshots.save({
      streamId: 'order-2',
      version: 50,
      schemaVersion: 2,
      state: { other: true },
    });
    expect((await snapshots.loadLatest('order-2', 2))?.state).toEqual({ at: 50, shape: 2 });
  });

  describe('bad input gets a clear error and touches nothing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const good = { streamId: 'bad', version: 1, schemaVersion: 1, state: {} };
    it.each<[string, (s: SnapshotStore) => Promise<unknown>, RegExp]>([
      ['an empty stream id', (s) => s.save({ ...good, streamId: '' }), /streamId/],
      ['version 0', (s) => s.save({ ...good, version: 0 }), /version/],
      ['a fractional version', (s) => s.save({ ...good, version: 1.5 }), /version/],
      ['schema version 0', (s) => s.save({ ...good, schemaVersion: 0 }), /schemaVersion/],
      ['a missing state', (s) => s.save({ ...good, state: undefined }), /state/],
      ['a circular state', (s) => s.save({ ...good, state: circular }), /circular/],
      [
        'a state over the size limit',
        (s) => s.save({ ...good, state: 'x'.repeat(2000) }),
        /over the limit of 1024/,
      ],
      ['loading with an empty stream id', (s) => s.loadLatest('', 1), /streamId/],
      ['loading a fractional schema version', (s) => s.loadLatest('order-1', 1.5), /schemaVersion/],
      ['loading schema version 0', (s) => s.loadLatest('order-1', 0), /schemaVersion/],
      ['loading at a fractional version', (s) => s.loadLatest('order-1', 2, 2.5), /atOrBelow/],
      ['loading at a negative version', (s) => s.loadLatest('order-1', 2, -1), /atOrBelow/],
    ])('%s', async (_, act, message) => {
      const db = counting(t.db);
      const err = await act(new SnapshotStore(db, 1024)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(message);
      expect(db.calls).toBe(0);
      const r = await t.db.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM snapshots WHERE stream_id = 'bad'`,
      );
      expect(r.rows[0]!.n).toBe(0);
    });
  });
});
