import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient, type WsSession } from '../support/live.js';
import { cancelOrder, payOrder, seedOrder } from '../support/seed.js';

const TIMELINE = `subscription($id: ID!, $after: Cursor) { orderTimeline(orderId: $id, after: $after) { cursor orderId type version status description at event { eventId streamId globalPosition } } }`;
const UPDATES = `subscription($c: ID) { orderUpdates(customerId: $c) { cursor orderId type status } }`;
const EVENTS = `subscription($after: Cursor) { events(after: $after) { cursor type streamId } }`;

describe(`subscriptions over graphql-ws and SSE on ${engine}`, () => {
  // Exact event sequences of the write side: no fulfillment process adding to them.
  const { s } = useTestApp({ overrides: { fulfillment: false } });
  const sessions: WsSession[] = [];
  afterAll(async () => {
    for (const x of sessions) await x.dispose();
  });
  const open = (authorization?: string) => {
    const x = wsClient(s.url, authorization);
    sessions.push(x);
    return x;
  };

  it('orderTimeline replays the order from its start, then stays live', async () => {
    const seeded = await seedOrder(s);
    const ws = open(seeded.customer.authorization);
    const feed = collect<any>(ws, TIMELINE, { id: seeded.orderId }, 'orderTimeline');
    const [created] = await feed.waitFor(1);
    expect(created).toMatchObject({
      orderId: seeded.orderId,
      type: 'OrderCreated',
      version: 1,
      status: 'PENDING',
    });
    expect(created.description).toMatch(/Order created/);
    await payOrder(s, seeded);
    const [, paid] = await feed.waitFor(2);
    expect(paid).toMatchObject({ type: 'OrderPaid', version: 2, status: 'PAID' });
    await cancelOrder(s, seeded);
    const all = await feed.waitFor(4);
    expect(all.map((e) => [e.type, e.status])).toEqual([
      ['OrderCreated', 'PENDING'],
      ['OrderPaid', 'PAID'],
      ['OrderPaymentRefunded', 'PAID'],
      ['OrderCancelled', 'CANCELLED'],
    ]);
    expect(feed.errors).toEqual([]);
    feed.stop();
  });

  it('resumes from a cursor after a disconnect while events keep coming: nothing lost, nothing twice', async () => {
    const seeded = await seedOrder(s);
    const ws1 = open(seeded.admin.authorization);
    const first = collect<any>(ws1, TIMELINE, { id: seeded.orderId }, 'orderTimeline');
    await first.waitFor(1);
    await ws1.dispose();
    await payOrder(s, seeded); // while nobody listens
    const ws2 = open(seeded.admin.authorization);
    const resumed = collect<any>(
      ws2,
      TIMELINE,
      { id: seeded.orderId, after: first.items[0].cursor },
      'orderTimeline',
    );
    await cancelOrder(s, seeded);
    const rest = await resumed.waitFor(3);
    expect([...first.items, ...rest].map((e) => e.version)).toEqual([1, 2, 3, 4]);
    resumed.stop();
  });

  it('orderUpdates: a customer follows its own orders; admin follows all', async () => {
    const a = await seedOrder(s);
    const b = await seedOrder(s);
    const mine = collect<any>(open(a.customer.authorization), UPDATES, {}, 'orderUpdates');
    const all = collect<any>(open(a.admin.authorization), UPDATES, {}, 'orderUpdates');
    await new Promise((r) => setTimeout(r, 200)); // let both subscriptions register
    await payOrder(s, b);
    await payOrder(s, a);
    const [own] = await mine.waitFor(1);
    expect(own).toMatchObject({ orderId: a.orderId, type: 'OrderPaid' });
    const both = await all.waitFor(2);
    expect(both.map((e) => e.orderId)).toEqual([b.orderId, a.orderId]);
    await new Promise((r) => setTimeout(r, 200));
    expect(mine.items).toHaveLength(1); // b's payment never reached a's feed
  });

  it('orderUpdates replayed from a cursor holds only the customer’s own orders', async () => {
    const a = await seedOrder(s);
    const b = await seedOrder(s);
    const start = await payOrder(s, a);
    await payOrder(s, b); // another customer's order, in the replayed range
    await cancelOrder(s, a);
    const replay = collect<any>(
      open(a.customer.authorization),
      `subscription($after: Cursor) { orderUpdates(after: $after) { cursor orderId type } }`,
      { after: start.cursor },
      'orderUpdates',
    );
    const mine = await replay.waitFor(2);
    expect(mine.map((e) => [e.orderId, e.type])).toEqual([
      [a.orderId, 'OrderPaymentRefunded'],
      [a.orderId, 'OrderCancelled'],
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(replay.items.every((e) => e.orderId === a.orderId)).toBe(true);
  });

  it('authorises: no token closes the socket (4401); others’ orders and the log are refused', async () => {
    const anonymous = open();
    expect((await anonymous.closed).code).toBe(4401);
    const garbage = open('Bearer nope');
    expect((await garbage.closed).code).toBe(4401);

    const a = await seedOrder(s);
    const b = await seedOrder(s);
    const ws = open(b.customer.authorization);
    const theirs = collect<any>(ws, TIMELINE, { id: a.orderId }, 'orderTimeline');
    const log = collect<any>(ws, EVENTS, {}, 'events');
    const others = collect<any>(ws, UPDATES, { c: a.customerId }, 'orderUpdates');
    await expect(theirs.waitFor(1)).rejects.toThrow(/another customer/);
    await expect(log.waitFor(1)).rejects.toThrow(/Only admins/);
    await expect(others.waitFor(1)).rejects.toThrow(/only follow its own/);
  });

  it('refuses a malformed id with BAD_USER_INPUT naming the argument', async () => {
    const a = await seedOrder(s);
    for (const [query, variables, argument] of [
      [TIMELINE, { id: 'nope' }, 'orderId'],
      [UPDATES, { c: 'nope' }, 'customerId'],
      [UPDATES, { c: `${a.customerId}0` }, 'customerId'],
    ] as const) {
      const [r] = await sse<any>(s.url, query, variables, a.admin, 1);
      expect(r.errors, JSON.stringify(r)).toHaveLength(1);
      expect(r.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
      expect(r.errors[0].message).toMatch(new RegExp(`^${argument} must be a uuid such as `));
    }
  });

  it('ends the socket with 4403 when the token expires', async () => {
    const a = await seedOrder(s);
    const token = await s.app.tokens.mint(
      { userId: 'short', role: 'customer', customerId: a.customerId },
      2,
    );
    const ws = open(`Bearer ${token}`);
    const feed = collect<any>(ws, TIMELINE, { id: a.orderId }, 'orderTimeline');
    await feed.waitFor(1);
    expect((await ws.closed).code).toBe(4403);
  });

  it('ends an SSE stream when the token expires, with the cursor to resume from', async () => {
    const a = await seedOrder(s);
    const token = await s.app.tokens.mint(
      { userId: 'short-sse', role: 'customer', customerId: a.customerId },
      2,
    );
    const results = await sse<any>(
      s.url,
      TIMELINE,
      { id: a.orderId },
      { authorization: `Bearer ${token}` },
      2,
      8_000,
    );
    expect(results[0].data.orderTimeline).toMatchObject({ type: 'OrderCreated' });
    const ended = results[1];
    expect(ended.errors[0].extensions).toMatchObject({
      code: 'TOKEN_EXPIRED',
      cursor: results[0].data.orderTimeline.cursor,
    });
    // Resumed with a fresh token: the rest, nothing twice.
    await payOrder(s, a);
    const resumed = await sse<any>(
      s.url,
      TIMELINE,
      { id: a.orderId, after: ended.errors[0].extensions.cursor },
      a.customer,
      1,
    );
    expect(resumed[0].data.orderTimeline).toMatchObject({ type: 'OrderPaid' });
  });

  it('the admin events feed delivers the log from a cursor, then live', async () => {
    const a = await seedOrder(s);
    const ws = open(a.admin.authorization);
    const head = (await s.app.store.head())!;
    const feed = collect<any>(ws, EVENTS, { after: head.cursor }, 'events');
    const paid = await payOrder(s, a);
    const [e] = await feed.waitFor(1);
    expect(e).toMatchObject({ type: 'OrderPaid', cursor: paid.cursor });
  });

  it('works over SSE too', async () => {
    const a = await seedOrder(s);
    const results = await sse<any>(s.url, TIMELINE, { id: a.orderId }, a.customer, 1);
    expect(results[0].data.orderTimeline).toMatchObject({
      type: 'OrderCreated',
      orderId: a.orderId,
    });
  });
});
