import { assertNever } from '../shared/decider.js';
import { eventTypesWhere, joinEventTypes, type EventOf } from '../shared/events.js';
import {
  fulfillmentEventTypes,
  shipmentEventTypes,
  type ConfirmedStep,
  type FulfillmentEvent,
  type ShipmentEvent,
} from './events.js';
import { type FulfillmentStep } from './events.js';

/** The events of an order's fulfillment: its process stream and its shipment stream. */
export type FulfillmentTimelineEvent = FulfillmentEvent | ShipmentEvent;

/** Every event type of an order's fulfillment (process and shipment streams). */
export const fulfillmentStreamEventTypes = joinEventTypes(
  fulfillmentEventTypes,
  shipmentEventTypes,
);

/**
 * The fulfillment events worth a line on the order's timeline: the milestones a shopper
 * or an admin cares about. The rest (each command sent, each confirmation) is the
 * process's bookkeeping, shown by the admin process query instead. Every fulfillment and
 * shipment event type is named here, in or out: a new one does not compile until decided.
 */
export const fulfillmentTimelineEventTypes = eventTypesWhere<FulfillmentTimelineEvent>()({
  StockReservationCompleted: true,
  StockShortageDetected: true,
  StockReleasedForItem: true,
  FulfillmentCompleted: true,
  FulfillmentCancelled: true,
  FulfillmentFailed: true,
  FulfillmentFlaggedLate: true,
  ShipmentCreated: true,
  ShipmentDispatched: true,
  ShipmentDelivered: true,
  ShipmentCancelled: true,
  FulfillmentStarted: false,
  StockReservationRequested: false,
  StockReservedForItem: false,
  StockReleaseRequested: false,
  RefundRequested: false,
  ShipmentRequested: false,
  ReadyToShipRequested: false,
  ShipmentDispatchRequested: false,
  ShipmentCancellationRequested: false,
  OrderShipmentNoted: false,
  OrderCancellationNoted: false,
  StepCompleted: false,
  StepSkipped: false,
});

/** A fulfillment event that is a line on its order's timeline. */
export type FulfillmentMilestone = EventOf<
  FulfillmentTimelineEvent,
  (typeof fulfillmentTimelineEventTypes)[number]
>;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Seconds as a person reads them: `30`, `1.5`. */
const seconds = (ms: number): string => String(Math.round(ms) / 1000);

const STEP_NAMES: Record<FulfillmentStep, string> = {
  'reserve-stock': 'stock reservation',
  'release-stock': 'stock release',
  refund: 'refund',
  'create-shipment': 'shipment creation',
  'mark-ready-to-ship': 'marking the order ready to ship',
  'dispatch-shipment': 'shipment dispatch',
  'cancel-shipment': 'shipment cancellation',
};

const CONFIRMATIONS: Record<ConfirmedStep, string> = {
  'create-shipment': 'Shipment creation confirmed',
  'mark-ready-to-ship': 'Order marked ready to ship',
  'dispatch-shipment': 'Shipment dispatch confirmed',
  'cancel-shipment': 'Shipment cancellation confirmed',
};

/** A short sentence for the order's timeline and live feeds, from the event alone. */
export function describeFulfillmentEvent(event: FulfillmentTimelineEvent): string {
  switch (event.type) {
    case 'FulfillmentStarted': {
      const units = event.data.items.reduce((n, i) => n + i.quantity, 0);
      return `Fulfillment started: reserving stock for ${plural(units, 'item')}`;
    }
    case 'StockReservationRequested':
      return `Reserving ${event.data.quantity} × ${event.data.productName}`;
    case 'StockReservedForItem':
      return `Reserved ${event.data.quantity} × ${event.data.productName}`;
    case 'StockShortageDetected':
      return `Stock short for ${event.data.productName}: payment refunded`;
    case 'StockReservationCompleted':
      return 'Stock reserved';
    case 'StockReleaseRequested':
      return `Releasing the stock of ${event.data.productName}`;
    case 'StockReleasedForItem':
      return `Released ${event.data.quantity} × ${event.data.productName}`;
    case 'RefundRequested':
      return 'Refunding the payment';
    case 'ShipmentRequested':
      return 'Shipment requested';
    case 'ReadyToShipRequested':
      return 'Marking the order ready to ship';
    case 'ShipmentDispatchRequested':
      return `Dispatching the shipment with ${event.data.carrier} (${event.data.trackingNumber})`;
    case 'ShipmentCancellationRequested':
      return 'Cancelling the shipment';
    case 'OrderShipmentNoted':
      return `Order shipped with ${event.data.carrier} (${event.data.trackingNumber})`;
    case 'OrderCancellationNoted':
      return `Order cancelled: ${event.data.reason}`;
    case 'StepCompleted':
      return CONFIRMATIONS[event.data.step];
    case 'StepSkipped':
      return `Skipped ${STEP_NAMES[event.data.step]}: ${event.data.reason}`;
    case 'FulfillmentCompleted':
      return 'Fulfillment completed';
    case 'FulfillmentCancelled':
      return `Fulfillment cancelled: ${event.data.reason}`;
    case 'FulfillmentFailed':
      return `Fulfillment failed: ${event.data.reason}`;
    case 'FulfillmentFlaggedLate':
      return `Fulfillment late: stock not reserved within ${seconds(event.data.limitMs)} s`;
    case 'ShipmentCreated':
      return 'Shipment created';
    case 'ShipmentDispatched':
      return `Shipment dispatched with ${event.data.carrier} (${event.data.trackingNumber})`;
    case 'ShipmentDelivered':
      return 'Shipment delivered';
    case 'ShipmentCancelled':
      return `Shipment cancelled: ${event.data.reason}`;
    default:
      return assertNever(event);
  }
}

/** When the event happened in the domain, for `TimelineEntry.at`. */
export function fulfillmentEventTime(event: FulfillmentTimelineEvent): string {
  switch (event.type) {
    case 'FulfillmentStarted':
      return event.data.startedAt;
    case 'StockReservationRequested':
    case 'StockReleaseRequested':
    case 'RefundRequested':
    case 'ShipmentRequested':
    case 'ReadyToShipRequested':
    case 'ShipmentDispatchRequested':
    case 'ShipmentCancellationRequested':
      return event.data.requestedAt;
    case 'StockReservedForItem':
    case 'StockReservationCompleted':
      return event.data.reservedAt;
    case 'StockShortageDetected':
      return event.data.detectedAt;
    case 'StockReleasedForItem':
      return event.data.releasedAt;
    case 'OrderShipmentNoted':
      return event.data.shippedAt;
    case 'OrderCancellationNoted':
    case 'FulfillmentCancelled':
    case 'ShipmentCancelled':
      return event.data.cancelledAt;
    case 'StepCompleted':
    case 'FulfillmentCompleted':
      return event.data.completedAt;
    case 'StepSkipped':
      return event.data.skippedAt;
    case 'FulfillmentFailed':
      return event.data.failedAt;
    case 'FulfillmentFlaggedLate':
      return event.data.flaggedAt;
    case 'ShipmentCreated':
      return event.data.createdAt;
    case 'ShipmentDispatched':
      return event.data.dispatchedAt;
    case 'ShipmentDelivered':
      return event.data.deliveredAt;
    default:
      return assertNever(event);
  }
}
