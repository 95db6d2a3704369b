import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { productDecider, productStreamId } from '../../src/catalog/decider.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import {
  fulfillmentEventTypes,
  fulfillmentStreamId,
  shipmentStreamId,
  type FulfillmentEvent,
} from '../../src/fulfillment/events.js';
import { shipmentIdFor } from '../../src/fulfillment/ids.js';
import { fulfillmentDecider, pendingCommands } from '../../src/fulfillment/process.js';
import { FULFILLMENT_PRINCIPAL, fulfillmentProcess } from '../../src/fulfillment/runner.js';
import { fulfillmentEventTime } from '../../src/fulfillment/timeline.js';
import type { FulfillmentTrigger } from '../../src/fulfillment/triggers.js';
import { deriveCommandId } from '../../src/fulfillment/ids.js';
import { orderStreamId } from '../../src/orders/decider.js';
import { expectDomainEvent } from '../../src/shared/events.js';
import { useTestApp, type TestApp } from '../support/app.js';
import { TestClock } from '../support/clock.js';
import { engine } from '../support/db.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { eventually } from '../support/wait.js';

/**
 * Fulfillment milestones carry the time of their own step, not the payment's: the app's
 * clock is the process's clock, each step is stamped when the process takes it, and the
 * effect carries that time. End to end through the server with a clock that moves on at
 * every reading; then the runner alone, handed the log by the test at set instants (a
 * payment handled an hour late, a batch delivered again, a step left pending by an
 * earlier run).
 */

