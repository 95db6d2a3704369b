import { describe, expect, it } from 'vitest';
import type { ShipmentCommand, ShipmentEvent, ShipmentItem } from '../../src/fulfillment/index.js';
import {
  SHIPMENT_STREAM_TYPE,
  shipmentDecider,
  shipmentEventTypes,
  shipmentStreamId,
  ShipmentEvents,
} from '../../src/fulfillment/index.js';
import { spec } from '../support/decider-spec.js';

const shipmentId = '3d1f7c2e-8b4a-5c6d-9e0f-1a2b3c4d5e6f';
const orderId = '9e4f5a60-1b2c-4d3e-8f70-a1b2c3d4e5f6';
const otherOrderId = 'b2222222-2222-4222-8222-222222222222';
const p = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const T = (minute: number) => `2025-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;

const items: ShipmentItem[] = [
  { productId: p(1), productName: 'Desk lamp', quantity: 3 },
  { productId: p(2), productName: 'Bulb', quantity: 1 },
];

type Data<T extends ShipmentCommand['type']> = Extract<ShipmentCommand, { type: T }>['data'];

const create = (over: Partial<Data<'CreateShipment'>> = {}): ShipmentCommand => ({
  type: 'CreateShipment',
  data: { shipmentId, orderId, items, now: T(20), ...over },
});
const dispatch = (carrier = 'DHL', trackingNumber = 'JD0123456789'): ShipmentCommand => ({
  type: 'DispatchShipment',
  data: { shipmentId, carrier, trackingNumber, now: T(30) },
});
const deliver = (): ShipmentCommand => ({
  type: 'MarkShipmentDelivered',
  data: { shipmentId, now: T(50) },
});
const cancel = (reason = 'Changed my mind'): ShipmentCommand => ({
  type: 'CancelShipment',
  data: { shipmentId, reason, now: T(40) },
});

const created: ShipmentEvent = ShipmentEvents.ShipmentCreated({
  shipmentId,
  orderId,
  items,
  createdAt: T(20),
});
const dispatched: ShipmentEvent = ShipmentEvents.ShipmentDispatched({
  shipmentId,
  orderId,
  carrier: 'DHL',
  trackingNumber: 'JD0123456789',
  dispatchedAt: T(30),
});
const delivered: ShipmentEvent = ShipmentEvents.ShipmentDelivered({
  shipmentId,
  orderId,
  deliveredAt: T(50),
});
const cancelled: ShipmentEvent = ShipmentEvents.ShipmentCancelled({
  shipmentId,
  orderId,
  reason: 'Changed my mind',
  cancelledAt: T(40),
});

const shipments = spec(shipmentDecider);

describe('shipment decider', () => {
  it('names its stream and snapshot shape', () => {
    expect(shipmentDecider.streamType).toBe('shipment');
    expect(SHIPMENT_STREAM_TYPE).toBe('shipment');
    expect(shipmentDecider.snapshotVersion).toBe(1);
    expect(shipmentStreamId(shipmentId)).toBe(`shipment-${shipmentId}`);
    expect(shipmentDecider.initialState).toEqual({ status: 'NOT_CREATED' });
    expect(shipmentEventTypes).toEqual([
      'ShipmentCreated',
      'ShipmentDispatched',
      'ShipmentDelivered',
      'ShipmentCancelled',
    ]);
  });

  it('lives through created → dispatched → delivered', () => {
    const afterCreate = shipments.when(create()).then([created]);
    expect(afterCreate).toEqual({
      status: 'CREATED',
      shipmentId,
      orderId,
      items,
      createdAt: T(20),
      updatedAt: T(20),
    });
    const afterDispatch = shipments.given([created]).when(dispatch()).then([dispatched]);
    expect(afterDispatch).toMatchObject({
      status: 'DISPATCHED',
      carrier: 'DHL',
      trackingNumber: 'JD0123456789',
      dispatchedAt: T(30),
      updatedAt: T(30),
    });
    const afterDelivery = shipments.given([created, dispatched]).when(deliver()).then([delivered]);
    expect(afterDelivery).toMatchObject({
      status: 'DELIVERED',
      carrier: 'DHL',
      deliveredAt: T(50),
      updatedAt: T(50),
    });
  });

  describe('CreateShipment', () => {
    it('keeps only the item fields it knows', () => {
      const withExtra = items.map((i) => ({ ...i, imageUrl: 'https://cdn.example.com/x.png' }));
      shipments.when(create({ items: withExtra })).then([created]);
    });

    it('is a no-op when the shipment already exists for the same order', () => {
      shipments.given([created]).when(create()).then([]);
      shipments
        .given([created, dispatched])
        .when(create({ now: T(59) }))
        .then([]);
      shipments.given([created, cancelled]).when(create()).then([]);
    });

    it('refuses a shipment id already used for another order', () => {
      shipments
        .given([created])
        .when(create({ orderId: otherOrderId }))
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_EXISTS', message: orderId });
    });

    it('collects every invalid field', () => {
      shipments
        .when(
          create({
            shipmentId: 'shp-1',
            orderId: 'ORDER',
            items: [
              { productId: p(1), productName: '', quantity: 0 },
              { productId: p(1), productName: 'Again', quantity: 1.5 },
              { productId: 'nope', productName: 'x'.repeat(201), quantity: 1 },
            ],
          }),
        )
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: [
            'shipmentId',
            'orderId',
            'items.0.productName',
            'items.0.quantity',
            'items.1.productId',
            'items.1.quantity',
            'items.2.productId',
            'items.2.productName',
          ],
        });
    });

    it('needs at least one item and at most as many as an order holds', () => {
      shipments
        .when(create({ items: [] }))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['items'] });
      const eleven = Array.from({ length: 11 }, (_, i) => ({
        productId: p(i + 1),
        productName: `Product ${i + 1}`,
        quantity: 1,
      }));
      shipments
        .when(create({ items: eleven }))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['items'] });
    });
  });

  describe('DispatchShipment', () => {
    it('needs the shipment to exist', () => {
      shipments.when(dispatch()).thenThrows({ kind: 'notFound', code: 'SHIPMENT_NOT_FOUND' });
    });

    it('is a no-op when dispatched again with the same carrier and tracking number', () => {
      shipments.given([created, dispatched]).when(dispatch()).then([]);
      shipments.given([created, dispatched, delivered]).when(dispatch()).then([]);
    });

    it('refuses a second, different dispatch', () => {
      shipments
        .given([created, dispatched])
        .when(dispatch('UPS', '1Z999'))
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_DISPATCHED', message: 'DHL' });
      shipments
        .given([created, dispatched])
        .when(dispatch('DHL', 'OTHER'))
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_DISPATCHED' });
      shipments
        .given([created, dispatched, delivered])
        .when(dispatch('UPS', '1Z999'))
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_DISPATCHED' });
    });

    it('refuses a cancelled shipment', () => {
      shipments
        .given([created, cancelled])
        .when(dispatch())
        .thenThrows({ kind: 'business', code: 'SHIPMENT_CANCELLED' });
    });

    it('checks carrier and tracking number', () => {
      shipments
        .given([created])
        .when(dispatch(' ', 'x'.repeat(101)))
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['carrier', 'trackingNumber'],
        });
    });
  });

  describe('MarkShipmentDelivered', () => {
    it('needs a dispatched shipment', () => {
      shipments.when(deliver()).thenThrows({ kind: 'notFound', code: 'SHIPMENT_NOT_FOUND' });
      shipments
        .given([created])
        .when(deliver())
        .thenThrows({ kind: 'business', code: 'SHIPMENT_NOT_DISPATCHED' });
      shipments
        .given([created, cancelled])
        .when(deliver())
        .thenThrows({ kind: 'business', code: 'SHIPMENT_CANCELLED' });
    });

    it('is a no-op once delivered', () => {
      shipments.given([created, dispatched, delivered]).when(deliver()).then([]);
    });
  });

  describe('CancelShipment', () => {
    it('cancels a shipment that has not left', () => {
      const state = shipments.given([created]).when(cancel()).then([cancelled]);
      expect(state).toMatchObject({
        status: 'CANCELLED',
        reason: 'Changed my mind',
        cancelledAt: T(40),
      });
    });

    it('is a no-op once cancelled', () => {
      shipments.given([created, cancelled]).when(cancel('Again')).then([]);
    });

    it('refuses a shipment that has left', () => {
      shipments
        .given([created, dispatched])
        .when(cancel())
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_DISPATCHED' });
      shipments
        .given([created, dispatched, delivered])
        .when(cancel())
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_DISPATCHED' });
    });

    it('needs the shipment to exist and a reason', () => {
      shipments.when(cancel()).thenThrows({ kind: 'notFound', code: 'SHIPMENT_NOT_FOUND' });
      shipments
        .given([created])
        .when(cancel(''))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['reason'] });
    });
  });

  it('refuses to evolve events its state cannot take', () => {
    expect(() => shipmentDecider.evolve(shipmentDecider.initialState, dispatched)).toThrow(
      /cannot apply/,
    );
    const state = [created, dispatched].reduce(
      shipmentDecider.evolve,
      shipmentDecider.initialState,
    );
    expect(() => shipmentDecider.evolve(state, cancelled)).toThrow(/cannot apply/);
    expect(() => shipmentDecider.evolve(state, created)).toThrow(/cannot apply/);
  });
});
