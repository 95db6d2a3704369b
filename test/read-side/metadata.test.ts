import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient, type WsSession } from '../support/live.js';
import { cancelOrder, seedOrder, type Seeded } from '../support/seed.js';

/*
 * Event metadata says who acted and in which role. A customer reading its own order's
 * events sees only what concerns it: the correlation id, and the command id and mutation
 * of its own commands; the staff member who acted, and the role, stay with staff.
 */

const HISTORY = `query($id: ID!) { orderHistory(id: $id) { events { edges { node { type metadata } } } } }`;
const TIMELINE = `subscription($id: ID!) { orderTimeline(orderId: $id) { type event { metadata } } }`;

describe(`event metadata by caller on ${engine}`, () => {
  const { s } = useTestApp();
  let seeded: Seeded;
  let staffCorrelation: string;
  const sessions: WsSession[] = [];

  beforeAll(async () => {
    seeded = await seedOrder(s);
    // The staff member cancels the customer's order, under a correlation id of its own.
    staffCorrelation = randomUUID();
    await cancelOrder(s, seeded, { ...seeded.admin, 'x-correlation-id': staffCorrelation });
  });
  afterAll(async () => {
    for (const x of sessions) await x.dispose();
  });

  const history = async (headers: Record<string, string>) => {
    const r = await s.graphql<any>(HISTORY, { id: seeded.orderId }, headers);
    expect(r.body.errors).toBeUndefined();
    return r.body.data.orderHistory.events.edges.map(
      (e: { node: { type: string; metadata: Record<string, unknown> } }) => e.node,
    );
  };

  it('staff see who acted and in which role', async () => {
    const events = await history(seeded.admin);
    const cancelled = events.find((e: { type: string }) => e.type === 'OrderCancelled');
    expect(cancelled.metadata).toMatchObject({
      role: 'admin',
      userId: expect.any(String),
      correlationId: staffCorrelation,
      mutation: 'cancelOrder',
    });
    const created = events.find((e: { type: string }) => e.type === 'OrderCreated');
    expect(created.metadata).toMatchObject({ role: 'customer', mutation: 'createOrder' });
  });

  it('a customer sees the correlation id, and the command of its own commands only', async () => {
    const events = await history(seeded.customer);
    const created = events.find((e: { type: string }) => e.type === 'OrderCreated');
    expect(Object.keys(created.metadata).sort()).toEqual([
      'commandId',
      'correlationId',
      'mutation',
    ]);
    expect(created.metadata.mutation).toBe('createOrder');
    const cancelled = events.find((e: { type: string }) => e.type === 'OrderCancelled');
    expect(cancelled.metadata).toEqual({ correlationId: staffCorrelation });
    expect(JSON.stringify(events)).not.toMatch(/"(userId|role)"/);
  });

  it('the same on the live timeline, over graphql-ws and SSE', async () => {
    const ws = wsClient(s.url, seeded.customer.authorization);
    sessions.push(ws);
    const feed = collect<{ type: string; event: { metadata: Record<string, unknown> } }>(
      ws,
      TIMELINE,
      { id: seeded.orderId },
      'orderTimeline',
    );
    const overWs = await feed.waitFor(2);
    feed.stop();
    type Item = { type: string; event: { metadata: Record<string, unknown> } };
    const overSse = (
      await sse<{ data: { orderTimeline: Item } }>(
        s.url,
        TIMELINE,
        { id: seeded.orderId },
        { authorization: seeded.customer.authorization },
        2,
      )
    ).map((r) => r.data.orderTimeline);
    for (const items of [overWs, overSse]) {
      const cancelled = items.find((e) => e.type === 'OrderCancelled');
      expect(cancelled?.event.metadata).toEqual({ correlationId: staffCorrelation });
      expect(JSON.stringify(items)).not.toMatch(/"(userId|role)"/);
    }
  });
});