const REGISTER_PRODUCT = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on RegisterProductSuccess { product { id } } ... on Error { code message } } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { order { id total { amount currency } } } ... on Error { code message } } }`;
const SHIP_ORDER = `mutation($i: ShipOrderInput!) { shipOrder(input: $i) { __typename ... on Error { code message } } }`;
const TIMELINE = `query($id: ID!) { order(id: $id) { timeline { type at } } }`;

const HOUR = 3_600_000;
const ms = (iso: string) => Date.parse(iso);
const data = (e: StoredEvent) => e.data as Record<string, unknown>;
const only = (events: StoredEvent[], type: string) => {
  const found = events.filter((e) => e.type === type);
  expect(
    found.map((e) => e.type),
    type,
  ).toEqual([type]);
  return data(found[0]!);
};
const processEvent = (e: StoredEvent): FulfillmentEvent =>
  expectDomainEvent(e, fulfillmentEventTypes);

async function gql(s: TestApp, query: string, variables: object, headers: object) {
  const r = await s.graphql<any>(
    query,
    variables as Record<string, unknown>,
    headers as Record<string, string>,
  );
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data;
}

const ship = async (s: TestApp, o: Seeded) => {
  const d = await gql(
    s,
    SHIP_ORDER,
    { i: { commandId: randomUUID(), orderId: o.orderId, carrier: 'DHL', trackingNumber: 'T-1' } },
    o.admin,
  );
  expect(d.shipOrder.__typename).toBe('ShipOrderSuccess');
};

describe(`fulfillment step times end to end on ${engine}`, () => {
  // A second passes at every reading of the app's clock: the payment, and every step the
  // process takes after it, each happens at an instant of its own. (In the past, so that
  // no deadline check finds anything: they compare with the database's clock.)
  const clock = new TestClock('2024-05-06T09:00:00.000Z', 1_000);
  const { s } = useTestApp({ overrides: { now: clock.now } });

  it('every milestone after the payment carries the time of its own step', async () => {
    const seeded = await seedOrder(s, 10);
    const bulb = await gql(
      s,
      REGISTER_PRODUCT,
      {
        i: {
          commandId: randomUUID(),
          name: 'Bulb',
          imageUrl: 'https://img.example/bulb.png',
          price: { amount: 300, currency: 'EUR' },
          initialStock: 10,
        },
      },
      seeded.admin,
    );
    const productIds = [seeded.productId, bulb.registerProduct.product.id as string];
    const created = await gql(
      s,
      CREATE_ORDER,
      {
        i: {
          commandId: randomUUID(),
          customerId: seeded.customerId,
          items: productIds.map((productId) => ({ productId, quantity: 1 })),
          shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      seeded.customer,
    );
    const o: Seeded = {
      ...seeded,
      orderId: created.createOrder.order.id,
      total: created.createOrder.order.total,
    };
    const processId = fulfillmentStreamId(o.orderId);
    const stateOf = async () =>
      (await s.app.services.commands.load(fulfillmentDecider, processId)).state;

    await payOrder(s, o);
    await eventually('the order ready to ship', async () => {
      const st = await stateOf();
      return st.status === 'READY_TO_SHIP' && st.orderReadyToShip && st.shipment === 'CREATED'
        ? true
        : undefined;
    });
    clock.advance(HOUR);
    await ship(s, o);
    await eventually('the process completed', async () =>
      (await stateOf()).status === 'COMPLETED' ? true : undefined,
    );

    const orderEvents = await s.app.store.readStream(orderStreamId(o.orderId));
    const paidAt = only(orderEvents, 'OrderPaid').paidAt as string;
    const readyAt = only(orderEvents, 'OrderReadyToShip').readyAt as string;
    const shippedAt = only(orderEvents, 'OrderShipped').shippedAt as string;
    const shipment = await s.app.store.readStream(shipmentStreamId(shipmentIdFor(o.orderId)));
    const createdAt = only(shipment, 'ShipmentCreated').createdAt as string;
    const dispatchedAt = only(shipment, 'ShipmentDispatched').dispatchedAt as string;
    const process = (await s.app.store.readStream(processId)).map(processEvent);
    const requested = (type: FulfillmentEvent['type'], productId?: string) =>
      process
        .filter((e) => e.type === type)
        .filter(
          (e) =>
            productId === undefined || (e.data as { productId?: string }).productId === productId,
        )
        .map(fulfillmentEventTime);

    // Each effect carries the time its step was taken, and each step is a step of its own.
    const reservedAt: string[] = [];
    for (const productId of [...productIds].sort()) {
      const product = await s.app.store.readStream(productStreamId(productId));
      const reserved = product.filter(
        (e) => e.type === 'StockReserved' && data(e).orderId === o.orderId,
      );
      expect(reserved).toHaveLength(1);
      reservedAt.push(data(reserved[0]!).reservedAt as string);
      expect(requested('StockReservationRequested', productId)).toEqual([reservedAt.at(-1)]);
    }
    expect(ms(reservedAt[0]!)).toBeGreaterThan(ms(paidAt));
    expect(ms(reservedAt[1]!)).toBeGreaterThan(ms(reservedAt[0]!));
    expect(requested('StockReservationCompleted')).toEqual([reservedAt[1]]);
    expect(requested('ShipmentRequested')).toEqual([createdAt]);
    expect(requested('ReadyToShipRequested')).toEqual([readyAt]);
    expect(ms(createdAt)).toBeGreaterThan(ms(reservedAt[1]!));
    expect(ms(shippedAt)).toBeGreaterThanOrEqual(ms(readyAt) + HOUR);
    expect(requested('ShipmentDispatchRequested')).toEqual([dispatchedAt]);
    expect(ms(dispatchedAt)).toBeGreaterThan(ms(shippedAt));
    expect(requested('FulfillmentCompleted')).toEqual([dispatchedAt]);

    // The process's own events: it started with the payment (the reservation deadline
    // counts from it); everything after is later, in the order it was recorded.
    const times = process.map(fulfillmentEventTime);
    expect(process[0]!.type).toBe('FulfillmentStarted');
    expect(times[0]).toBe(paidAt);
    for (const [n, at] of times.entries()) {
      if (n === 0) continue;
      expect(ms(at), `${process[n]!.type} at ${at}`).toBeGreaterThan(ms(paidAt));
      expect(ms(at), `${process[n]!.type} at ${at}`).toBeGreaterThanOrEqual(ms(times[n - 1]!));
    }

    // The order's timeline: every milestone after the payment at its own, later time, in
    // commit order.
    const timeline = await eventually('the dispatch on the timeline', async () => {
      const d = await gql(s, TIMELINE, { id: o.orderId }, o.customer);
      const entries = d.order.timeline as { type: string; at: string }[];
      return entries.some((e) => e.type === 'FulfillmentCompleted') &&
        entries.some((e) => e.type === 'ShipmentDispatched')
        ? entries
        : undefined;
    });
    const paid = timeline.findIndex((e) => e.type === 'OrderPaid');
    expect(ms(timeline[paid]!.at)).toBe(ms(paidAt));
    const after = timeline.slice(paid + 1);
    const milestones = [
      'StockReservationCompleted',
      'ShipmentCreated',
      'OrderReadyToShip',
      'OrderShipped',
      'ShipmentDispatched',
      'FulfillmentCompleted',
    ];
    expect(after.map((e) => e.type)).toEqual(expect.arrayContaining(milestones));
    let previous = ms(paidAt);
    for (const e of after) {
      if (milestones.includes(e.type))
        expect(ms(e.at), `${e.type} at ${e.at}`).toBeGreaterThan(ms(paidAt));
      expect(ms(e.at), `${e.type} at ${e.at}`).toBeGreaterThanOrEqual(previous);
      previous = ms(e.at);
    }
    const at = (type: string) => timeline.find((e) => e.type === type)!.at;
    expect(ms(at('StockReservationCompleted'))).toBe(ms(reservedAt[1]!));
    expect(ms(at('ShipmentCreated'))).toBe(ms(createdAt));
    expect(ms(at('ShipmentDispatched'))).toBe(ms(dispatchedAt));
  });
});

describe(`fulfillment runner step times on ${engine}`, () => {
  // The clock stands still until the test moves it; the process runs only when the test
  // hands it the log.
  const clock = new TestClock('2024-05-06T09:00:00.000Z');
  const { t, s } = useTestApp({ overrides: { fulfillment: false, now: clock.now } });
  const T = (hour: number) => `2024-05-06T${String(9 + hour).padStart(2, '0')}:00:00.000Z`;
  /** A runner as after a start (nothing in memory, the app's clock), handed `events`. */
  const deliver = (events: StoredEvent[]) =>
    fulfillmentProcess(s.app.services.commands, s.app.store, { now: clock.now }).apply(
      t.db,
      events,
      (name) => name,
    );
  const streamOf = (id: string) => s.app.store.readStream(id);
  const logEvent = async (streamId: string, type: string) => {
    const events = (await streamOf(streamId)).filter((e) => e.type === type);
    expect(events).toHaveLength(1);
    return events[0]!;
  };
  const streamsOf = (o: Seeded) => [
    orderStreamId(o.orderId),
    fulfillmentStreamId(o.orderId),
    productStreamId(o.productId),
    shipmentStreamId(shipmentIdFor(o.orderId)),
  ];
  const lengths = async (o: Seeded) =>
    Promise.all(streamsOf(o).map(async (id) => (await streamOf(id)).length));

  it('takes the steps when it handles the payment, not when the payment was made', async () => {
    clock.set(T(0));
    const o = await seedOrder(s, 10);
    await payOrder(s, o);
    const paid = await logEvent(orderStreamId(o.orderId), 'OrderPaid');
    expect(data(paid).paidAt).toBe(T(0));

    // Handled an hour late (a backlog, a process down).
    clock.set(T(1));
    await deliver([paid]);
    const product = await streamOf(productStreamId(o.productId));
    expect(only(product, 'StockReserved').reservedAt).toBe(T(1));
    const shipment = shipmentStreamId(shipmentIdFor(o.orderId));
    expect(only(await streamOf(shipment), 'ShipmentCreated').createdAt).toBe(T(1));
    expect(only(await streamOf(orderStreamId(o.orderId)), 'OrderReadyToShip').readyAt).toBe(T(1));
    const process = (await streamOf(fulfillmentStreamId(o.orderId))).map(processEvent);
    expect(process.map((e) => [e.type, fulfillmentEventTime(e)])).toEqual([
      ['FulfillmentStarted', T(0)],
      ['StockReservationRequested', T(1)],
      ['StockReservedForItem', T(1)],
      ['StockReservationCompleted', T(1)],
      ['ShipmentRequested', T(1)],
      ['ReadyToShipRequested', T(1)],
      ['StepCompleted', T(1)],
      ['StepCompleted', T(1)],
    ]);

    // Delivered again later (a crash before the checkpoint moved): nothing new anywhere.
    const before = await lengths(o);
    clock.set(T(2));
    await deliver([paid]);
    expect(await lengths(o)).toEqual(before);

    // Shipped at 3, handled at 4: dispatched at 4, and completed with the dispatch.
    clock.set(T(3));
    await ship(s, o);
    const shipped = await logEvent(orderStreamId(o.orderId), 'OrderShipped');
    clock.set(T(4));
    await deliver([shipped]);
    expect(only(await streamOf(shipment), 'ShipmentDispatched').dispatchedAt).toBe(T(4));
    const done = (await streamOf(fulfillmentStreamId(o.orderId))).map(processEvent).slice(-4);
    expect(done.map((e) => [e.type, fulfillmentEventTime(e)])).toEqual([
      ['OrderShipmentNoted', T(3)],
      ['ShipmentDispatchRequested', T(4)],
      ['StepCompleted', T(4)],
      ['FulfillmentCompleted', T(4)],
    ]);
  });

  it('sends a step left pending by an earlier run with the time it is sent again; one that had landed appends nothing', async () => {
    clock.set(T(0));
    const landed = await seedOrder(s, 10);
    const lost = await seedOrder(s, 10);
    const commands = s.app.services.commands;
    const paid: Record<string, StoredEvent> = {};
    for (const o of [landed, lost]) {
      await payOrder(s, o);
      paid[o.orderId] = await logEvent(orderStreamId(o.orderId), 'OrderPaid');
      // As the step-by-step runner left it: the payment recorded at 1 and the reservation
      // requested, then a crash.
      const trigger: FulfillmentTrigger = {
        type: 'OrderPaid',
        eventId: paid[o.orderId]!.eventId,
        observedAt: T(1),
        data: data(paid[o.orderId]!) as Extract<FulfillmentTrigger, { type: 'OrderPaid' }>['data'],
        items: [{ productId: o.productId, productName: 'Mug', quantity: 2 }],
      };
      await commands.execute(fulfillmentDecider, fulfillmentStreamId(o.orderId), trigger, {
        commandId: deriveCommandId(trigger.eventId, 'observe:OrderPaid'),
        principal: FULFILLMENT_PRINCIPAL,
        correlationId: o.orderId,
        operation: 'fulfillment:observe',
        input: { type: trigger.type, cause: trigger.eventId },
      });
    }
    // The landed one's reservation went through at 1, before the crash.
    const state = (await commands.load(fulfillmentDecider, fulfillmentStreamId(landed.orderId)))
      .state;
    const [pending] = pendingCommands(state);
    if (pending?.target !== 'product') throw new Error('expected a pending reservation');
    expect(pending.command).toMatchObject({ type: 'ReserveStock', data: { now: T(1) } });
    await commands.execute(productDecider, pending.streamId, pending.command, {
      commandId: pending.commandId,
      principal: FULFILLMENT_PRINCIPAL,
      correlationId: landed.orderId,
      operation: `fulfillment:${pending.step}`,
      input: pending.command,
    });

    // Restarted at 2, the payments delivered again: the pending reservations are sent again.
    clock.set(T(2));
    const landedBefore = await lengths(landed);
    await deliver([paid[landed.orderId]!, paid[lost.orderId]!]);

    // The landed one answers its first run whatever its new time: nothing new anywhere.
    expect(await lengths(landed)).toEqual(landedBefore);
    const reservedOnce = await logEvent(productStreamId(landed.productId), 'StockReserved');
    expect(data(reservedOnce).reservedAt).toBe(T(1));
    expect(reservedOnce.metadata.commandId).toBe(pending.commandId);

    // The lost one takes effect now, and carries the time it happened.
    expect(only(await streamOf(productStreamId(lost.productId)), 'StockReserved').reservedAt).toBe(
      T(2),
    );
    const lostProcess = (await streamOf(fulfillmentStreamId(lost.orderId))).map(processEvent);
    expect(lostProcess.slice(0, 5).map((e) => [e.type, fulfillmentEventTime(e)])).toEqual([
      ['FulfillmentStarted', T(0)],
      ['StockReservationRequested', T(1)],
      ['StockReservedForItem', T(2)],
      ['StockReservationCompleted', T(2)],
      ['ShipmentRequested', T(2)],
    ]);

    // The landed one's reservation reaches the process at 3: what follows is taken at 3.
    clock.set(T(3));
    await deliver([reservedOnce]);
    const landedProcess = (await streamOf(fulfillmentStreamId(landed.orderId))).map(processEvent);
    expect(landedProcess.slice(2, 5).map((e) => [e.type, fulfillmentEventTime(e)])).toEqual([
      ['StockReservedForItem', T(1)],
      ['StockReservationCompleted', T(1)],
      ['ShipmentRequested', T(3)],
    ]);
    const shipment = shipmentStreamId(shipmentIdFor(landed.orderId));
    expect(only(await streamOf(shipment), 'ShipmentCreated').createdAt).toBe(T(3));
  });
});
