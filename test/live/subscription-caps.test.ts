import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient, type Collected, type WsSession } from '../support/live.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { until } from '../support/wait.js';

const TIMELINE = `subscription($id: ID!) { orderTimeline(orderId: $id) { type version } }`;

/** Waits for the subscription's first event, or for the error it was refused with. */
async function outcome(feed: Collected<unknown>) {
  await until(() => feed.items.length > 0 || feed.errors.length > 0, 'a result');
  return feed.errors.length ? { refused: feed.errors } : { live: true };
}

describe(`subscription caps on ${engine}`, () => {
  /** At most 2 per connection and 3 per principal. */
  const { s } = useTestApp({
    env: {
      STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
      STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '3',
    },
  });
  let seeded: Seeded;
  const sessions: WsSession[] = [];
  const open = (authorization: string) => {
    const x = wsClient(s.url, authorization);
    sessions.push(x);
    return x;
  };
  const held = () => s.app.services.live.subscriptionCount;
  beforeAll(async () => {
    seeded = await seedOrder(s);
  });
  afterAll(async () => {
    for (const x of sessions) await x.dispose();
  });

  const watch = (ws: WsSession) =>
    collect<unknown>(ws, TIMELINE, { id: seeded.orderId }, 'orderTimeline');

  it('refuses a subscription over the cap of its connection, holding nothing; ending one frees its slot', async () => {
    const admin = await s.auth({ role: 'admin' });
    const ws = open(admin.authorization);
    const before = held();
    const a = watch(ws);
    const b = watch(ws);
    expect(await outcome(a)).toEqual({ live: true });
    expect(await outcome(b)).toEqual({ live: true });
    expect(held()).toBe(before + 2);

    const c = watch(ws);
    const refused = await outcome(c);
    expect(JSON.stringify(refused)).toContain('TOO_MANY_SUBSCRIPTIONS');
    expect((c.errors[0] as any).extensions).toMatchObject({
      code: 'TOO_MANY_SUBSCRIPTIONS',
      cap: 'connection',
      limit: 'STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION',
      max: 2,
    });
    expect(held()).toBe(before + 2);

    a.stop(); // the client completes one
    await until(() => held() === before + 1, 'the slot to be freed');
    const d = watch(ws);
    expect(await outcome(d)).toEqual({ live: true });
    expect(held()).toBe(before + 2);
    b.stop();
    d.stop();
    await until(() => held() === before, 'all released');
  });

  it('refuses a principal over its cap across connections and SSE; closing a connection frees its slots', async () => {
    const customer = seeded.customer;
    const before = held();
    const ws1 = open(customer.authorization);
    const ws2 = open(customer.authorization);
    const feeds = [watch(ws1), watch(ws1), watch(ws2)];
    for (const f of feeds) expect(await outcome(f)).toEqual({ live: true });

    // A fourth, on a connection with room, over graphql-ws …
    const fourth = watch(ws2);
    const refused = await outcome(fourth);
    expect(JSON.stringify(refused)).toMatch(
      /TOO_MANY_SUBSCRIPTIONS.*principal|principal.*TOO_MANY/,
    );
    expect(JSON.stringify(refused)).toContain('STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL');
    // … or over SSE: refused too, nothing held.
    const [overSse] = await sse<any>(s.url, TIMELINE, { id: seeded.orderId }, customer, 1);
    expect(overSse.errors[0].extensions).toMatchObject({
      code: 'TOO_MANY_SUBSCRIPTIONS',
      cap: 'principal',
      max: 3,
    });
    expect(held()).toBe(before + 3);

    // Another principal is not affected.
    const other = open((await s.auth({ role: 'admin' })).authorization);
    const theirs = watch(other);
    expect(await outcome(theirs)).toEqual({ live: true });
    theirs.stop();

    // The connection goes away: its two slots come back.
    await ws1.dispose();
    await until(() => held() === before + 1, 'the closed connection to release its feeds');
    const again = watch(ws2);
    expect(await outcome(again)).toEqual({ live: true });
    // And an SSE subscription takes one while it runs, and gives it back when it ends.
    const [live] = await sse<any>(s.url, TIMELINE, { id: seeded.orderId }, customer, 1);
    expect(live.data.orderTimeline).toEqual({ type: 'OrderCreated', version: 1 });
    await until(() => held() === before + 2, 'the SSE subscription to be released');
    feeds[2]!.stop();
    again.stop();
    await until(() => held() === before, 'all released');
  });

  it('frees the slot of a subscription refused by its resolver', async () => {
    // A customer may not watch another customer's order: refused after the cap let it in.
    const stranger = await seedOrder(s);
    const ws = open(stranger.customer.authorization);
    for (let i = 0; i < 3; i++) {
      const f = watch(ws);
      expect(JSON.stringify(await outcome(f))).toContain('FORBIDDEN');
    }
    const own = collect<unknown>(ws, TIMELINE, { id: stranger.orderId }, 'orderTimeline');
    expect(await outcome(own)).toEqual({ live: true });
    await payOrder(s, stranger);
    await own.waitFor(2);
    own.stop();
  });
});
