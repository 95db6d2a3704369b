import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDERS_PROJECTION } from '../../src/orders/projections.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';
import { collect, wsClient, type WsSession } from '../support/live.js';
import { captureLogs } from '../support/logs.js';
import { seedOrder } from '../support/seed.js';

const TIMELINE = `subscription($id: ID!, $after: Cursor) { orderTimeline(orderId: $id, after: $after) { cursor type version } }`;
// `orderNumber` is only in the read model: the answer waits for it (a paused one holds it in flight).
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { cursor order { id status orderNumber } } ... on Error { code message } } }`;

describe(`graceful shutdown of the app on ${engine}`, () => {
  const t = useTestDatabase();
  let s: TestApp;
  afterAll(async () => {
    await s?.stop();
  });

  it('stops accepting, answers the in-flight mutation, closes subscribers resumably, then stops the read side', async () => {
    const logs = captureLogs('info');
    s = await startTestApp(t, {}, { logger: logs.logger, fulfillment: false });
    const seeded = await seedOrder(s);
    const seen: string[] = [];

    // A graphql-ws subscriber, with the cursor of what it got.
    const ws = wsClient(s.url, seeded.admin.authorization);
    const feed = collect<any>(ws, TIMELINE, { id: seeded.orderId }, 'orderTimeline');
    const [created] = await feed.waitFor(1);
    expect(created.cursor).toEqual(expect.any(String));
    void ws.closed.then(() => seen.push('ws closed'));

    // An SSE subscriber, read until the server ends the stream.
    const sseRes = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...seeded.admin,
      },
      body: JSON.stringify({ query: TIMELINE, variables: { id: seeded.orderId } }),
    });
    let sseText = '';
    const reader = sseRes.body!.getReader();
    const sseEnded = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sseText += new TextDecoder().decode(value);
      }
      seen.push('sse ended');
    })();
    for (let i = 0; !sseText.includes('OrderCreated'); i++) {
      if (i > 500) throw new Error('no SSE event');
      await new Promise((r) => setTimeout(r, 10));
    }

    // A mutation held in flight: it commits, then waits for a paused read model.
    await s.app.projections.pause(ORDERS_PROJECTION);
    const ordersBefore = await countOrders();
    const mutation = s
      .graphql<any>(
        CREATE_ORDER,
        {
          i: {
            commandId: randomUUID(),
            customerId: seeded.customerId,
            items: [{ productId: seeded.productId, quantity: 1 }],
            shippingAddress: {
              line1: 'Main 1',
              city: 'Berlin',
              postalCode: '10115',
              country: 'DE',
            },
          },
        },
        {
          ...seeded.customer,
          // As urql sends on every operation: streams accepted, so only the response
          // tells that this is a plain request the shutdown must wait for.
          accept:
            'application/graphql-response+json, application/json, text/event-stream, multipart/mixed',
        },
      )
      .then((r) => {
        seen.push('mutation answered');
        return r;
      });
    for (let i = 0; (await countOrders()) === ordersBefore; i++) {
      if (i > 500) throw new Error('the mutation did not commit');
      await new Promise((r) => setTimeout(r, 10));
    }

    const stopping = s.app.stop();
    // No new connections from now on…
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    // …but the in-flight mutation is answered once its read model catches up (the read
    // side still runs while requests drain). Held a while first: had the shutdown not
    // counted it as in flight, the subscribers would be closed meanwhile.
    await new Promise((r) => setTimeout(r, 300));
    await s.app.projections.resume(ORDERS_PROJECTION);
    const answered = await mutation;
    expect(answered.status).toBe(200);
    expect(answered.body.data.createOrder).toMatchObject({
      __typename: 'CreateOrderSuccess',
      order: { status: 'PENDING' },
    });
    await stopping;
    await sseEnded;

    // The subscriber got the resumable close, after the in-flight answer.
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/resume from your last cursor/);
    expect(seen.indexOf('mutation answered')).toBeLessThan(seen.indexOf('ws closed'));
    // SSE: a clean end of the stream, after the events it had sent.
    expect(sseText).toContain('event: complete');
    expect(seen.indexOf('mutation answered')).toBeLessThan(seen.indexOf('sse ended'));

    // The phases, logged in this order.
    const phases = logs
      .lines()
      .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('shutdown:'))
      .map((l) => l.phase);
    expect(phases).toEqual([
      'stop-accepting',
      'in-flight',
      'websocket',
      'live',
      'http',
      'projections',
      'listen',
    ]);
    expect(logs.withMsg(/^shutdown: WebSocket/)[0]).toMatchObject({ sockets: 1 });
    expect(logs.withMsg(/^shutdown: live/)[0]).toMatchObject({ subscriptions: 1 });
    await ws.dispose();
  });

  it('answers a mutation in flight on a graphql-ws socket before closing it, and refuses new operations meanwhile', async () => {
    await s?.stop();
    const logs = captureLogs('info');
    s = await startTestApp(t, {}, { logger: logs.logger, fulfillment: false });
    const seeded = await seedOrder(s);
    const seen: string[] = [];
    const ws = wsClient(s.url, seeded.customer.authorization);
    void ws.closed.then(() => seen.push('ws closed'));
    const order = () => ({
      i: {
        commandId: randomUUID(),
        customerId: seeded.customerId,
        items: [{ productId: seeded.productId, quantity: 1 }],
        shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
      },
    });

    // A mutation over the socket held in flight: it commits, then waits for a paused read model.
    await s.app.projections.pause(ORDERS_PROJECTION);
    const ordersBefore = await countOrders();
    const mutation = operation(ws, CREATE_ORDER, order()).then((r) => {
      seen.push('mutation answered');
      return r;
    });
    for (let i = 0; (await countOrders()) === ordersBefore; i++) {
      if (i > 500) throw new Error('the mutation did not commit');
      await new Promise((r) => setTimeout(r, 10));
    }

    const stopping = s.app.stop();
    // The socket stays open while it drains, but nothing new runs on it: a mutation and a
    // subscription are refused with a code that says to send them again elsewhere.
    const refused = await operation(ws, CREATE_ORDER, order());
    expect(refused.data).toBeUndefined();
    expect(refused.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/shutting down.*nothing was executed/i),
        extensions: { code: 'SHUTTING_DOWN' },
      }),
    ]);
    const subscription = await operation(ws, TIMELINE, { id: seeded.orderId });
    expect(subscription.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'SHUTTING_DOWN' } }),
    ]);
    expect(await countOrders()).toBe(ordersBefore + 1);
    expect(seen).toEqual([]);

    // Once its read model catches up, the committed mutation is answered, then the socket
    // gets the resumable close.
    await s.app.projections.resume(ORDERS_PROJECTION);
    const answered = await mutation;
    expect(answered.errors).toBeUndefined();
    expect(answered.data.createOrder).toMatchObject({
      __typename: 'CreateOrderSuccess',
      order: { status: 'PENDING' },
    });
    await stopping;
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/resume from your last cursor/);
    expect(seen).toEqual(['mutation answered', 'ws closed']);
    // It was answered within its share of the budget, not cut at the deadline.
    expect(logs.withMsg('shutdown: in-flight requests answered')).toHaveLength(1);
    expect(logs.withMsg(/^shutdown: no new connections/)[0]).toMatchObject({ wsInFlight: 1 });
    await ws.dispose();
  });

  async function countOrders(): Promise<number> {
    const r = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE event_type = 'OrderCreated'`,
    );
    return r.rows[0]!.n;
  }
});

/** One operation over graphql-ws: its first result, once the server completed it. */
function operation(
  session: WsSession,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data?: any; errors?: any[] }> {
  return new Promise((resolve, reject) => {
    let first: { data?: any; errors?: any[] } | undefined;
    session.client.subscribe<any>(
      { query, variables },
      {
        next: (r) => void (first ??= r as never),
        error: reject,
        complete: () => (first ? resolve(first) : reject(new Error('completed without a result'))),
      },
    );
  });
}
