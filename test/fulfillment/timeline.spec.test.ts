import { describe, expect, it } from 'vitest';
import type {
  FulfillmentEvent,
  FulfillmentTimelineEvent,
  ShipmentEvent,
} from '../../src/fulfillment/index.js';
import {
  describeFulfillmentEvent,
  fulfillmentEventTime,
  fulfillmentEventTypes,
  fulfillmentTimelineEventTypes,
  shipmentEventTypes,
  FulfillmentEvents,
  ShipmentEvents,
} from '../../src/fulfillment/index.js';

const orderId = '9e4f5a60-1b2c-4d3e-8f70-a1b2c3d4e5f6';
const shipmentId = '3d1f7c2e-8b4a-5c6d-9e0f-1a2b3c4d5e6f';
const commandId = 'c0000000-0000-5000-8000-000000000001';
const productId = '00000000-0000-4000-8000-000000000001';
const at = '2025-03-01T10:00:00.000Z';
const lamp = { productId, productName: 'Desk lamp', quantity: 3 };
const bulb = {
  productId: '00000000-0000-4000-8000-000000000002',
  productName: 'Bulb',
  quantity: 1,
};

/** One event of every type, each with its expected description. */
const cases: [FulfillmentTimelineEvent, string][] = [
  [
    FulfillmentEvents.FulfillmentStarted({
      orderId,
      paymentId: 'pay-1',
      shipmentId,
      items: [lamp, bulb],
      startedAt: at,
    }),
    'Fulfillment started: reserving stock for 4 items',
  ],
  [
    FulfillmentEvents.StockReservationRequested({ orderId, commandId, ...lamp, requestedAt: at }),
    'Reserving 3 × Desk lamp',
  ],
  [
    FulfillmentEvents.StockReservedForItem({ orderId, ...lamp, reservedAt: at }),
    'Reserved 3 × Desk lamp',
  ],
  [
    FulfillmentEvents.StockShortageDetected({
      orderId,
      productId,
      productName: 'Desk lamp',
      requested: 3,
      available: 1,
      detectedAt: at,
    }),
    'Stock short for Desk lamp: payment refunded',
  ],
  [FulfillmentEvents.StockReservationCompleted({ orderId, reservedAt: at }), 'Stock reserved'],
  [
    FulfillmentEvents.StockReleaseRequested({
      orderId,
      commandId,
      productId,
      productName: 'Desk lamp',
      requestedAt: at,
    }),
    'Releasing the stock of Desk lamp',
  ],
  [
    FulfillmentEvents.StockReleasedForItem({ orderId, ...lamp, releasedAt: at }),
    'Released 3 × Desk lamp',
  ],
  [
    FulfillmentEvents.RefundRequested({ orderId, commandId, reason: 'x', requestedAt: at }),
    'Refunding the payment',
  ],
  [
    FulfillmentEvents.ShipmentRequested({
      orderId,
      commandId,
      shipmentId,
      items: [lamp],
      requestedAt: at,
    }),
    'Shipment requested',
  ],
  [
    FulfillmentEvents.ReadyToShipRequested({ orderId, commandId, shipmentId, requestedAt: at }),
    'Marking the order ready to ship',
  ],
  [
    FulfillmentEvents.ShipmentDispatchRequested({
      orderId,
      commandId,
      shipmentId,
      carrier: 'DHL',
      trackingNumber: 'JD01',
      requestedAt: at,
    }),
    'Dispatching the shipment with DHL (JD01)',
  ],
  [
    FulfillmentEvents.ShipmentCancellationRequested({
      orderId,
      commandId,
      shipmentId,
      reason: 'x',
      requestedAt: at,
    }),
    'Cancelling the shipment',
  ],
  [
    FulfillmentEvents.OrderShipmentNoted({
      orderId,
      carrier: 'DHL',
      trackingNumber: 'JD01',
      shippedAt: at,
    }),
    'Order shipped with DHL (JD01)',
  ],
  [
    FulfillmentEvents.OrderCancellationNoted({
      orderId,
      reason: 'Changed my mind',
      refunded: true,
      cancelledAt: at,
    }),
    'Order cancelled: Changed my mind',
  ],
  [
    FulfillmentEvents.StepCompleted({
      orderId,
      step: 'create-shipment',
      commandId,
      completedAt: at,
    }),
    'Shipment creation confirmed',
  ],
  [
    FulfillmentEvents.StepSkipped({
      orderId,
      step: 'mark-ready-to-ship',
      productId: null,
      commandId,
      code: 'ORDER_NOT_PAID',
      reason: 'Order is CANCELLED',
      skippedAt: at,
    }),
    'Skipped marking the order ready to ship: Order is CANCELLED',
  ],
  [FulfillmentEvents.FulfillmentCompleted({ orderId, completedAt: at }), 'Fulfillment completed'],
  [
    FulfillmentEvents.FulfillmentCancelled({ orderId, reason: 'Changed my mind', cancelledAt: at }),
    'Fulfillment cancelled: Changed my mind',
  ],
  [
    FulfillmentEvents.FulfillmentFailed({
      orderId,
      step: 'reserve-stock',
      productId,
      commandId,
      code: null,
      reason: 'Database unavailable',
      failedAt: at,
    }),
    'Fulfillment failed: Database unavailable',
  ],
  [
    FulfillmentEvents.FulfillmentFlaggedLate({ orderId, limitMs: 300_000, flaggedAt: at }),
    'Fulfillment late: stock not reserved within 300 s',
  ],
  [
    ShipmentEvents.ShipmentCreated({ shipmentId, orderId, items: [lamp], createdAt: at }),
    'Shipment created',
  ],
  [
    ShipmentEvents.ShipmentDispatched({
      shipmentId,
      orderId,
      carrier: 'DHL',
      trackingNumber: 'JD01',
      dispatchedAt: at,
    }),
    'Shipment dispatched with DHL (JD01)',
  ],
  [
    ShipmentEvents.ShipmentDelivered({ shipmentId, orderId, deliveredAt: at }),
    'Shipment delivered',
  ],
  [
    ShipmentEvents.ShipmentCancelled({
      shipmentId,
      orderId,
      reason: 'Changed my mind',
      cancelledAt: at,
    }),
    'Shipment cancelled: Changed my mind',
  ],
];

