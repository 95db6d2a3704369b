import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConcurrencyError,
  EventStore,
  IdempotencyConflictError,
  InvalidInputError,
  type NewEvent,
} from '../../src/eventstore/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const ev = (n: number): NewEvent => ({ type: 'Thing', data: { n } });

async function countEvents(t: TestDatabase): Promise<number> {
  const r = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM events');
  return r.rows[0]!.n;
}

describe('EventStore.append', () => {
  let t: TestDatabase;
  let store: EventStore;
  beforeEach(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db, { maxEventBytes: 1024 });
  });
  afterEach(() => t.dispose());

  it('writes consecutive versions and returns cursors in order', async () => {
    const a = await store.append('s-1', 'thing', [ev(1), ev(2)], { expected: 'noStream' });
    const b = await store.append('s-1', 'thing', [ev(3)], { expected: 2 });
    expect(a.streams).toEqual([{ streamId: 's-1', version: 2 }]);
    expect(b.streams).toEqual([{ streamId: 's-1', version: 3 }]);
    expect(a.events.map((e) => e.version)).toEqual([1, 2]);
    expect(a.duplicate).toBe(false);
    const read = await store.readStream('s-1');
    expect(read.map((e) => [e.version, (e.data as { n: number }).n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(read[2]!.cursor).toBe(b.cursor);
    expect(typeof read[0]!.globalPosition).toBe('number');
    expect(read[0]!.recordedAt).toBeInstanceOf(Date);
    expect(await store.streamVersion('s-1')).toBe(3);
    expect(await store.streamVersion('nope')).toBe(0);
  });

  it.each([
    ['noStream on an existing stream', 'noStream' as const, 1],
    ['an exact version that is behind', 0, 1],
    ['an exact version that is ahead', 5, 1],
  ])(
    'refuses %s with a ConcurrencyError naming stream, expected and actual',
    async (_, expected, actual) => {
      await store.append('s-2', 'thing', [ev(1)]);
      const err = await store
        .append('s-2', 'thing', [ev(2)], { expected })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConcurrencyError);
      expect(err).toMatchObject({ streamId: 's-2', expected, actual });
      expect(await countEvents(t)).toBe(1);
    },
  );

  it('refuses streamExists on a new stream and accepts it on an existing one', async () => {
    await expect(
      store.append('s-3', 'thing', [ev(1)], { expected: 'streamExists' }),
    ).rejects.toMatchObject({
      name: 'ConcurrencyError',
      expected: 'streamExists',
      actual: 0,
    });
    await store.append('s-3', 'thing', [ev(1)], { expected: 'any' });
    const r = await store.append('s-3', 'thing', [ev(2)], { expected: 'streamExists' });
    expect(r.streams[0]!.version).toBe(2);
  });

  it('replays a command id with the same input: first result, nothing written', async () => {
    const commandId = randomUUID();
    const first = await store.append('s-4', 'thing', [ev(1)], { commandId, expected: 'noStream' });
    const again = await store.append('s-4', 'thing', [ev(1)], { commandId, expected: 'noStream' });
    expect(again.duplicate).toBe(true);
    expect({ ...again, duplicate: false }).toEqual(first);
    expect(await countEvents(t)).toBe(1);
  });

  it('refuses a command id reused with different input', async () => {
    const commandId = randomUUID();
    await store.append('s-5', 'thing', [ev(1)], { commandId });
    const err = await store.append('s-5', 'thing', [ev(2)], { commandId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err).toMatchObject({ commandId });
    expect(await countEvents(t)).toBe(1);
  });

  it('appends many streams at once: versions go on from each stream, events in stream order, a replay answers the same', async () => {
    await store.append('m-2', 'thing', [ev(1), ev(2)]);
    const commandId = randomUUID();
    const streams = [
      {
        streamId: 'm-1',
        streamType: 'thing',
        events: [ev(1), ev(2)],
        expected: 'noStream' as const,
      },
      { streamId: 'm-2', streamType: 'thing', events: [ev(3)], expected: 2 },
      {
        streamId: 'm-3',
        streamType: 'other',
        events: [ev(4), ev(5), ev(6)],
        expected: 'any' as const,
      },
    ];
    const r = await store.appendMany(streams, { commandId });
    expect(r.duplicate).toBe(false);
    expect(r.streams).toEqual([
      { streamId: 'm-1', version: 2 },
      { streamId: 'm-2', version: 3 },
      { streamId: 'm-3', version: 3 },
    ]);
    expect(r.events.map((e) => [e.streamId, e.version])).toEqual([
      ['m-1', 1],
      ['m-1', 2],
      ['m-2', 3],
      ['m-3', 1],
      ['m-3', 2],
      ['m-3', 3],
    ]);
    const positions = r.events.map((e) => e.globalPosition);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const m3 = await store.readStream('m-3');
    expect(m3.map((e) => [e.streamType, e.version, e.data])).toEqual([
      ['other', 1, { n: 4 }],
      ['other', 2, { n: 5 }],
      ['other', 3, { n: 6 }],
    ]);
    expect(m3.map((e) => e.eventId)).toEqual(r.events.slice(3).map((e) => e.eventId));
    const again = await store.appendMany(streams, { commandId });
    expect(again).toMatchObject({
      duplicate: true,
      transactionId: r.transactionId,
      streams: r.streams,
    });
    expect(await countEvents(t)).toBe(8);
  });

  it('is atomic across streams: one failing expectation writes nothing at all', async () => {
    await store.append('b', 'thing', [ev(1)]);
    const commandId = randomUUID();
    await expect(
      store.appendMany(
        [
          { streamId: 'a', streamType: 'thing', events: [ev(1), ev(2)], expected: 'noStream' },
          { streamId: 'b', streamType: 'thing', events: [ev(3)], expected: 'noStream' },
        ],
        { commandId },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await countEvents(t)).toBe(1);
    expect(await store.streamVersion('a')).toBe(0);
    // The command id was not consumed by the failed attempt.
    const r = await store.append('a', 'thing', [ev(1)], { commandId });
    expect(r.duplicate).toBe(false);
  });

  it('is atomic when the database refuses one event of a batch', async () => {
    const id = randomUUID();
    await store.append('c', 'thing', [{ ...ev(1), eventId: id }]);
    await expect(store.append('d', 'thing', [ev(1), { ...ev(2), eventId: id }])).rejects.toThrow();
    expect(await countEvents(t)).toBe(1);
    expect(await store.streamVersion('d')).toBe(0);
  });

  it('stores metadata, correlation and causation ids', async () => {
    await store.append('m', 'thing', [{ ...ev(1), metadata: { causationId: 'cause-1' } }], {
      metadata: { userId: 'u1', correlationId: 'corr-1', causationId: 'cmd' },
    });
    const [e] = await store.readStream('m');
    expect(e!.metadata).toEqual({ userId: 'u1', correlationId: 'corr-1', causationId: 'cause-1' });
    expect(e!.correlationId).toBe('corr-1');
    expect(e!.causationId).toBe('cause-1');
  });

  it('refuses updates and deletes of events at the database level', async () => {
    await store.append('x', 'thing', [ev(1)]);
    await expect(t.db.query(`UPDATE events SET data = '{}'`)).rejects.toThrow(/append-only/);
    await expect(t.db.query(`DELETE FROM events`)).rejects.toThrow(/append-only/);
    expect(await countEvents(t)).toBe(1);
  });

  describe('bad input gets a clear error and writes nothing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    it.each([
      ['an empty event list', () => store.append('s', 'thing', []), /at least one event/],
      ['an empty stream id', () => store.append('', 'thing', [ev(1)]), /streamId/],
      [
        'a stream id over 255 characters',
        () => store.append('x'.repeat(256), 'thing', [ev(1)]),
        /255/,
      ],
      ['an empty stream type', () => store.append('s', ' ', [ev(1)]), /streamType/],
      [
        'a stream type over 255 characters',
        () => store.append('s', 't'.repeat(256), [ev(1)]),
        /255/,
      ],
      ['an empty event type', () => store.append('s', 'thing', [{ type: '', data: {} }]), /type/],
      [
        'a circular payload',
        () => store.append('s', 'thing', [{ type: 'T', data: circular }]),
        /circular/,
      ],
      [
        'a bigint payload',
        () => store.append('s', 'thing', [{ type: 'T', data: { n: 1n } }]),
        /bigint/,
      ],
      [
        'a NaN payload',
        () => store.append('s', 'thing', [{ type: 'T', data: { n: NaN } }]),
        /finite/,
      ],
      [
        'a Date payload',
        () => store.append('s', 'thing', [{ type: 'T', data: { d: new Date() } }]),
        /plain object/,
      ],
      [
        'a function payload',
        () => store.append('s', 'thing', [{ type: 'T', data: () => 1 }]),
        /function/,
      ],
      [
        'a missing payload',
        () => store.append('s', 'thing', [{ type: 'T', data: undefined }]),
        /missing/,
      ],
      [
        'a NUL character',
        () => store.append('s', 'thing', [{ type: 'T', data: 'a\u0000b' }]),
        /NUL/,
      ],
      [
        'a payload over the size limit',
        () => store.append('s', 'thing', [{ type: 'T', data: 'x'.repeat(2000) }]),
        /over the limit of 1024/,
      ],
      [
        'a malformed command id',
        () => store.append('s', 'thing', [ev(1)], { commandId: 'nope' }),
        /commandId/,
      ],
      [
        'a negative expected version',
        () => store.append('s', 'thing', [ev(1)], { expected: -1 }),
        /expected/,
      ],
      [
        'a stream twice in one append',
        () =>
          store.appendMany([
            { streamId: 's', streamType: 't', events: [ev(1)], expected: 'any' },
            { streamId: 's', streamType: 't', events: [ev(1)], expected: 'any' },
          ]),
        /twice/,
      ],
    ])('%s', async (_, act, message) => {
      const err = await act().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(message);
      expect(await countEvents(t)).toBe(0);
    });
  });
});
