import {
  FieldChecks,
  MAX_NAME_LENGTH,
  MAX_REASON_LENGTH,
  MAX_REFERENCE_LENGTH,
} from '../shared/field-checks.js';
import { MAX_ITEM_QUANTITY, MAX_ORDER_ITEMS } from '../orders/index.js';
import {
  assertNever,
  type Decider,
  type DomainCommand,
  notFound,
  ruleViolation,
  unexpectedEvent,
} from '../shared/decider.js';
import {
  SHIPMENT_STREAM_TYPE,
  ShipmentEvents,
  type ShipmentEvent,
  type ShipmentItem,
} from './events.js';

export type ShipmentCommand =
  | DomainCommand<
      'CreateShipment',
      { shipmentId: string; orderId: string; items: ShipmentItem[]; now: string }
    >
  | DomainCommand<
      'DispatchShipment',
      { shipmentId: string; carrier: string; trackingNumber: string; now: string }
    >
  | DomainCommand<'MarkShipmentDelivered', { shipmentId: string; now: string }>
  /** Sent by the fulfillment process when an order is cancelled before it ships (compensation). */
  | DomainCommand<'CancelShipment', { shipmentId: string; reason: string; now: string }>;

export type ShipmentCommandType = ShipmentCommand['type'];

/** The statuses of a shipment, in the order it normally moves through them. */
export type ShipmentStatus = ShipmentState['status'];

/** What every existing shipment has, whatever its status. */
interface ShipmentData {
  shipmentId: string;
  orderId: string;
  items: ShipmentItem[];
  createdAt: string;
  /** Time of the latest event. */
  updatedAt: string;
}

/** The carrier that took the parcel and the number it tracks it by. */
interface Dispatch {
  carrier: string;
  trackingNumber: string;
  dispatchedAt: string;
}

/** A shipment as the write model knows it. Plain JSON: it is stored as a snapshot. */
export type ShipmentState =
  | { status: 'NOT_CREATED' }
  | (ShipmentData & { status: 'CREATED' })
  | (ShipmentData & Dispatch & { status: 'DISPATCHED' })
  | (ShipmentData & Dispatch & { status: 'DELIVERED'; deliveredAt: string })
  | (ShipmentData & { status: 'CANCELLED'; reason: string; cancelledAt: string });

type ExistingShipment = Exclude<ShipmentState, { status: 'NOT_CREATED' }>;

const initialState: ShipmentState = { status: 'NOT_CREATED' };

function requireShipment(state: ShipmentState, shipmentId: string): ExistingShipment {
  if (state.status === 'NOT_CREATED') {
    throw notFound('SHIPMENT_NOT_FOUND', `Shipment ${shipmentId} does not exist`);
  }
  return state;
}

function checkItems(check: FieldChecks, items: ShipmentItem[] | undefined): void {
  if (!Array.isArray(items)) {
    check.add('items', 'is required');
    return;
  }
  if (items.length === 0) check.add('items', 'must contain at least one item');
  // A shipment carries one order's lines, so it is bounded like an order.
  if (items.length > MAX_ORDER_ITEMS) {
    check.add('items', `must contain at most ${MAX_ORDER_ITEMS} items (got ${items.length})`);
  }
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (typeof item !== 'object' || item === null) {
      check.add(`items.${i}`, 'is required');
      return;
    }
    if (check.uuid(`items.${i}.productId`, item.productId)) {
      if (seen.has(item.productId)) check.add(`items.${i}.productId`, 'is listed twice');
      seen.add(item.productId);
    }
    check.text(`items.${i}.productName`, item.productName, { max: MAX_NAME_LENGTH });
    check.integer(`items.${i}.quantity`, item.quantity, 1, MAX_ITEM_QUANTITY);
  });
}

