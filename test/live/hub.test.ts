import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventStore } from '../../src/eventstore/store.js';
import {
  SlowConsumerError,
  SubscriptionHub,
  type LiveEvent,
  type Subscription,
} from '../../src/live/hub.js';
import { Notifier } from '../../src/eventstore/notifier.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

const logger = pino({ level: 'silent' });

async function take(sub: Subscription, n: number, timeoutMs = 10_000): Promise<LiveEvent[]> {
  const out: LiveEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const next = await Promise.race([
      sub.next(),
      new Promise<'timeout'>((r) =>
        setTimeout(() => r('timeout'), Math.max(1, deadline - Date.now())),
      ),
    ]);
    if (next === 'timeout') throw new Error(`only ${out.length} of ${n} events arrived`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe(`subscription hub on ${engine}`, () => {
  let t: TestDatabase;
  let store: EventStore;
  let notifier: Notifier;
  let hub: SubscriptionHub;

  beforeEach(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    notifier = new Notifier(t.db, logger, 1_000);
    await notifier.start();
    hub = new SubscriptionHub(store, notifier, logger, { bufferSize: 50 });
    await hub.start();
  });
  afterEach(async () => {
    await hub.stop();
    await notifier.stop();
    await t.dispose();
  });

  const append = (streamId: string, n = 1) =>
    store.append(
      streamId,
      'thing',
      Array.from({ length: n }, (_, i) => ({ type: 'Happened', data: { i } })),
    );

  it('replays a stream from its start, then goes live, with no gap and no duplicate', async () => {
    for (let i = 0; i < 5; i++) await append('x');
    await append('other', 3);
    const sub = hub.subscribe({ streamId: 'x' }, { replay: 'all' });
    const first = await take(sub, 2);
    // Appends land while the subscription is still replaying.
    const writes = (async () => {
      for (let i = 0; i < 10; i++) await append(i % 2 ? 'x' : 'other');
    })();
    const rest = await take(sub, 8);
    await writes;
    const versions = [...first, ...rest].map((e) => e.version);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await sub.return();
  });

  it('resumes from a cursor after a disconnect while appends continue: nothing lost, nothing twice', async () => {
    const sub = hub.subscribe({ streamTypes: ['thing'] }, { replay: 'none' });
    for (let i = 0; i < 3; i++) await append(`s${i}`);
    const seen = await take(sub, 3);
    await sub.return();
    for (let i = 3; i < 8; i++) await append(`s${i}`);
    const resumed = hub.subscribe(
      { streamTypes: ['thing'] },
      { replay: 'after', after: seen[2]!.cursor },
    );
    const later = (async () => {
      for (let i = 8; i < 10; i++) await append(`s${i}`);
    })();
    const rest = await take(resumed, 7);
    await later;
    expect([...seen, ...rest].map((e) => e.streamId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `s${i}`),
    );
    await resumed.return();
  });

  it('reads the store once per wake-up, however many subscribers there are', async () => {
    const subs = Array.from({ length: 50 }, () => hub.subscribe({}, { replay: 'none' }));
    const readsBefore = hub.reads;
    for (let i = 0; i < 10; i++) await append(`r${i}`);
    const got = await Promise.all(subs.map((s) => take(s, 10)));
    expect(got.every((events) => events.length === 10)).toBe(true);
    expect(hub.reads - readsBefore).toBeGreaterThan(0);
    expect(hub.reads - readsBefore).toBeLessThanOrEqual(10);
    for (const s of subs) await s.return();
  });

  it('cuts off a subscriber that does not read, with its cursor, and leaves the others alone', async () => {
    const slow = hub.subscribe({}, { replay: 'none' });
    const fast = hub.subscribe({}, { replay: 'none' });
    const received: LiveEvent[] = [];
    const consuming = (async () => {
      for await (const e of fast) {
        received.push(e);
        if (received.length === 80) break;
      }
    })();
    const firstSlow = await Promise.all([slow.next(), append('a')]).then(([r]) => r);
    expect(firstSlow.done).toBe(false);
    for (let i = 0; i < 79; i++) await append('a');
    await consuming;
    expect(received.map((e) => e.version)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    const err = await slow.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlowConsumerError);
    expect((err as SlowConsumerError).cursor).toBe(firstSlow.value!.cursor);
    expect(hub.subscriptionCount).toBe(0);
  });

  it('releases everything on unsubscribe: 1,000 cycles leave nothing behind', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) {
      const sub = hub.subscribe({ streamId: `c${i % 7}` }, { replay: i % 2 ? 'all' : 'none' });
      if (i % 100 === 0) await append(`c${i % 7}`);
      await sub.return();
    }
    expect(hub.subscriptionCount).toBe(0);
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(growth).toBeLessThan(30 * 1024 * 1024);
  });
});
