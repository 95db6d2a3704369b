import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deriveCommandId } from '../../src/fulfillment/ids.js';
import { fulfillmentDecider } from '../../src/fulfillment/process.js';
import { FULFILLMENT_PRINCIPAL } from '../../src/fulfillment/runner.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, wsClient } from '../support/live.js';
import { CANCEL_ORDER, payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { eventually } from '../support/wait.js';
import { fulfillmentStreamId } from '../../src/fulfillment/events.js';

/**
 * The fulfillment process through the API: the milestones on the `orderTimeline`
 * subscription, delivery, cancellation after the reservation, the admin process query,
 * the reservation deadline, and what the admin may not do to the process.
 */

const SHIP_ORDER = `mutation($i: ShipOrderInput!) { shipOrder(input: $i) { __typename ... on Error { code message } } }`;
const DELIVERED = `mutation($i: MarkShipmentDeliveredInput!) { markShipmentDelivered(input: $i) { __typename ... on MarkShipmentDeliveredSuccess { order { id status shipment { status } } } ... on Error { code message } } }`;
const PROCESS = `query($id: ID!) { fulfillmentProcess(orderId: $id) {
  orderId status step shipmentId version lateFlaggedAt startedAt
  items { productId productName quantity stock }
  steps { step productId status commandId }
  pendingCommands { commandId step target streamId type }
  failures { step reason }
} }`;
const TIMELINE = `query($id: ID!) { order(id: $id) { status shipment { carrier status } timeline { type description } } }`;
const PRODUCT = `query($id: ID!) { product(id: $id) { availableStock } }`;
const TIMELINE_SUB = `subscription($id: ID!, $after: Cursor) { orderTimeline(orderId: $id, after: $after) { cursor type description status version } }`;
const PROJECTIONS = `{ projections { name active problems { key type message } } }`;
const REBUILD = `mutation { rebuildProjection(name: "fulfillment") { name generation } }`;

interface Line {
  cursor: string;
  type: string;
  description: string;
  status: string;
}

describe(`fulfillment through the API on ${engine}`, () => {
  // A short reservation deadline, so the late flag is seen within the test.
  const { s } = useTestApp({ env: { STRATA_RESERVATION_TIMEOUT_MS: '300' } });

  const gql = async (query: string, variables: Record<string, unknown>, headers: object) => {
    const r = await s.graphql<any>(query, variables, headers as Record<string, string>);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  };
  const processOf = async (o: Seeded) =>
    (await gql(PROCESS, { id: o.orderId }, o.admin)).fulfillmentProcess;
  const settled = (o: Seeded, status: string) =>
    eventually(`process ${status}`, async () => {
      const p = await processOf(o);
      return p?.status === status && p.pendingCommands.length === 0 ? p : undefined;
    });

  it('pay → reserved → shipment → ship → delivered: every milestone live on orderTimeline, and in the read model', async () => {
    const o = await seedOrder(s, 5);
    const ws = wsClient(s.url, o.customer.authorization);
    try {
      const live = collect<Line>(ws, TIMELINE_SUB, { id: o.orderId }, 'orderTimeline');
      await live.waitFor(1); // OrderCreated: the replay
      await payOrder(s, o);
      const ready = await settled(o, 'READY_TO_SHIP');
      expect(ready.step).toMatch(/waiting for shipOrder/);
      expect(ready.items).toEqual([
        expect.objectContaining({ productId: o.productId, quantity: 2, stock: 'RESERVED' }),
      ]);
      expect(ready.steps.map((x: { step: string }) => x.step)).toEqual(
        expect.arrayContaining(['reserve-stock', 'create-shipment', 'mark-ready-to-ship']),
      );
      expect(ready.steps.every((x: { status: string }) => x.status === 'DONE')).toBe(true);

      const ship = await gql(
        SHIP_ORDER,
        {
          i: { commandId: randomUUID(), orderId: o.orderId, carrier: 'UPS', trackingNumber: '1Z9' },
        },
        o.admin,
      );
      expect(ship.shipOrder.__typename).toBe('ShipOrderSuccess');
      await settled(o, 'COMPLETED');

      const deliverInput = { commandId: randomUUID(), orderId: o.orderId };
      const delivered = await gql(DELIVERED, { i: deliverInput }, o.admin);
      expect(delivered.markShipmentDelivered).toMatchObject({
        __typename: 'MarkShipmentDeliveredSuccess',
        // Read your writes: the answer already shows the delivery.
        order: { id: o.orderId, status: 'SHIPPED', shipment: { status: 'DELIVERED' } },
      });
      // The same notice again (a new command) changes nothing.
      const again = await gql(
        DELIVERED,
        { i: { ...deliverInput, commandId: randomUUID() } },
        o.admin,
      );
      expect(again.markShipmentDelivered.__typename).toBe('MarkShipmentDeliveredSuccess');

      const lines = await eventually('ShipmentDelivered on the live timeline', async () =>
        live.items.some((l) => l.type === 'ShipmentDelivered') ? live.items : undefined,
      );
      const types = lines.map((l) => l.type);
      const order = [
        'OrderCreated',
        'OrderPaid',
        'StockReservationCompleted',
        'ShipmentCreated',
        'OrderReadyToShip',
        'OrderShipped',
        'ShipmentDispatched',
        'ShipmentDelivered',
      ];
      for (const type of order) expect(types, type).toContain(type);
      for (let i = 1; i < order.length; i++)
        expect(types.indexOf(order[i - 1]!)).toBeLessThan(types.indexOf(order[i]!));
      // Only the milestones of the process stream, not its bookkeeping.
      expect(types).not.toContain('StockReservationRequested');
      expect(types).not.toContain('StepCompleted');
      expect(types.filter((x) => x === 'ShipmentDelivered')).toHaveLength(1);
      const byType = new Map(lines.map((l) => [l.type, l] as const));
      expect(byType.get('StockReservationCompleted')).toMatchObject({
        description: 'Stock reserved',
        status: 'PAID',
      });
      expect(byType.get('ShipmentCreated')).toMatchObject({
        description: 'Shipment created',
        status: 'PAID',
      });
      expect(byType.get('ShipmentDispatched')).toMatchObject({
        description: 'Shipment dispatched with UPS (1Z9)',
        status: 'SHIPPED',
      });
      expect(byType.get('ShipmentDelivered')).toMatchObject({ status: 'SHIPPED' });

      // Resuming after a milestone's cursor gives exactly what followed it.
      const cut = lines.findIndex((l) => l.type === 'ShipmentCreated');
      const resumed = collect<Line>(
        ws,
        TIMELINE_SUB,
        { id: o.orderId, after: lines[cut]!.cursor },
        'orderTimeline',
      );
      const rest = await resumed.waitFor(lines.length - cut - 1);
      expect(rest.map((l) => l.cursor)).toEqual(lines.slice(cut + 1).map((l) => l.cursor));
      resumed.stop();
      live.stop();

      // The read model's timeline holds the same milestones.
      const d = await eventually('delivered in the read model', async () => {
        const r = await gql(TIMELINE, { id: o.orderId }, o.customer);
        return r.order.timeline.some((e: { type: string }) => e.type === 'ShipmentDelivered')
          ? r
          : undefined;
      });
      expect(d.order.shipment).toEqual({ carrier: 'UPS', status: 'DELIVERED' });
      expect(d.order.timeline.map((e: { type: string }) => e.type)).toEqual(
        types.filter((x) => d.order.timeline.some((e: { type: string }) => e.type === x)),
      );
    } finally {
      await ws.dispose();
    }
  });

  it('markShipmentDelivered answers the delivery, caughtUp false, while the orders read model is paused', async () => {
    const o = await seedOrder(s, 5);
    await payOrder(s, o);
    await settled(o, 'READY_TO_SHIP');
    const ship = await gql(
      SHIP_ORDER,
      { i: { commandId: randomUUID(), orderId: o.orderId, carrier: 'DHL', trackingNumber: 'L1' } },
      o.admin,
    );
    expect(ship.shipOrder.__typename).toBe('ShipOrderSuccess');
    await settled(o, 'COMPLETED');
    const query = `mutation($i: MarkShipmentDeliveredInput!) { markShipmentDelivered(input: $i) { __typename
      ... on MarkShipmentDeliveredSuccess { version caughtUp order { id orderNumber status shipment { carrier status } } } } }`;
    const input = { commandId: randomUUID(), orderId: o.orderId };
    await s.app.projections.pause('orders');
    s.app.services.commandReadWaitMs = 300;
    try {
      const started = Date.now();
      const delivered = await gql(query, { i: input }, o.admin);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(delivered.markShipmentDelivered).toEqual({
        __typename: 'MarkShipmentDeliveredSuccess',
        version: expect.any(Number),
        caughtUp: false,
        order: {
          id: o.orderId,
          orderNumber: expect.stringMatching(/^SO-\d{6}$/),
          status: 'SHIPPED',
          shipment: { carrier: 'DHL', status: 'DELIVERED' },
        },
      });
      // Retried: the same answer.
      expect(await gql(query, { i: input }, o.admin)).toEqual(delivered);
    } finally {
      await s.app.projections.resume('orders');
      s.app.services.commandReadWaitMs = 5_000;
    }
    const caughtUp = await gql(query, { i: input }, o.admin);
    expect(caughtUp.markShipmentDelivered).toMatchObject({ caughtUp: true });
  });

  it("orderUpdates carries the milestones of the customer's own orders only", async () => {
    const mine = await seedOrder(s, 5);
    const theirs = await seedOrder(s, 5);
    const ws = wsClient(s.url, mine.customer.authorization);
    try {
      const feed = collect<Line & { orderId: string }>(
        ws,
        `subscription { orderUpdates { cursor orderId type description status } }`,
        {},
        'orderUpdates',
      );
      await sleep(200); // registered before the payments
      await payOrder(s, theirs);
      await payOrder(s, mine);
      await settled(theirs, 'READY_TO_SHIP');
      await settled(mine, 'READY_TO_SHIP');
      const lines = await eventually('ShipmentCreated on the feed', async () =>
        feed.items.some((l) => l.type === 'ShipmentCreated') ? feed.items : undefined,
      );
      expect(lines.every((l) => l.orderId === mine.orderId)).toBe(true);
      expect(lines.map((l) => l.type)).toEqual(
        expect.arrayContaining(['OrderPaid', 'StockReservationCompleted', 'ShipmentCreated']),
      );
      expect(lines.find((l) => l.type === 'ShipmentCreated')).toMatchObject({
        description: 'Shipment created',
        status: 'PAID',
      });
      await sleep(200);
      expect(feed.items.every((l) => l.orderId === mine.orderId)).toBe(true);
      feed.stop();
    } finally {
      await ws.dispose();
    }
  });

  it('cancelling a paid, reserved order releases its stock, cancels the shipment and refunds once', async () => {
    const o = await seedOrder(s, 3);
    await payOrder(s, o);
    await settled(o, 'READY_TO_SHIP');
    await eventually('1 left in the catalogue', async () =>
      (await gql(PRODUCT, { id: o.productId }, o.admin)).product.availableStock === 1
        ? true
        : undefined,
    );
    const cancel = await s.graphql<any>(
      CANCEL_ORDER,
      { i: { commandId: randomUUID(), orderId: o.orderId, reason: 'Changed my mind' } },
      o.customer,
    );
    expect(cancel.body.data.cancelOrder.__typename).toBe('CancelOrderSuccess');
    const done = await settled(o, 'CANCELLED');
    expect(done.items[0].stock).toBe('RELEASED');
    await eventually('3 available again', async () =>
      (await gql(PRODUCT, { id: o.productId }, o.admin)).product.availableStock === 3
        ? true
        : undefined,
    );
    const orderEvents = (await s.app.store.readStream(`order-${o.orderId}`)).map((e) => e.type);
    expect(orderEvents.filter((x) => x === 'OrderPaymentRefunded')).toHaveLength(1);
    const shipment = (await s.app.store.readStream(`shipment-${done.shipmentId}`)).map(
      (e) => e.type,
    );
    expect(shipment).toEqual(['ShipmentCreated', 'ShipmentCancelled']);
    const timeline = await eventually('the release on the timeline', async () => {
      const r = await gql(TIMELINE, { id: o.orderId }, o.customer);
      const types = r.order.timeline.map((e: { type: string }) => e.type);
      return types.includes('FulfillmentCancelled') ? r.order.timeline : undefined;
    });
    expect(timeline.map((e: { description: string }) => e.description)).toEqual(
      expect.arrayContaining(['Released 2 × Mug', 'Shipment cancelled: Changed my mind']),
    );

    // A shipped order cannot be cancelled.
    const shipped = await seedOrder(s, 3);
    await payOrder(s, shipped);
    await settled(shipped, 'READY_TO_SHIP');
    await gql(
      SHIP_ORDER,
      {
        i: {
          commandId: randomUUID(),
          orderId: shipped.orderId,
          carrier: 'DHL',
          trackingNumber: 'X',
        },
      },
      shipped.admin,
    );
    const refused = await gql(
      CANCEL_ORDER,
      { i: { commandId: randomUUID(), orderId: shipped.orderId, reason: 'too late' } },
      shipped.customer,
    );
    expect(refused.cancelOrder.__typename).toBe('BusinessRuleViolation');
  });

  it('markShipmentDelivered: refused before dispatch, for customers, and for orders without a shipment', async () => {
    const o = await seedOrder(s, 5);
    const early = await gql(
      DELIVERED,
      { i: { commandId: randomUUID(), orderId: o.orderId } },
      o.admin,
    );
    expect(early.markShipmentDelivered).toMatchObject({ __typename: 'NotFoundError' });
    await payOrder(s, o);
    await settled(o, 'READY_TO_SHIP');
    const notYet = await gql(
      DELIVERED,
      { i: { commandId: randomUUID(), orderId: o.orderId } },
      o.admin,
    );
    expect(notYet.markShipmentDelivered).toMatchObject({
      __typename: 'BusinessRuleViolation',
      code: 'SHIPMENT_NOT_DISPATCHED',
    });
    const customer = await gql(
      DELIVERED,
      { i: { commandId: randomUUID(), orderId: o.orderId } },
      o.customer,
    );
    expect(customer.markShipmentDelivered.__typename).toBe('ForbiddenError');
    const bad = await gql(DELIVERED, { i: { commandId: randomUUID(), orderId: 'nope' } }, o.admin);
    expect(bad.markShipmentDelivered.__typename).toBe('ValidationError');
    const shipment = await s.app.store.readStream(`shipment-${(await processOf(o)).shipmentId}`);
    expect(shipment.map((e) => e.type)).toEqual(['ShipmentCreated']);
  });

  it('fulfillmentProcess is for staff; null before payment; a bad id is a typed error', async () => {
    const o = await seedOrder(s, 5);
    expect(await processOf(o)).toBeNull();
    const asCustomer = await s.graphql<any>(PROCESS, { id: o.orderId }, o.customer);
    expect(asCustomer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const service = await s.auth({ role: 'service' });
    const bad = await s.graphql<any>(PROCESS, { id: 'x' }, service);
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('an order paid but not reserved in time is flagged late, once, in the process and the projection status', async () => {
    const o = await seedOrder(s, 5);
    // The process starts (its trigger recorded) but never gets to send its reservation:
    // as if the product's stream were unreachable.
    const orderPaidEventId = randomUUID();
    await s.app.services.commands.execute(
      fulfillmentDecider,
      fulfillmentStreamId(o.orderId),
      {
        type: 'OrderPaid',
        eventId: orderPaidEventId,
        observedAt: new Date().toISOString(),
        data: {
          orderId: o.orderId,
          paymentId: randomUUID(),
          amount: o.total,
          paidAt: new Date().toISOString(),
        },
        items: [{ productId: o.productId, productName: 'Mug', quantity: 2 }],
      } as never,
      {
        commandId: deriveCommandId(orderPaidEventId, 'observe:OrderPaid'),
        principal: FULFILLMENT_PRINCIPAL,
        correlationId: o.orderId,
        operation: 'test',
        input: {},
      },
    );
    const flagged = await eventually('the late flag', async () => {
      const p = await processOf(o);
      return p?.lateFlaggedAt ? p : undefined;
    });
    expect(flagged.status).toBe('RESERVING');
    expect(flagged.pendingCommands).toEqual([
      expect.objectContaining({ step: 'reserve-stock', target: 'product', type: 'ReserveStock' }),
    ]);
    const status = await gql(PROJECTIONS, {}, o.admin);
    const process = status.projections.find((p: { name: string }) => p.name === 'fulfillment');
    expect(process.problems).toContainEqual({
      key: o.orderId,
      type: 'FulfillmentFlaggedLate',
      message: 'Fulfillment late: stock not reserved within 0.3 s',
    });
    // Later checks do not flag it again.
    await sleep(400);
    const events = await s.app.store.readStream(fulfillmentStreamId(o.orderId));
    expect(events.filter((e) => e.type === 'FulfillmentFlaggedLate')).toHaveLength(1);
  });

  it('the fulfillment process cannot be rebuilt like a read model', async () => {
    const admin = await s.auth({ role: 'admin' });
    const before = (await s.app.projections.status()).filter((p) => p.name === 'fulfillment');
    const r = await s.graphql<any>(REBUILD, {}, admin);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toMatch(/process manager, not a read model/);
    const after = (await s.app.projections.status()).filter((p) => p.name === 'fulfillment');
    expect(after.map((p) => p.generation)).toEqual(before.map((p) => p.generation));
  });
});