function decide(command: ShipmentCommand, state: ShipmentState): ShipmentEvent[] {
  switch (command.type) {
    case 'CreateShipment': {
      const { shipmentId, orderId, items, now } = command.data;
      const check = new FieldChecks();
      check.uuid('shipmentId', shipmentId);
      check.uuid('orderId', orderId);
      checkItems(check, items);
      check.throwIfAny();
      if (state.status !== 'NOT_CREATED') {
        // The fulfillment process may send the same step twice; the first shipment stands.
        if (state.orderId === orderId) return [];
        throw ruleViolation(
          'SHIPMENT_ALREADY_EXISTS',
          `Shipment ${shipmentId} already exists for order ${state.orderId}`,
        );
      }
      return [
        ShipmentEvents.ShipmentCreated({
          shipmentId,
          orderId,
          // Copied field by field so nothing but the item's own data is stored.
          items: items.map(({ productId, productName, quantity }) => ({
            productId,
            productName,
            quantity,
          })),
          createdAt: now,
        }),
      ];
    }

    case 'DispatchShipment': {
      const { shipmentId, carrier, trackingNumber, now } = command.data;
      const check = new FieldChecks();
      check.uuid('shipmentId', shipmentId);
      check.text('carrier', carrier, { max: MAX_REFERENCE_LENGTH });
      check.text('trackingNumber', trackingNumber, { max: MAX_REFERENCE_LENGTH });
      check.throwIfAny();
      const shipment = requireShipment(state, shipmentId);
      switch (shipment.status) {
        case 'CREATED':
          return [
            ShipmentEvents.ShipmentDispatched({
              shipmentId,
              orderId: shipment.orderId,
              carrier,
              trackingNumber,
              dispatchedAt: now,
            }),
          ];
        case 'DISPATCHED':
        case 'DELIVERED':
          // Dispatching again as it was dispatched is a replay; anything else a contradiction.
          if (shipment.carrier === carrier && shipment.trackingNumber === trackingNumber) return [];
          throw ruleViolation(
            'SHIPMENT_ALREADY_DISPATCHED',
            `Shipment ${shipmentId} was already dispatched with ${shipment.carrier} (${shipment.trackingNumber})`,
          );
        case 'CANCELLED':
          throw ruleViolation('SHIPMENT_CANCELLED', `Shipment ${shipmentId} is cancelled`);
        default:
          return assertNever(shipment);
      }
    }

    case 'MarkShipmentDelivered': {
      const { shipmentId, now } = command.data;
      const check = new FieldChecks();
      check.uuid('shipmentId', shipmentId);
      check.throwIfAny();
      const shipment = requireShipment(state, shipmentId);
      switch (shipment.status) {
        case 'CREATED':
          throw ruleViolation(
            'SHIPMENT_NOT_DISPATCHED',
            `Shipment ${shipmentId} has not been dispatched; only a dispatched shipment is delivered`,
          );
        case 'DISPATCHED':
          return [
            ShipmentEvents.ShipmentDelivered({
              shipmentId,
              orderId: shipment.orderId,
              deliveredAt: now,
            }),
          ];
        case 'DELIVERED':
          // A carrier's notice may arrive twice; the first delivery time stands.
          return [];
        case 'CANCELLED':
          throw ruleViolation('SHIPMENT_CANCELLED', `Shipment ${shipmentId} is cancelled`);
        default:
          return assertNever(shipment);
      }
    }

    case 'CancelShipment': {
      const { shipmentId, reason, now } = command.data;
      const check = new FieldChecks();
      check.uuid('shipmentId', shipmentId);
      check.text('reason', reason, { max: MAX_REASON_LENGTH, multiline: true });
      check.throwIfAny();
      const shipment = requireShipment(state, shipmentId);
      switch (shipment.status) {
        case 'CREATED':
          return [
            ShipmentEvents.ShipmentCancelled({
              shipmentId,
              orderId: shipment.orderId,
              reason,
              cancelledAt: now,
            }),
          ];
        case 'CANCELLED':
          return [];
        case 'DISPATCHED':
        case 'DELIVERED':
          throw ruleViolation(
            'SHIPMENT_ALREADY_DISPATCHED',
            `Shipment ${shipmentId} has left with ${shipment.carrier} and can no longer be cancelled`,
          );
        default:
          return assertNever(shipment);
      }
    }

    default:
      return assertNever(command);
  }
}

function evolve(state: ShipmentState, event: ShipmentEvent): ShipmentState {
  if (event.type === 'ShipmentCreated') {
    if (state.status !== 'NOT_CREATED') throw unexpectedEvent('a shipment', state, event);
    const { shipmentId, orderId, items, createdAt } = event.data;
    return {
      status: 'CREATED',
      shipmentId,
      orderId,
      items,
      createdAt,
      updatedAt: createdAt,
    };
  }
  switch (event.type) {
    case 'ShipmentDispatched': {
      if (state.status !== 'CREATED') throw unexpectedEvent('a shipment', state, event);
      const { carrier, trackingNumber, dispatchedAt } = event.data;
      return {
        ...state,
        status: 'DISPATCHED',
        carrier,
        trackingNumber,
        dispatchedAt,
        updatedAt: dispatchedAt,
      };
    }
    case 'ShipmentDelivered':
      if (state.status !== 'DISPATCHED') throw unexpectedEvent('a shipment', state, event);
      return {
        ...state,
        status: 'DELIVERED',
        deliveredAt: event.data.deliveredAt,
        updatedAt: event.data.deliveredAt,
      };
    case 'ShipmentCancelled': {
      if (state.status !== 'CREATED') throw unexpectedEvent('a shipment', state, event);
      const { reason, cancelledAt } = event.data;
      return { ...state, status: 'CANCELLED', reason, cancelledAt, updatedAt: cancelledAt };
    }
    default:
      return assertNever(event);
  }
}

/** The shipment aggregate: created, dispatched with a carrier, delivered; or cancelled. */
export const shipmentDecider: Decider<ShipmentCommand, ShipmentEvent, ShipmentState> = {
  streamType: SHIPMENT_STREAM_TYPE,
  snapshotVersion: 1,
  initialState,
  decide,
  evolve,
};
