import { describe, expect, it } from 'vitest';
import type {
  FulfillmentEvent,
  FulfillmentItem,
  FulfillmentState,
  FulfillmentTrigger,
  OutgoingCommand,
  Reaction,
  StartedFulfillment,
} from '../../src/fulfillment/index.js';
import {
  commandOf,
  deriveCommandId,
  evolveFulfillment,
  FULFILLMENT_STREAM_TYPE,
  fulfillmentDecider,
  fulfillmentEventTypes,
  fulfillmentItems,
  fulfillmentStreamId,
  fulfillmentTriggerEventTypes,
  isLate,
  pendingCommands,
  react,
  resentAt,
  shipmentIdFor,
  shipmentStreamId,
  shortageReason,
  FulfillmentEvents,
} from '../../src/fulfillment/index.js';
import { productStreamId } from '../../src/catalog/index.js';
import { orderStreamId, type OrderLine } from '../../src/orders/index.js';
import { spec } from '../support/decider-spec.js';

// ---------------------------------------------------------------------------------------
// Fixtures

const orderId = '9e4f5a60-1b2c-4d3e-8f70-a1b2c3d4e5f6';
const otherOrderId = 'b2222222-2222-4222-8222-222222222222';
/** Product ids p(1), p(2) … sort in number order. */
const p = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** Event ids of the log, e(1), e(2) … */
const e = (n: number) => `eeeeeeee-0000-4000-8000-${String(n).padStart(12, '0')}`;
const T = (minute: number) => `2025-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
const shipmentId = shipmentIdFor(orderId);

const lamp: FulfillmentItem = { productId: p(1), productName: 'Desk lamp', quantity: 3 };
const bulb: FulfillmentItem = { productId: p(2), productName: 'Bulb', quantity: 1 };
/** As the order lists them: not in product-id order. */
const orderItems = [bulb, lamp];

// Triggers --------------------------------------------------------------------------------

const paid = (eventId = e(1), items: FulfillmentItem[] = orderItems): FulfillmentTrigger => ({
  eventId,
  observedAt: T(10),
  type: 'OrderPaid',
  data: {
    orderId,
    paymentId: 'pay-1',
    amount: { amount: 6497, currency: 'EUR' },
    method: 'CARD',
    transactionId: null,
    estimatedDelivery: '2025-03-07',
    paidAt: T(10),
  },
  items,
});
const stockReserved = (
  eventId: string,
  item: FulfillmentItem,
  minute: number,
  forOrder = orderId,
): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'StockReserved',
  data: {
    productId: item.productId,
    orderId: forOrder,
    quantity: item.quantity,
    availableAfter: 5,
    reservedAt: T(minute),
  },
});
const stockReleased = (
  eventId: string,
  item: FulfillmentItem,
  minute: number,
): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'StockReleased',
  data: {
    productId: item.productId,
    orderId,
    quantity: item.quantity,
    availableAfter: 9,
    releasedAt: T(minute),
  },
});
const refused = (commandId: string, available: number, minute: number): FulfillmentTrigger => ({
  type: 'StockReservationRefused',
  data: { orderId, commandId, available, refusedAt: T(minute) },
});
const rejected = (
  commandId: string,
  code: string,
  message: string,
  minute: number,
): FulfillmentTrigger => ({
  type: 'CommandRejected',
  data: { orderId, commandId, code, message, rejectedAt: T(minute) },
});
const failed = (commandId: string, reason: string, minute: number): FulfillmentTrigger => ({
  type: 'CommandFailed',
  data: { orderId, commandId, reason, failedAt: T(minute) },
});
const orderCancelled = (
  eventId: string,
  minute: number,
  reason = 'Changed my mind',
): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'OrderCancelled',
  data: { orderId, reason, cancelledAt: T(minute), refunded: true },
});
const orderReady = (eventId: string, minute: number): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'OrderReadyToShip',
  data: { orderId, shipmentId, readyAt: T(minute) },
});
const orderShipped = (eventId: string, minute: number): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'OrderShipped',
  data: {
    orderId,
    carrier: 'DHL',
    trackingNumber: 'JD0123456789',
    estimatedDelivery: null,
    shippedAt: T(minute),
  },
});
const shipmentCreated = (eventId: string, minute: number): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'ShipmentCreated',
  data: { shipmentId, orderId, items: [lamp, bulb], createdAt: T(minute) },
});
const shipmentDispatched = (eventId: string, minute: number): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'ShipmentDispatched',
  data: {
    shipmentId,
    orderId,
    carrier: 'DHL',
    trackingNumber: 'JD0123456789',
    dispatchedAt: T(minute),
  },
});
const shipmentCancelled = (eventId: string, minute: number): FulfillmentTrigger => ({
  eventId,
  observedAt: T(minute),
  type: 'ShipmentCancelled',
  data: { shipmentId, orderId, reason: 'Changed my mind', cancelledAt: T(minute) },
});
/** A log trigger as the runner hands it over at `minute`: after a backlog, a restart. */
const observedAt = (trigger: FulfillmentTrigger, minute: number): FulfillmentTrigger => {
  if (!('eventId' in trigger)) throw new Error(`${trigger.type} is not a log event`);
  return { ...trigger, observedAt: T(minute) };
};
const deadline = (minute: number, limitMs: number): FulfillmentTrigger => ({
  type: 'CheckReservationDeadline',
  data: { orderId, now: T(minute), limitMs },
});

// Expected process events -------------------------------------------------------------------

const cmd = deriveCommandId;

const started: FulfillmentEvent = FulfillmentEvents.FulfillmentStarted({
  orderId,
  paymentId: 'pay-1',
  shipmentId,
  items: [lamp, bulb],
  startedAt: T(10),
});
const reservationRequested = (
  cause: string,
  item: FulfillmentItem,
  minute: number,
): FulfillmentEvent =>
  FulfillmentEvents.StockReservationRequested({
    orderId,
    commandId: cmd(cause, `reserve-stock:${item.productId}`),
    productId: item.productId,
    productName: item.productName,
    quantity: item.quantity,
    requestedAt: T(minute),
  });
const reservedForItem = (item: FulfillmentItem, minute: number): FulfillmentEvent =>
  FulfillmentEvents.StockReservedForItem({
    orderId,
    productId: item.productId,
    productName: item.productName,
    quantity: item.quantity,
    reservedAt: T(minute),
  });
const shortage = (item: FulfillmentItem, available: number, minute: number): FulfillmentEvent =>
  FulfillmentEvents.StockShortageDetected({
    orderId,
    productId: item.productId,
    productName: item.productName,
    requested: item.quantity,
    available,
    detectedAt: T(minute),
  });
const releaseRequested = (cause: string, item: FulfillmentItem, minute: number): FulfillmentEvent =>
  FulfillmentEvents.StockReleaseRequested({
    orderId,
    commandId: cmd(cause, `release-stock:${item.productId}`),
    productId: item.productId,
    productName: item.productName,
    requestedAt: T(minute),
  });
const releasedForItem = (item: FulfillmentItem, minute: number): FulfillmentEvent =>
  FulfillmentEvents.StockReleasedForItem({
    orderId,
    productId: item.productId,
    productName: item.productName,
    quantity: item.quantity,
    releasedAt: T(minute),
  });
const refundRequested = (cause: string, reason: string, minute: number): FulfillmentEvent =>
  FulfillmentEvents.RefundRequested({
    orderId,
    commandId: cmd(cause, 'refund'),
    reason,
    requestedAt: T(minute),
  });
const reservationCompleted = (minute: number): FulfillmentEvent =>
  FulfillmentEvents.StockReservationCompleted({ orderId, reservedAt: T(minute) });
const shipmentRequested = (cause: string, minute: number): FulfillmentEvent =>
  FulfillmentEvents.ShipmentRequested({
    orderId,
    commandId: cmd(cause, 'create-shipment'),
    shipmentId,
    items: [lamp, bulb],
    requestedAt: T(minute),
  });
const readyRequested = (cause: string, minute: number): FulfillmentEvent =>
  FulfillmentEvents.ReadyToShipRequested({
    orderId,
    commandId: cmd(cause, 'mark-ready-to-ship'),
    shipmentId,
    requestedAt: T(minute),
  });
const dispatchRequested = (cause: string, minute: number): FulfillmentEvent =>
  FulfillmentEvents.ShipmentDispatchRequested({
    orderId,
    commandId: cmd(cause, 'dispatch-shipment'),
    shipmentId,
    carrier: 'DHL',
    trackingNumber: 'JD0123456789',
    requestedAt: T(minute),
  });
const cancellationRequested = (cause: string, minute: number): FulfillmentEvent =>
  FulfillmentEvents.ShipmentCancellationRequested({
    orderId,
    commandId: cmd(cause, 'cancel-shipment'),
    shipmentId,
    reason: 'Changed my mind',
    requestedAt: T(minute),
  });
const shipmentNoted = (minute: number): FulfillmentEvent =>
  FulfillmentEvents.OrderShipmentNoted({
    orderId,
    carrier: 'DHL',
    trackingNumber: 'JD0123456789',
    shippedAt: T(minute),
  });
const cancellationNoted = (minute: number, reason = 'Changed my mind'): FulfillmentEvent =>
  FulfillmentEvents.OrderCancellationNoted({
    orderId,
    reason,
    refunded: true,
    cancelledAt: T(minute),
  });
const stepCompleted = (
  step: 'create-shipment' | 'mark-ready-to-ship' | 'dispatch-shipment' | 'cancel-shipment',
  commandId: string | null,
  minute: number,
): FulfillmentEvent =>
  FulfillmentEvents.StepCompleted({ orderId, step, commandId, completedAt: T(minute) });
const fulfillmentCompleted = (minute: number): FulfillmentEvent =>
  FulfillmentEvents.FulfillmentCompleted({ orderId, completedAt: T(minute) });
const fulfillmentCancelled = (minute: number, reason = 'Changed my mind'): FulfillmentEvent =>
  FulfillmentEvents.FulfillmentCancelled({ orderId, reason, cancelledAt: T(minute) });

/** The reason the process cancels this order with when bulbs run short. */
const bulbShort = 'Stock short for Bulb: payment refunded';

// Histories, each the process stream after a well-known point ------------------------------

/** Paid: reserving the lamp (the lower product id) first. */
const hPaid = [started, reservationRequested(e(1), lamp, 10)];
/** Lamp reserved: reserving the bulb. */
const hLampReserved = [...hPaid, reservedForItem(lamp, 11), reservationRequested(e(2), bulb, 11)];
/** Both reserved: shipment and "ready to ship" requested. */
const hAllReserved = [
  ...hLampReserved,
  reservedForItem(bulb, 12),
  reservationCompleted(12),
  shipmentRequested(e(3), 12),
  readyRequested(e(3), 12),
];
/** Shipment created and order marked ready to ship: waiting for `shipOrder`. */
const hReady = [
  ...hAllReserved,
  stepCompleted('create-shipment', cmd(e(3), 'create-shipment'), 13),
  stepCompleted('mark-ready-to-ship', cmd(e(3), 'mark-ready-to-ship'), 14),
];
/** Bulb refused after the lamp was reserved: lamp release and refund requested. */
const bulbReservation = cmd(e(2), `reserve-stock:${p(2)}`);
const hBulbShort = [
  ...hLampReserved,
  shortage(bulb, 0, 12),
  releaseRequested(bulbReservation, lamp, 12),
  refundRequested(bulbReservation, bulbShort, 12),
];

/** Feeds triggers one after the other, as the runner would, keeping the state in step. */
class Run {
  state: FulfillmentState = fulfillmentDecider.initialState;
  readonly events: FulfillmentEvent[] = [];
  readonly commands: OutgoingCommand[] = [];

  feed(...triggers: FulfillmentTrigger[]): Reaction {
    let last: Reaction = { events: [], commands: [] };
    for (const trigger of triggers) {
      last = react(this.state, trigger);
      this.state = last.events.reduce(evolveFulfillment, this.state);
      this.events.push(...last.events);
      this.commands.push(...last.commands);
    }
    return last;
  }

  get started(): StartedFulfillment {
    if (this.state.status === 'NOT_STARTED') throw new Error('not started');
    return this.state;
  }
}

const fold = (events: FulfillmentEvent[]): FulfillmentState =>
  events.reduce(evolveFulfillment, fulfillmentDecider.initialState);

const process = spec(fulfillmentDecider);

// ---------------------------------------------------------------------------------------

describe('fulfillment process', () => {
  it('names its stream, snapshot shape and inputs', () => {
    expect(fulfillmentDecider.streamType).toBe('fulfillment');
    expect(FULFILLMENT_STREAM_TYPE).toBe('fulfillment');
    expect(fulfillmentDecider.snapshotVersion).toBe(1);
    expect(fulfillmentStreamId(orderId)).toBe(`fulfillment-${orderId}`);
    expect(fulfillmentDecider.initialState).toEqual({ status: 'NOT_STARTED' });
    expect(fulfillmentTriggerEventTypes).toEqual([
      'OrderPaid',
      'OrderReadyToShip',
      'OrderShipped',
      'OrderCancelled',
      'StockReserved',
      'StockReleased',
      'ShipmentCreated',
      'ShipmentDispatched',
      'ShipmentCancelled',
    ]);
    expect(new Set(fulfillmentEventTypes).size).toBe(20);
  });

  it('takes from order lines only what it needs', () => {
    const line: OrderLine = {
      ...lamp,
      imageUrl: 'https://cdn.example.com/lamp.png',
      unitPrice: { amount: 1999, currency: 'EUR' },
    };
    expect(fulfillmentItems([line])).toEqual([lamp]);
  });

  describe('all reserved', () => {
    it('starts on payment and reserves the lowest product id first', () => {
      const state = process.when(paid()).then(hPaid);
      expect(state).toMatchObject({ status: 'RESERVING', items: [lamp, bulb], shipmentId });
      const { commands } = react(fulfillmentDecider.initialState, paid());
      expect(commands).toEqual([
        {
          commandId: cmd(e(1), `reserve-stock:${p(1)}`),
          step: 'reserve-stock',
          target: 'product',
          streamId: productStreamId(p(1)),
          command: {
            type: 'ReserveStock',
            data: { productId: p(1), orderId, quantity: 3, now: T(10) },
          },
        },
      ]);
    });

    it('reserves the next product once one is reserved', () => {
      process
        .given(hPaid)
        .when(stockReserved(e(2), lamp, 11))
        .then([reservedForItem(lamp, 11), reservationRequested(e(2), bulb, 11)]);
    });

    it('creates the shipment and marks the order ready to ship once all is reserved', () => {
      const state = process
        .given(hLampReserved)
        .when(stockReserved(e(3), bulb, 12))
        .then([
          reservedForItem(bulb, 12),
          reservationCompleted(12),
          shipmentRequested(e(3), 12),
          readyRequested(e(3), 12),
        ]);
      expect(state.status).toBe('READY_TO_SHIP');
      const { commands } = react(fold(hLampReserved), stockReserved(e(3), bulb, 12));
      expect(commands).toEqual([
        {
          commandId: cmd(e(3), 'create-shipment'),
          step: 'create-shipment',
          target: 'shipment',
          streamId: shipmentStreamId(shipmentId),
          command: {
            type: 'CreateShipment',
            data: { shipmentId, orderId, items: [lamp, bulb], now: T(12) },
          },
        },
        {
          commandId: cmd(e(3), 'mark-ready-to-ship'),
          step: 'mark-ready-to-ship',
          target: 'order',
          streamId: orderStreamId(orderId),
          command: { type: 'MarkOrderReadyToShip', data: { orderId, shipmentId, now: T(12) } },
        },
      ]);
    });

    it('notes the shipment and the order as they take effect', () => {
      process
        .given(hAllReserved)
        .when(shipmentCreated(e(4), 13))
        .then([stepCompleted('create-shipment', cmd(e(3), 'create-shipment'), 13)]);
      const state = process
        .given(
          hAllReserved.concat(stepCompleted('create-shipment', cmd(e(3), 'create-shipment'), 13)),
        )
        .when(orderReady(e(5), 14))
        .then([stepCompleted('mark-ready-to-ship', cmd(e(3), 'mark-ready-to-ship'), 14)]);
      expect(state).toMatchObject({
        status: 'READY_TO_SHIP',
        shipment: 'CREATED',
        orderReadyToShip: true,
      });
      expect(pendingCommands(state)).toEqual([]);
    });

    it('dispatches the shipment when the order ships, and completes when it has left', () => {
      const afterShip = process
        .given(hReady)
        .when(orderShipped(e(6), 30))
        .then([shipmentNoted(30), dispatchRequested(e(6), 30)]);
      expect(afterShip.status).toBe('DISPATCHING');
      expect(react(fold(hReady), orderShipped(e(6), 30)).commands).toEqual([
        {
          commandId: cmd(e(6), 'dispatch-shipment'),
          step: 'dispatch-shipment',
          target: 'shipment',
          streamId: shipmentStreamId(shipmentId),
          command: {
            type: 'DispatchShipment',
            data: { shipmentId, carrier: 'DHL', trackingNumber: 'JD0123456789', now: T(30) },
          },
        },
      ]);
      const done = process
        .given([...hReady, shipmentNoted(30), dispatchRequested(e(6), 30)])
        .when(shipmentDispatched(e(7), 31))
        .then([
          stepCompleted('dispatch-shipment', cmd(e(6), 'dispatch-shipment'), 31),
          fulfillmentCompleted(31),
        ]);
      expect(done).toMatchObject({ status: 'COMPLETED', shipment: 'DISPATCHED' });
      expect(pendingCommands(done)).toEqual([]);
    });

    it('handles a one-item order', () => {
      const run = new Run();
      run.feed(paid(e(1), [bulb]), stockReserved(e(2), bulb, 11));
      expect(run.state.status).toBe('READY_TO_SHIP');
      expect(run.commands.map((c) => c.command.type)).toEqual([
        'ReserveStock',
        'CreateShipment',
        'MarkOrderReadyToShip',
      ]);
    });

    it('dispatches a shipment created after the order already shipped', () => {
      // The order ships while the shipment is being created.
      const state = process
        .given([...hAllReserved, shipmentNoted(13)])
        .when(shipmentCreated(e(4), 14))
        .then([
          stepCompleted('create-shipment', cmd(e(3), 'create-shipment'), 14),
          dispatchRequested(e(4), 14),
        ]);
      expect(state.status).toBe('DISPATCHING');
    });

    it('skips "ready to ship" for an order shipped before its stock was reserved', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11), orderShipped(e(3), 11));
      expect(run.events.at(-1)).toEqual(shipmentNoted(11));
      const reaction = run.feed(stockReserved(e(4), bulb, 12));
      expect(reaction.events.map((x) => x.type)).toEqual([
        'StockReservedForItem',
        'StockReservationCompleted',
        'ShipmentRequested',
      ]);
      const created = run.feed(shipmentCreated(e(5), 13));
      expect(created.commands.map((c) => c.command.type)).toEqual(['DispatchShipment']);
      run.feed(shipmentDispatched(e(6), 14));
      expect(run.state.status).toBe('COMPLETED');
    });

    it('completes when the shipment was dispatched by someone else first', () => {
      const state = process
        .given(hReady)
        .when(shipmentDispatched(e(7), 31))
        .then([stepCompleted('dispatch-shipment', null, 31), fulfillmentCompleted(31)]);
      expect(state.status).toBe('COMPLETED');
    });
  });

  describe('one item short', () => {
    it('releases the partial reservation, refunds and cancels the order', () => {
      const state = process
        .given(hLampReserved)
        .when(refused(bulbReservation, 0, 12))
        .then([
          shortage(bulb, 0, 12),
          releaseRequested(bulbReservation, lamp, 12),
          refundRequested(bulbReservation, bulbShort, 12),
        ]);
      expect(state).toMatchObject({
        status: 'COMPENSATING',
        stock: { [p(1)]: 'RESERVED', [p(2)]: 'SHORT' },
        shortage: { productId: p(2), productName: 'Bulb', requested: 1, available: 0 },
      });
      expect(react(fold(hLampReserved), refused(bulbReservation, 0, 12)).commands).toEqual([
        {
          commandId: cmd(bulbReservation, `release-stock:${p(1)}`),
          step: 'release-stock',
          target: 'product',
          streamId: productStreamId(p(1)),
          command: { type: 'ReleaseStock', data: { productId: p(1), orderId, now: T(12) } },
        },
        {
          commandId: cmd(bulbReservation, 'refund'),
          step: 'refund',
          target: 'order',
          streamId: orderStreamId(orderId),
          command: { type: 'CancelOrder', data: { orderId, reason: bulbShort, now: T(12) } },
        },
      ]);
      expect(shortageReason('Bulb')).toBe(bulbShort);
    });

    it('is cancelled once the stock is back and the order cancelled, in either order', () => {
      const releasedFirst = [...hBulbShort, releasedForItem(lamp, 13)];
      process
        .given(releasedFirst)
        .when(orderCancelled(e(5), 14, bulbShort))
        .then([cancellationNoted(14, bulbShort), fulfillmentCancelled(14, bulbShort)]);

      const cancelledFirst = [...hBulbShort, cancellationNoted(13, bulbShort)];
      const state = process
        .given(cancelledFirst)
        .when(stockReleased(e(5), lamp, 14))
        .then([releasedForItem(lamp, 14), fulfillmentCancelled(14, bulbShort)]);
      expect(state).toMatchObject({
        status: 'CANCELLED',
        stock: { [p(1)]: 'RELEASED', [p(2)]: 'SHORT' },
      });
      expect(pendingCommands(state)).toEqual([]);
    });

    it('only refunds when the first product is short', () => {
      const lampReservation = cmd(e(1), `reserve-stock:${p(1)}`);
      process
        .given(hPaid)
        .when(refused(lampReservation, 2, 11))
        .then([
          shortage(lamp, 2, 11),
          refundRequested(lampReservation, 'Stock short for Desk lamp: payment refunded', 11),
        ]);
    });

    it('takes a refund refused because the order is already cancelled as done', () => {
      const refund = cmd(bulbReservation, 'refund');
      const state = process
        .given([...hBulbShort, releasedForItem(lamp, 13)])
        .when(rejected(refund, 'ORDER_ALREADY_CANCELLED', 'Order is already cancelled', 13))
        .then([
          FulfillmentEvents.StepSkipped({
            orderId,
            step: 'refund',
            productId: null,
            commandId: refund,
            code: 'ORDER_ALREADY_CANCELLED',
            reason: 'Order is already cancelled',
            skippedAt: T(13),
          }),
        ]);
      // Whoever cancelled it: once the cancellation is seen, the process is done.
      const done = react(state, orderCancelled(e(6), 12, 'Changed my mind'));
      expect(done.events.map((x) => x.type)).toEqual([
        'OrderCancellationNoted',
        'FulfillmentCancelled',
      ]);
    });
  });

  describe('cancellation', () => {
    it('releases every reservation and cancels the shipment when a ready order is cancelled', () => {
      const state = process
        .given(hReady)
        .when(orderCancelled(e(8), 20))
        .then([
          cancellationNoted(20),
          releaseRequested(e(8), lamp, 20),
          releaseRequested(e(8), bulb, 20),
          cancellationRequested(e(8), 20),
        ]);
      expect(state.status).toBe('COMPENSATING');
      expect(pendingCommands(state).map((c) => c.command)).toEqual([
        { type: 'ReleaseStock', data: { productId: p(1), orderId, now: T(20) } },
        { type: 'ReleaseStock', data: { productId: p(2), orderId, now: T(20) } },
        { type: 'CancelShipment', data: { shipmentId, reason: 'Changed my mind', now: T(20) } },
      ]);
      const run = new Run();
      run.state = state;
      expect(run.feed(stockReleased(e(9), lamp, 21)).events).toEqual([releasedForItem(lamp, 21)]);
      expect(run.feed(shipmentCancelled(e(10), 21)).events).toEqual([
        stepCompleted('cancel-shipment', cmd(e(8), 'cancel-shipment'), 21),
      ]);
      expect(run.feed(stockReleased(e(11), bulb, 22)).events).toEqual([
        releasedForItem(bulb, 22),
        fulfillmentCancelled(22),
      ]);
      expect(run.state.status).toBe('CANCELLED');
    });

    it('releases what is reserved when the order is cancelled while reserving', () => {
      process
        .given(hLampReserved)
        .when(orderCancelled(e(8), 12))
        .then([cancellationNoted(12), releaseRequested(e(8), lamp, 12)]);
    });

    it('releases a reservation that lands after the cancellation', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11), orderCancelled(e(3), 12));
      // The bulb's reservation was on its way when the order was cancelled.
      const late = run.feed(stockReserved(e(4), bulb, 13));
      expect(late.events).toEqual([reservedForItem(bulb, 13), releaseRequested(e(4), bulb, 13)]);
      run.feed(stockReleased(e(5), lamp, 14));
      expect(run.state.status).toBe('COMPENSATING');
      expect(run.feed(stockReleased(e(6), bulb, 15)).events).toEqual([
        releasedForItem(bulb, 15),
        fulfillmentCancelled(15),
      ]);
      // No refund: the customer's cancellation refunded the order.
      expect(run.commands.filter((c) => c.command.type === 'CancelOrder')).toEqual([]);
    });

    it('waits for a reservation in flight to be refused before finishing', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11), orderCancelled(e(3), 12));
      run.feed(stockReleased(e(4), lamp, 13));
      expect(run.state.status).toBe('COMPENSATING');
      const last = run.feed(refused(bulbReservation, 0, 14));
      expect(last.events).toEqual([shortage(bulb, 0, 14), fulfillmentCancelled(14)]);
      expect(last.commands).toEqual([]);
    });

    it('does nothing for an order cancelled before it was paid', () => {
      process.when(orderCancelled(e(1), 5)).then([]);
    });

    it('takes "ready to ship" refused for a cancelled order as no longer needed', () => {
      const markReady = cmd(e(3), 'mark-ready-to-ship');
      const run = new Run();
      run.state = fold([
        ...hAllReserved,
        stepCompleted('create-shipment', cmd(e(3), 'create-shipment'), 13),
      ]);
      run.feed(orderCancelled(e(8), 14));
      const skipped = run.feed(rejected(markReady, 'ORDER_NOT_PAID', 'Order is CANCELLED', 15));
      expect(skipped.events.map((x) => x.type)).toEqual(['StepSkipped']);
      run.feed(stockReleased(e(9), lamp, 16), stockReleased(e(10), bulb, 16));
      run.feed(shipmentCancelled(e(11), 17));
      expect(run.state.status).toBe('CANCELLED');
      expect(run.started.failures).toEqual([]);
    });
  });

  describe('duplicate deliveries', () => {
    const happyPath = [
      paid(),
      stockReserved(e(2), lamp, 11),
      stockReserved(e(3), bulb, 12),
      shipmentCreated(e(4), 13),
      orderReady(e(5), 14),
      orderShipped(e(6), 30),
      shipmentDispatched(e(7), 31),
    ];
    const shortPath = [
      paid(),
      stockReserved(e(2), lamp, 11),
      refused(bulbReservation, 0, 12),
      stockReleased(e(4), lamp, 13),
      orderCancelled(e(5), 14, bulbShort),
    ];
    const cancelPath = [
      ...happyPath.slice(0, 5),
      orderCancelled(e(8), 20),
      stockReleased(e(9), lamp, 21),
      shipmentCancelled(e(10), 21),
      stockReleased(e(11), bulb, 22),
    ];

    it.each([
      ['the happy path', happyPath, 'COMPLETED'],
      ['a shortage', shortPath, 'CANCELLED'],
      ['a cancellation', cancelPath, 'CANCELLED'],
    ] as const)('records nothing new when every trigger of %s comes twice', (_, path, end) => {
      const once = new Run();
      once.feed(...path);
      const twice = new Run();
      for (const trigger of path) {
        twice.feed(trigger);
        expect(twice.feed(trigger), `${trigger.type} again`).toEqual({ events: [], commands: [] });
      }
      expect(twice.events).toEqual(once.events);
      expect(twice.commands).toEqual(once.commands);
      expect(twice.state.status).toBe(end);
      // Redelivering the whole log from the start, as after a lost checkpoint, changes nothing.
      const replay = new Run();
      replay.state = twice.state;
      replay.feed(...path);
      expect(replay.events).toEqual([]);
    });

    it('answers a duplicate with the spec helper too', () => {
      process.given(hPaid).when(paid()).then([]);
      process
        .given(hLampReserved)
        .when(stockReserved(e(2), lamp, 11))
        .then([]);
      process
        .given(hBulbShort)
        .when(refused(bulbReservation, 0, 12))
        .then([]);
      process
        .given(hReady)
        .when(shipmentCreated(e(4), 13))
        .then([]);
      process
        .given(hReady)
        .when(orderReady(e(5), 14))
        .then([]);
    });

    it('does not reserve again a product it already released', () => {
      // The old StockReserved comes again after its release: a late echo, not a new fact.
      process
        .given([...hBulbShort, releasedForItem(lamp, 13)])
        .when(stockReserved(e(2), lamp, 11))
        .then([]);
    });
  });

  describe('out-of-order deliveries', () => {
    it('releases a reservation that lands after a shortage was detected', () => {
      // The lamp's refusal was recorded; a resent reservation then got through after a restock.
      const lampReservation = cmd(e(1), `reserve-stock:${p(1)}`);
      const afterShortage = [
        ...hPaid,
        shortage(lamp, 2, 11),
        refundRequested(lampReservation, 'Stock short for Desk lamp: payment refunded', 11),
      ];
      const state = process
        .given(afterShortage)
        .when(stockReserved(e(3), lamp, 12))
        .then([reservedForItem(lamp, 12), releaseRequested(e(3), lamp, 12)]);
      expect(state.status).toBe('COMPENSATING');
    });

    it('releases a reservation that lands after the process was cancelled', () => {
      const done = [
        ...hBulbShort,
        releasedForItem(lamp, 13),
        cancellationNoted(14, bulbShort),
        fulfillmentCancelled(14, bulbShort),
      ];
      const state = process
        .given(done)
        .when(stockReserved(e(9), bulb, 20))
        .then([reservedForItem(bulb, 20), releaseRequested(e(9), bulb, 20)]);
      expect(state.status).toBe('CANCELLED');
      expect(pendingCommands(state).map((c) => c.command.type)).toEqual(['ReleaseStock']);
      // Released: nothing more to say, the process was already cancelled.
      process
        .given([...done, reservedForItem(bulb, 20), releaseRequested(e(9), bulb, 20)])
        .when(stockReleased(e(10), bulb, 21))
        .then([releasedForItem(bulb, 21)]);
    });

    it('accepts confirmations in any order', () => {
      const forward = new Run();
      forward.feed(
        paid(),
        stockReserved(e(2), lamp, 11),
        stockReserved(e(3), bulb, 12),
        shipmentCreated(e(4), 13),
        orderReady(e(5), 14),
      );
      const backward = new Run();
      backward.feed(
        paid(),
        stockReserved(e(2), lamp, 11),
        stockReserved(e(3), bulb, 12),
        orderReady(e(5), 14),
        shipmentCreated(e(4), 13),
      );
      expect(backward.state).toMatchObject({
        status: 'READY_TO_SHIP',
        shipment: 'CREATED',
        orderReadyToShip: true,
      });
      expect(pendingCommands(backward.state)).toEqual([]);
      expect(forward.commands).toEqual(backward.commands);
    });

    it('dispatches once the shipment exists when OrderShipped came first', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11), stockReserved(e(3), bulb, 12));
      expect(run.feed(orderShipped(e(6), 13)).commands).toEqual([]);
      expect(run.feed(shipmentCreated(e(4), 14)).commands.map((c) => c.command.type)).toEqual([
        'DispatchShipment',
      ]);
    });

    it('ignores events of a stream it has not started', () => {
      process.when(stockReserved(e(2), lamp, 11)).then([]);
      process.when(stockReleased(e(2), lamp, 11)).then([]);
      process.when(shipmentCreated(e(2), 11)).then([]);
      process.when(refused(bulbReservation, 0, 12)).then([]);
    });

    it('ignores products that are not in the order and outcomes of unknown commands', () => {
      const shade: FulfillmentItem = { productId: p(3), productName: 'Shade', quantity: 1 };
      process
        .given(hPaid)
        .when(stockReserved(e(2), shade, 11))
        .then([]);
      process
        .given(hPaid)
        .when(stockReleased(e(2), lamp, 11))
        .then([]);
      process
        .given(hPaid)
        .when(failed(cmd(e(99), 'refund'), 'boom', 11))
        .then([]);
      process
        .given(hPaid)
        .when(rejected(cmd(e(99), 'refund'), 'X', 'x', 11))
        .then([]);
    });
  });

  describe('derived command ids', () => {
    it('are the same when a trigger is delivered again to the same state', () => {
      const first = react(fold(hLampReserved), stockReserved(e(3), bulb, 12));
      const again = react(fold(hLampReserved), stockReserved(e(3), bulb, 12));
      expect(again.commands.map((c) => c.commandId)).toEqual(
        first.commands.map((c) => c.commandId),
      );
      expect(first.commands.map((c) => c.commandId)).toEqual([
        cmd(e(3), 'create-shipment'),
        cmd(e(3), 'mark-ready-to-ship'),
      ]);
    });

    it('are distinct across every step of every path', () => {
      const run = new Run();
      run.feed(
        paid(),
        stockReserved(e(2), lamp, 11),
        stockReserved(e(3), bulb, 12),
        shipmentCreated(e(4), 13),
        orderReady(e(5), 14),
        orderCancelled(e(8), 20),
      );
      const short = new Run();
      short.feed(paid(e(21)), stockReserved(e(22), lamp, 11));
      const reserveBulb = short.commands.at(-1)!.commandId;
      short.feed(refused(reserveBulb, 0, 12));
      const ids = [...run.commands, ...short.commands].map((c) => c.commandId);
      expect(ids).toHaveLength(11);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab]/);
    });

    it('come back from the state after a crash between recording and sending', () => {
      // The runner appended the reaction's events, then died before sending anything.
      const reaction = react(fold(hReady), orderCancelled(e(8), 20));
      const restarted = fold([...hReady, ...reaction.events]);
      expect(pendingCommands(restarted)).toEqual(reaction.commands);
      // A redelivered trigger records nothing; the pending commands are what to send.
      expect(react(restarted, orderCancelled(e(8), 20))).toEqual({ events: [], commands: [] });
    });

    it('follow from the recorded events alone', () => {
      const reaction = react(fold(hReady), orderCancelled(e(8), 20));
      expect(reaction.events.flatMap((x) => commandOf(x) ?? [])).toEqual(reaction.commands);
      expect(commandOf(started)).toBeNull();
    });
  });

  describe('failures', () => {
    it('records a step that failed for good and stops going forward', () => {
      const lampReservation = cmd(e(1), `reserve-stock:${p(1)}`);
      const state = process
        .given(hPaid)
        .when(failed(lampReservation, 'Database unavailable after 8 attempts', 11))
        .then([
          FulfillmentEvents.FulfillmentFailed({
            orderId,
            step: 'reserve-stock',
            productId: p(1),
            commandId: lampReservation,
            code: null,
            reason: 'Database unavailable after 8 attempts',
            failedAt: T(11),
          }),
        ]);
      expect(state).toMatchObject({
        status: 'FAILED',
        steps: { [`reserve-stock:${p(1)}`]: { status: 'FAILED' } },
      });
      expect(pendingCommands(state)).toEqual([]);
    });

    it('records a refusal that is not a shortage as a failure with its code', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11));
      const reaction = run.feed(
        rejected(bulbReservation, 'PRODUCT_NOT_FOUND', 'Product does not exist', 12),
      );
      expect(reaction).toEqual({
        events: [
          FulfillmentEvents.FulfillmentFailed({
            orderId,
            step: 'reserve-stock',
            productId: p(2),
            commandId: bulbReservation,
            code: 'PRODUCT_NOT_FOUND',
            reason: 'Product does not exist',
            failedAt: T(12),
          }),
        ],
        commands: [],
      });
      // An admin then cancels the order: the process gives back what it holds.
      const cancel = run.feed(orderCancelled(e(5), 20));
      expect(cancel.events).toEqual([cancellationNoted(20), releaseRequested(e(5), lamp, 20)]);
      expect(run.feed(stockReleased(e(6), lamp, 21)).events).toEqual([
        releasedForItem(lamp, 21),
        fulfillmentCancelled(21),
      ]);
      expect(run.started.failures).toHaveLength(1);
    });

    it('still dispatches and completes after "ready to ship" failed', () => {
      const run = new Run();
      run.state = fold(hAllReserved);
      run.feed(shipmentCreated(e(4), 13));
      run.feed(failed(cmd(e(3), 'mark-ready-to-ship'), 'Timed out', 14));
      expect(run.state.status).toBe('FAILED');
      run.feed(orderShipped(e(6), 30), shipmentDispatched(e(7), 31));
      expect(run.state.status).toBe('COMPLETED');
      expect(run.started.failures.map((f) => f.step)).toEqual(['mark-ready-to-ship']);
    });

    it('does not retry a failed compensation by itself', () => {
      const run = new Run();
      run.state = fold(hBulbShort);
      run.feed(failed(cmd(bulbReservation, `release-stock:${p(1)}`), 'Timed out', 13));
      const after = run.feed(orderCancelled(e(5), 14, bulbShort));
      expect(after.commands).toEqual([]);
      expect(run.state.status).toBe('FAILED');
      // Someone releases the stock by hand: the process sees it and is done.
      expect(run.feed(stockReleased(e(6), lamp, 15)).events).toEqual([
        releasedForItem(lamp, 15),
        fulfillmentCancelled(15, bulbShort),
      ]);
    });

    it('asks for shortages to be reported with the available count', () => {
      expect(() =>
        react(fold(hLampReserved), rejected(bulbReservation, 'INSUFFICIENT_STOCK', 'Only 0', 12)),
      ).toThrow(/StockReservationRefused/);
    });

    it('refuses a trigger meant for another order', () => {
      const foreign = stockReserved(e(2), lamp, 11, otherOrderId);
      expect(() => react(fold(hPaid), foreign)).toThrow(/another|reached the process/);
    });

    it('refuses a paid order without items', () => {
      expect(() => react(fulfillmentDecider.initialState, paid(e(1), []))).toThrow(/without items/);
    });

    it('refuses to evolve events its state cannot take', () => {
      expect(() => evolveFulfillment(fulfillmentDecider.initialState, hPaid[1]!)).toThrow(
        /cannot apply/,
      );
      expect(() => evolveFulfillment(fold(hPaid), started)).toThrow(/cannot apply/);
    });
  });

  describe('times', () => {
    it('stamps each step with the time it is taken, not with the time of the payment', () => {
      // Paid at 10, handled at 15: the reservation is requested, and sent, at 15.
      const paidLate = observedAt(paid(), 15);
      const hPaidLate = [started, reservationRequested(e(1), lamp, 15)];
      process.when(paidLate).then(hPaidLate);
      expect(react(fulfillmentDecider.initialState, paidLate).commands[0]!.command).toEqual({
        type: 'ReserveStock',
        data: { productId: p(1), orderId, quantity: 3, now: T(15) },
      });
      // The lamp reserved at 15 (the time the command carried), learnt at 16.
      const hLampLate = [
        ...hPaidLate,
        reservedForItem(lamp, 15),
        reservationRequested(e(2), bulb, 16),
      ];
      process
        .given(hPaidLate)
        .when(observedAt(stockReserved(e(2), lamp, 15), 16))
        .then(hLampLate.slice(hPaidLate.length));
      // All reserved: the reservation completed when the bulb was reserved; the shipment and
      // "ready to ship" are requested when the process learns it.
      const allReserved = observedAt(stockReserved(e(3), bulb, 16), 17);
      process
        .given(hLampLate)
        .when(allReserved)
        .then([
          reservedForItem(bulb, 16),
          reservationCompleted(16),
          shipmentRequested(e(3), 17),
          readyRequested(e(3), 17),
        ]);
      expect(react(fold(hLampLate), allReserved).commands.map((c) => c.command.data.now)).toEqual([
        T(17),
        T(17),
      ]);
    });

    it('completes with the dispatch, and dispatches when it learns of the shipping', () => {
      process
        .given(hReady)
        .when(observedAt(orderShipped(e(6), 30), 32))
        .then([shipmentNoted(30), dispatchRequested(e(6), 32)]);
      process
        .given([...hReady, shipmentNoted(30), dispatchRequested(e(6), 32)])
        .when(observedAt(shipmentDispatched(e(7), 32), 33))
        .then([
          stepCompleted('dispatch-shipment', cmd(e(6), 'dispatch-shipment'), 32),
          fulfillmentCompleted(32),
        ]);
    });

    it('compensates when it learns of a cancellation, and is cancelled with the last release', () => {
      const run = new Run();
      run.state = fold(hReady);
      expect(run.feed(observedAt(orderCancelled(e(8), 20), 25)).events).toEqual([
        cancellationNoted(20),
        releaseRequested(e(8), lamp, 25),
        releaseRequested(e(8), bulb, 25),
        cancellationRequested(e(8), 25),
      ]);
      expect(run.commands.map((c) => c.command.data.now)).toEqual([T(25), T(25), T(25)]);
      run.feed(observedAt(stockReleased(e(9), lamp, 25), 26));
      run.feed(observedAt(shipmentCancelled(e(10), 25), 26));
      expect(run.feed(observedAt(stockReleased(e(11), bulb, 25), 27)).events).toEqual([
        releasedForItem(bulb, 25),
        fulfillmentCancelled(25),
      ]);
    });

    it('counts the reservation deadline from the payment, however late it was handled', () => {
      const state = fold([started, reservationRequested(e(1), lamp, 14)]);
      expect(state).toMatchObject({ startedAt: T(10) });
      expect(isLate(state, T(15), 5 * 60_000)).toBe(false);
      expect(isLate(state, T(16), 5 * 60_000)).toBe(true);
    });

    it('sends a pending command again with the time it is sent again, and nothing else new', () => {
      const [pending] = pendingCommands(fold(hPaid));
      expect(pending!.command.data.now).toBe(T(10));
      const again = resentAt(pending!, T(40));
      expect(again).toEqual({
        ...pending,
        command: {
          type: 'ReserveStock',
          data: { productId: p(1), orderId, quantity: 3, now: T(40) },
        },
      });
      // The recorded step keeps the time it was first sent.
      expect(pendingCommands(fold(hPaid))[0]!.command.data.now).toBe(T(10));
    });

    it('refuses a log trigger without the time it was observed', () => {
      const { observedAt: _, ...untimed } = paid() as Extract<
        FulfillmentTrigger,
        { eventId: string }
      >;
      expect(() => react(fulfillmentDecider.initialState, untimed as never)).toThrow(
        /OrderPaid trigger came without its time/,
      );
    });
  });

  describe('late reservation', () => {
    const limitMs = 5 * 60_000;

    it('is late only while reserving, past the limit after payment', () => {
      expect(isLate(fulfillmentDecider.initialState, T(59), limitMs)).toBe(false);
      expect(isLate(fold(hLampReserved), T(15), limitMs)).toBe(false);
      expect(isLate(fold(hLampReserved), T(16), limitMs)).toBe(true);
      expect(isLate(fold(hAllReserved), T(59), limitMs)).toBe(false);
      expect(isLate(fold(hBulbShort), T(59), limitMs)).toBe(false);
    });

    it('flags a late process once', () => {
      const flagged: FulfillmentEvent = FulfillmentEvents.FulfillmentFlaggedLate({
        orderId,
        limitMs,
        flaggedAt: T(16),
      });
      process.given(hLampReserved).when(deadline(15, limitMs)).then([]);
      const state = process.given(hLampReserved).when(deadline(16, limitMs)).then([flagged]);
      expect(state).toMatchObject({ status: 'RESERVING', lateFlaggedAt: T(16) });
      expect(isLate(state, T(30), limitMs)).toBe(false);
      process
        .given([...hLampReserved, flagged])
        .when(deadline(30, limitMs))
        .then([]);
      expect(react(state, deadline(16, limitMs)).commands).toEqual([]);
    });

    it('goes on reserving after being flagged', () => {
      const run = new Run();
      run.feed(paid(), stockReserved(e(2), lamp, 11), deadline(20, limitMs));
      expect(run.events.at(-1)?.type).toBe('FulfillmentFlaggedLate');
      run.feed(stockReserved(e(3), bulb, 21));
      expect(run.state.status).toBe('READY_TO_SHIP');
    });

    it('has nothing to flag before payment', () => {
      process.when(deadline(59, limitMs)).then([]);
    });
  });
});
