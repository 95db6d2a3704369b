import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { productDecider, productStreamId } from '../../src/catalog/decider.js';
import { shipmentIdFor } from '../../src/fulfillment/ids.js';
import { fulfillmentDecider, type FulfillmentState } from '../../src/fulfillment/process.js';
import { orderDecider, orderStreamId, type OrderState } from '../../src/orders/decider.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { eventually } from '../support/wait.js';
import { shipmentStreamId } from '../../src/fulfillment/events.js';
import { fulfillmentStreamId } from '../../src/fulfillment/events.js';

/**
 * The fulfillment process end to end through the HTTP server: payment → stock reserved →
 * shipment created and order ready to ship → shipOrder → shipment dispatched; and two
 * orders racing for the last units of a product.
 */

const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { order { id total { amount currency } } } ... on Error { code message } } }`;
const SHIP_ORDER = `mutation($i: ShipOrderInput!) { shipOrder(input: $i) { __typename ... on Error { code message } } }`;
const PRODUCT = `query($id: ID!) { product(id: $id) { availableStock } }`;
const ORDER = `query($id: ID!) { order(id: $id) { status } }`;
const TIMELINE = `query($id: ID!) { order(id: $id) { timeline { type description version } } }`;

describe(`fulfillment end to end on ${engine}`, () => {
  const { s } = useTestApp();

  const gql = async (query: string, variables: Record<string, unknown>, headers: object) => {
    const r = await s.graphql<any>(query, variables, headers as Record<string, string>);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  };
  const loadOrder = async (orderId: string): Promise<OrderState> =>
    (await s.app.services.commands.load(orderDecider, orderStreamId(orderId))).state;
  const loadProcess = async (orderId: string): Promise<FulfillmentState> =>
    (await s.app.services.commands.load(fulfillmentDecider, fulfillmentStreamId(orderId))).state;
  const available = async (productId: string): Promise<number> => {
    const p = (await s.app.services.commands.load(productDecider, productStreamId(productId)))
      .state;
    if (p.status !== 'REGISTERED') throw new Error('no product');
    return p.available;
  };

  it('pay → stock reserved → shipment created, ready to ship → ship → dispatched', async () => {
    const seeded = await seedOrder(s, 10);
    await payOrder(s, seeded);

    await eventually('the order ready to ship', async () => {
      const o = await loadOrder(seeded.orderId);
      return o.status === 'PAID' && o.readyToShip ? o : undefined;
    });
    expect(await available(seeded.productId)).toBe(8);
    // The catalogue read model follows.
    await eventually('availableStock 8 in the catalogue', async () => {
      const d = await gql(PRODUCT, { id: seeded.productId }, seeded.admin);
      return d.product.availableStock === 8 ? true : undefined;
    });
    const shipmentStream = shipmentStreamId(shipmentIdFor(seeded.orderId));
    const created = await s.app.store.readStream(shipmentStream);
    expect(created.map((e) => e.type)).toEqual(['ShipmentCreated']);
    expect(created[0]!.metadata.role).toBe('service');
    expect((await loadProcess(seeded.orderId)).status).toBe('READY_TO_SHIP');

    const shipped = await gql(
      SHIP_ORDER,
      {
        i: {
          commandId: randomUUID(),
          orderId: seeded.orderId,
          carrier: 'DHL',
          trackingNumber: 'TRK-1',
        },
      },
      seeded.admin,
    );
    expect(shipped.shipOrder.__typename).toBe('ShipOrderSuccess');

    const dispatched = await eventually('the shipment dispatched', async () => {
      const events = await s.app.store.readStream(shipmentStream);
      return events.some((e) => e.type === 'ShipmentDispatched') ? events : undefined;
    });
    expect(dispatched.map((e) => e.type)).toEqual(['ShipmentCreated', 'ShipmentDispatched']);
    expect(dispatched[1]!.data).toMatchObject({ carrier: 'DHL', trackingNumber: 'TRK-1' });
    await eventually('the process completed', async () =>
      (await loadProcess(seeded.orderId)).status === 'COMPLETED' ? true : undefined,
    );
    // Nothing was reserved twice.
    expect(await available(seeded.productId)).toBe(8);

    // Every milestone is on the order's timeline (read model), in commit order.
    const timeline = await eventually('the milestones on the timeline', async () => {
      const d = await gql(TIMELINE, { id: seeded.orderId }, seeded.customer);
      const entries = d.order.timeline as { type: string; description: string }[];
      return entries.some((e) => e.type === 'ShipmentDispatched') ? entries : undefined;
    });
    const types = timeline.map((e) => e.type);
    for (const type of [
      'OrderCreated',
      'OrderPaid',
      'StockReservationCompleted',
      'ShipmentCreated',
      'OrderReadyToShip',
      'OrderShipped',
      'ShipmentDispatched',
    ])
      expect(types).toContain(type);
    expect(types.indexOf('OrderPaid')).toBeLessThan(types.indexOf('StockReservationCompleted'));
    expect(types.indexOf('StockReservationCompleted')).toBeLessThan(
      types.indexOf('ShipmentCreated'),
    );
    expect(types.indexOf('OrderShipped')).toBeLessThan(types.indexOf('ShipmentDispatched'));
    expect(timeline.find((e) => e.type === 'StockReservationCompleted')!.description).toMatch(
      /stock reserved/i,
    );
  });

  it('two orders racing for the last units: one ships, the other is refunded and cancelled', async () => {
    const first = await seedOrder(s, 2); // wants 2 of a product with 2 in stock
    const o = await gql(
      CREATE_ORDER,
      {
        i: {
          commandId: randomUUID(),
          customerId: first.customerId,
          items: [{ productId: first.productId, quantity: 2 }],
          shippingAddress: { line1: 'Main 2', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      first.customer,
    );
    expect(o.createOrder.__typename).toBe('CreateOrderSuccess');
    const second: Seeded = { ...first, orderId: o.createOrder.order.id };

    await Promise.all([payOrder(s, first), payOrder(s, second)]);

    const settled = await eventually('both processes settled', async () => {
      const states = await Promise.all([first, second].map((x) => loadProcess(x.orderId)));
      // Settled: nothing left to send (a READY_TO_SHIP process may still be creating the
      // shipment and marking the order).
      return states.every(
        (st) =>
          st.status === 'CANCELLED' ||
          (st.status === 'READY_TO_SHIP' && st.shipment === 'CREATED' && st.orderReadyToShip),
      )
        ? states
        : undefined;
    });
    const statuses = settled.map((st) => st.status).sort();
    expect(statuses).toEqual(['CANCELLED', 'READY_TO_SHIP']);
    const winner = settled[0]!.status === 'READY_TO_SHIP' ? first : second;
    const loser = winner === first ? second : first;

    // The process is READY_TO_SHIP once all is reserved; marking the order follows.
    const won = await eventually('the winner marked ready to ship', async () => {
      const st = await loadOrder(winner.orderId);
      return st.status === 'PAID' && st.readyToShip ? st : undefined;
    });
    expect(won.status).toBe('PAID');
    const lost = await eventually('the loser cancelled', async () => {
      const st = await loadOrder(loser.orderId);
      return st.status === 'CANCELLED' ? st : undefined;
    });
    const loserEvents = (await s.app.store.readStream(orderStreamId(loser.orderId))).map(
      (e) => e.type,
    );
    expect(loserEvents).toContain('OrderPaymentRefunded');
    expect(loserEvents.filter((t) => t === 'OrderPaymentRefunded')).toHaveLength(1);
    expect(lost.status).toBe('CANCELLED');
    const d = await eventually('the loser cancelled in the read model', async () => {
      const r = await gql(ORDER, { id: loser.orderId }, loser.admin);
      return r.order.status === 'CANCELLED' ? r : undefined;
    });
    expect(d.order.status).toBe('CANCELLED');
    const shortage = await eventually('the shortage on the timeline', async () => {
      const r = await gql(TIMELINE, { id: loser.orderId }, loser.customer);
      const entries = r.order.timeline as { type: string; description: string }[];
      return entries.find((e) => e.type === 'StockShortageDetected');
    });
    expect(shortage.description).toMatch(/stock short for mug/i);

    // Stock never below zero: every StockReserved of the product left ≥ 0 available.
    const productEvents = await s.app.store.readStream(productStreamId(first.productId));
    const reserved = productEvents.filter((e) => e.type === 'StockReserved');
    expect(reserved).toHaveLength(1);
    expect((reserved[0]!.data as { orderId: string }).orderId).toBe(winner.orderId);
    for (const e of productEvents) {
      const after = (e.data as { availableAfter?: number }).availableAfter;
      if (after !== undefined) expect(after).toBeGreaterThanOrEqual(0);
    }
    expect(await available(first.productId)).toBe(0);
    // Only the winner has a shipment.
    expect(
      await s.app.store.readStream(shipmentStreamId(shipmentIdFor(winner.orderId))),
    ).toHaveLength(1);
    expect(
      await s.app.store.readStream(shipmentStreamId(shipmentIdFor(loser.orderId))),
    ).toHaveLength(0);
  });
});