describe('fulfillment timeline', () => {
  it('covers every event type', () => {
    const types = cases.map(([event]) => event.type);
    expect([...types].sort()).toEqual([...fulfillmentEventTypes, ...shipmentEventTypes].sort());
  });

  it.each(cases)('describes %o', (event, text) => {
    expect(describeFulfillmentEvent(event)).toBe(text);
    expect(fulfillmentEventTime(event)).toBe(at);
  });

  it('says "1 item" and fractional seconds as a person would', () => {
    const one: FulfillmentEvent = FulfillmentEvents.FulfillmentStarted({
      orderId,
      paymentId: 'p',
      shipmentId,
      items: [bulb],
      startedAt: at,
    });
    expect(describeFulfillmentEvent(one)).toBe('Fulfillment started: reserving stock for 1 item');
    const late: FulfillmentEvent = FulfillmentEvents.FulfillmentFlaggedLate({
      orderId,
      limitMs: 1500,
      flaggedAt: at,
    });
    expect(describeFulfillmentEvent(late)).toBe(
      'Fulfillment late: stock not reserved within 1.5 s',
    );
  });

  it('puts milestones on the order timeline, not bookkeeping', () => {
    const milestones: FulfillmentTimelineEvent['type'][] = [
      'StockReservationCompleted',
      'StockShortageDetected',
      'ShipmentCreated',
      'ShipmentDispatched',
      'ShipmentDelivered',
      'FulfillmentFailed',
      'FulfillmentFlaggedLate',
    ];
    for (const type of milestones) expect(fulfillmentTimelineEventTypes).toContain(type);
    for (const type of ['StockReservationRequested', 'StepCompleted', 'RefundRequested'] as const)
      expect(fulfillmentTimelineEventTypes).not.toContain(type);
    const shipmentOnly: ShipmentEvent['type'][] = [...shipmentEventTypes];
    for (const type of shipmentOnly) expect(fulfillmentTimelineEventTypes).toContain(type);
  });
});
