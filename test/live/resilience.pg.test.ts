import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openPostgres } from '../../src/db/postgres.js';
import { EventStore } from '../../src/eventstore/store.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import { startTestApp, useTestApp } from '../support/app.js';
import { collect, wsClient, type WsSession } from '../support/live.js';
import { payOrder, seedOrder } from '../support/seed.js';

const EVENTS = `subscription($after: Cursor) { events(after: $after) { cursor type streamId version } }`;
const TIMELINE = `subscription($id: ID!) { orderTimeline(orderId: $id) { cursor type version } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readEverything(store: EventStore, after: string | null): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await store.readAll({ after: cursor, limit: 1000 });
    if (!page.length) return out;
    out.push(...page);
    cursor = page[page.length - 1]!.cursor;
  }
}

describe('live delivery under faults (PostgreSQL)', () => {
  // Exact counts of the log: no fulfillment process appending to it meanwhile.
  const { t, s } = useTestApp({
    overrides: { live: { bufferSize: 50, maxSocketBacklog: 512 * 1024 }, fulfillment: false },
  });
  const sessions: WsSession[] = [];
  afterAll(async () => {
    for (const x of sessions) await x.dispose();
  });
  const open = (authorization: string, url = s.url) => {
    const x = wsClient(url, authorization);
    sessions.push(x);
    return x;
  };

  it('a lost LISTEN connection loses and repeats nothing', async () => {
    const admin = (await s.auth({ role: 'admin' })).authorization;
    const start = (await s.app.store.append('marker', 'marker', [{ type: 'Marker', data: {} }]))
      .cursor;
    const feeds = [0, 1, 2].map(() =>
      collect<any>(open(admin), EVENTS, { after: start }, 'events'),
    );
    const store = new EventStore(t.db);
    const pidBefore = s.app.notifier.backendPid();
    expect(pidBefore).toBeGreaterThan(0);
    for (let i = 0; i < 60; i++) {
      await store.append(`lost-${i % 5}`, 'thing', [{ type: 'Happened', data: { i } }]);
      if (i === 20 || i === 40) {
        await t.db.query('SELECT pg_terminate_backend($1)', [s.app.notifier.backendPid()]);
      }
      await sleep(5);
    }
    const expected = (await readEverything(store, start)).map((e) => e.cursor);
    for (const feed of feeds) {
      const got = await feed.waitFor(expected.length, 20_000);
      expect(got.map((e) => e.cursor)).toEqual(expected);
    }
    await sleep(300);
    for (const feed of feeds) expect(feed.items).toHaveLength(expected.length);
    expect(s.app.notifier.reconnects).toBeGreaterThanOrEqual(1);
    expect(s.app.notifier.backendPid()).not.toBe(pidBefore);
  });

  it('a mutation through one server process reaches a subscriber on another', async () => {
    const other = await startTestApp(
      {
        ...t,
        db: openPostgres({ connectionString: t.url!, max: 5 }),
      },
      {},
      { fulfillment: false },
    );
    try {
      const seeded = await seedOrder(s);
      const feed = collect<any>(
        open(seeded.customer.authorization, other.url),
        TIMELINE,
        { id: seeded.orderId },
        'orderTimeline',
      );
      await feed.waitFor(1);
      await payOrder(s, seeded); // through process A
      const [, paid] = await feed.waitFor(2);
      expect(paid).toMatchObject({ type: 'OrderPaid', version: 2 });
    } finally {
      await other.stop();
      await other.app.db.close();
    }
  });

  it('with writers holding transactions open, the events feed delivers exactly what readAll returns, in order', async () => {
    const admin = (await s.auth({ role: 'admin' })).authorization;
    const start = (await s.app.store.append('marker', 'marker', [{ type: 'Marker', data: {} }]))
      .cursor;
    const feed = collect<any>(open(admin), EVENTS, { after: start }, 'events');
    const writers = Array.from({ length: 8 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 15; i++) {
          await t.db.transaction(async (tx) => {
            await new EventStore(tx).append(`co-${w}-${i % 3}`, 'thing', [
              { type: 'Happened', data: { w, i } },
            ]);
            await sleep(Math.random() * 30);
          });
        }
      })(),
    );
    await Promise.all(writers);
    // Readers see the log up to the oldest running transaction: wait for any projection
    // or lease transaction of the app to end before taking the expectation.
    let expected: string[] = [];
    for (let i = 0; i < 100 && expected.length < 120; i++) {
      expected = (await readEverything(s.app.store, start)).map((e) => e.cursor);
      if (expected.length < 120) await sleep(100);
    }
    expect(expected).toHaveLength(120);
    const got = await feed.waitFor(120, 20_000);
    expect(got.map((e) => e.cursor)).toEqual(expected);
  });

  it('cuts off a subscriber that stops reading, with its cursor, while a normal one gets everything', async () => {
    const admin = (await s.auth({ role: 'admin' })).authorization;
    const start = (await s.app.store.append('marker', 'marker', [{ type: 'Marker', data: {} }]))
      .cursor;
    const normal = collect<any>(open(admin), EVENTS, { after: start }, 'events');

    const slow = new WebSocket(`${s.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: any[] = [];
    slow.on('message', (m) => messages.push(JSON.parse(String(m))));
    await new Promise((r) => slow.once('open', r));
    slow.send(JSON.stringify({ type: 'connection_init', payload: { authorization: admin } }));
    while (!messages.some((m) => m.type === 'connection_ack')) await sleep(10);
    // Live from now (a replaying subscriber pulls pages on demand and cannot overflow).
    const before = s.app.services.live.subscriptionCount;
    // The slow one asks for the payloads (200 kB each), so the bytes pile up past what the
    // loopback TCP buffers absorb; the normal one asks only for cursors.
    const withData = `subscription { events { cursor type data } }`;
    slow.send(
      JSON.stringify({
        id: 'slow',
        type: 'subscribe',
        payload: { query: withData, variables: {} },
      }),
    );
    while (s.app.services.live.subscriptionCount === before) await sleep(10);
    slow.pause(); // stop reading: the server's send buffer fills

    const big = 'x'.repeat(200_000); // loopback TCP buffers absorb tens of MB: send more than that
    for (let i = 0; i < 300; i++) {
      await s.app.store.append(`big-${i % 10}`, 'thing', [{ type: 'Big', data: { i, big } }]);
      if (i % 5 === 0) await sleep(5); // a pace the normal subscriber can follow on this shared event loop
    }
    await normal.waitFor(300, 60_000);

    slow.resume();
    const deadline = Date.now() + 20_000;
    while (
      !messages.some((m) => m.type === 'complete' || m.type === 'error') &&
      Date.now() < deadline
    )
      await sleep(20);
    const last = messages.filter((m) => m.id === 'slow' && m.type === 'next').at(-1);
    expect(last.payload.errors[0].extensions).toMatchObject({ code: 'SLOW_CONSUMER' });
    const resumeFrom = last.payload.errors[0].extensions.cursor as string;
    const delivered = messages
      .filter((m) => m.type === 'next' && m.payload.data)
      .map((m) => m.payload.data.events.cursor);
    expect(delivered.length).toBeLessThan(300);
    if (delivered.length) expect(resumeFrom).toBe(delivered.at(-1));
    expect(messages.at(-1).type).toBe('complete');
    slow.close();
    expect(normal.items).toHaveLength(300);
  });
});
