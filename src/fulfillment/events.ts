import type { DomainEvent } from '../shared/decider.js';
import { eventBuilders, eventTypes } from '../shared/events.js';
import { uuidV5 } from '../shared/uuid.js';

/*
 * The published vocabulary of fulfillment: the events of its two kinds of stream (the
 * process of one order, and shipments), their stream ids and event-type lists. The orders
 * feature reads these to show fulfillment milestones on an order's timeline; this file
 * imports nothing of the workflow (`process.ts`) or of other features, so it can.
 */

// ---------------------------------------------------------------------------------------
// Shipments

/** Event-store stream type of shipments. */
export const SHIPMENT_STREAM_TYPE = 'shipment';

/** The stream that holds one shipment's events: `shipment-<uuid>`. */
export const shipmentStreamId = (shipmentId: string): string => `shipment-${shipmentId}`;

/** One product in a parcel: what the warehouse picks. The name is copied for the packing list. */
export interface ShipmentItem {
  productId: string;
  productName: string;
  quantity: number;
}

/**
 * A shipment: the parcel that carries a paid order's goods once its stock is reserved.
 * Created by the fulfillment process, dispatched when the order is handed to a carrier
 * (`shipOrder`), then delivered. Cancelled, instead, if the order is cancelled before it
 * ships, so the warehouse does not pack goods nobody will pay for.
 */
export type ShipmentEvent =
  | DomainEvent<
      'ShipmentCreated',
      { shipmentId: string; orderId: string; items: ShipmentItem[]; createdAt: string }
    >
  | DomainEvent<
      'ShipmentDispatched',
      {
        shipmentId: string;
        orderId: string;
        carrier: string;
        trackingNumber: string;
        dispatchedAt: string;
      }
    >
  | DomainEvent<'ShipmentDelivered', { shipmentId: string; orderId: string; deliveredAt: string }>
  | DomainEvent<
      'ShipmentCancelled',
      { shipmentId: string; orderId: string; reason: string; cancelledAt: string }
    >;

export type ShipmentEventType = ShipmentEvent['type'];

/** Every shipment event type: one that is missing here, or extra, does not compile. */
export const shipmentEventTypes = eventTypes<ShipmentEvent>({
  ShipmentCreated: true,
  ShipmentDispatched: true,
  ShipmentDelivered: true,
  ShipmentCancelled: true,
});

/** `ShipmentEvents.ShipmentCreated(data)` is that event, its payload checked. */
export const ShipmentEvents = eventBuilders(shipmentEventTypes);

/** Namespace of derived shipment ids; separate, so a shipment id never equals a command id. */
export const SHIPMENT_ID_NAMESPACE = '47e79926-668c-47d5-85f2-528d38cf1354';

/**
 * The shipment of an order. One order has one shipment, so its id follows from the order
 * id alone: however often the step runs, it addresses the same shipment stream.
 */
export function shipmentIdFor(orderId: string): string {
  return uuidV5(SHIPMENT_ID_NAMESPACE, orderId);
}

// ---------------------------------------------------------------------------------------
// Fulfillment processes

/** Event-store stream type of fulfillment processes. */
export const FULFILLMENT_STREAM_TYPE = 'fulfillment';

/** The stream of one order's fulfillment process: `fulfillment-<orderId>`. */
export const fulfillmentStreamId = (orderId: string): string => `fulfillment-${orderId}`;

/** One line of a paid order as fulfillment sees it: what to reserve, pack and ship. */
export type FulfillmentItem = ShipmentItem;

/**
 * The lines of an order as fulfillment needs them (the runner reads them from the order),
 * without the fields it does not keep.
 */
export const fulfillmentItems = (
  lines: readonly { productId: string; productName: string; quantity: number }[],
): FulfillmentItem[] =>
  lines.map(({ productId, productName, quantity }) => ({ productId, productName, quantity }));

/**
 * The kinds of step the process takes; each sends one command. Stock steps exist once per
 * product: their key is `<step>:<productId>`.
 */
export type FulfillmentStep =
  | 'reserve-stock'
  | 'release-stock'
  | 'refund'
  | 'create-shipment'
  | 'mark-ready-to-ship'
  | 'dispatch-shipment'
  | 'cancel-shipment';

/** Steps whose completion the process learns from an event of another stream. */
export type ConfirmedStep = Extract<
  FulfillmentStep,
  'create-shipment' | 'mark-ready-to-ship' | 'dispatch-shipment' | 'cancel-shipment'
>;

/** The key of a step in the state, and the step part of its derived command id. */
export const stepKey = (step: FulfillmentStep, productId: string | null = null): string =>
  productId === null ? step : `${step}:${productId}`;

// ---------------------------------------------------------------------------------------
// Events of the process stream

/** The facts of a refused reservation. */
export interface StockShortage {
  productId: string;
  productName: string;
  requested: number;
  available: number;
}

/**
 * The process's own history. "…Requested" events each stand for one command sent;
 * "…ForItem", "…Noted" and `StepCompleted` record what the process learnt from other
 * streams; the `Fulfillment…` events mark where the process as a whole stands.
 */
export type FulfillmentEvent =
  | DomainEvent<
      'FulfillmentStarted',
      {
        orderId: string;
        paymentId: string;
        shipmentId: string;
        /** Sorted by product id: the order in which stock is reserved. */
        items: FulfillmentItem[];
        startedAt: string;
      }
    >
  | DomainEvent<
      'StockReservationRequested',
      {
        orderId: string;
        commandId: string;
        productId: string;
        productName: string;
        quantity: number;
        requestedAt: string;
      }
    >
  | DomainEvent<
      'StockReservedForItem',
      {
        orderId: string;
        productId: string;
        productName: string;
        quantity: number;
        reservedAt: string;
      }
    >
  | DomainEvent<'StockShortageDetected', StockShortage & { orderId: string; detectedAt: string }>
  /** Every item is reserved. */
  | DomainEvent<'StockReservationCompleted', { orderId: string; reservedAt: string }>
  | DomainEvent<
      'StockReleaseRequested',
      {
        orderId: string;
        commandId: string;
        productId: string;
        productName: string;
        requestedAt: string;
      }
    >
  | DomainEvent<
      'StockReleasedForItem',
      {
        orderId: string;
        productId: string;
        productName: string;
        quantity: number;
        releasedAt: string;
      }
    >
  /** Sent as CancelOrder: cancelling a paid order refunds its payment. */
  | DomainEvent<
      'RefundRequested',
      { orderId: string; commandId: string; reason: string; requestedAt: string }
    >
  | DomainEvent<
      'ShipmentRequested',
      {
        orderId: string;
        commandId: string;
        shipmentId: string;
        items: FulfillmentItem[];
        requestedAt: string;
      }
    >
  | DomainEvent<
      'ReadyToShipRequested',
      { orderId: string; commandId: string; shipmentId: string; requestedAt: string }
    >
  | DomainEvent<
      'ShipmentDispatchRequested',
      {
        orderId: string;
        commandId: string;
        shipmentId: string;
        carrier: string;
        trackingNumber: string;
        requestedAt: string;
      }
    >
  | DomainEvent<
      'ShipmentCancellationRequested',
      {
        orderId: string;
        commandId: string;
        shipmentId: string;
        reason: string;
        requestedAt: string;
      }
    >
  /** The order was handed to a carrier (`shipOrder`). */
  | DomainEvent<
      'OrderShipmentNoted',
      { orderId: string; carrier: string; trackingNumber: string; shippedAt: string }
    >
  /** The order was cancelled, by the process's refund or by anyone else. */
  | DomainEvent<
      'OrderCancellationNoted',
      { orderId: string; reason: string; refunded: boolean; cancelledAt: string }
    >
  /**
   * A shipment or order step took effect. `commandId` is null when someone else's
   * command did it (the process had not sent one, or its own was still on the way).
   */
  | DomainEvent<
      'StepCompleted',
      { orderId: string; step: ConfirmedStep; commandId: string | null; completedAt: string }
    >
  /** A step was refused because it was no longer needed: the order had moved on. */
  | DomainEvent<
      'StepSkipped',
      {
        orderId: string;
        step: FulfillmentStep;
        productId: string | null;
        commandId: string;
        code: string;
        reason: string;
        skippedAt: string;
      }
    >
  /** The shipment has left with the carrier: nothing more to do. */
  | DomainEvent<'FulfillmentCompleted', { orderId: string; completedAt: string }>
  /** The order was cancelled and everything the process held for it is given back. */
  | DomainEvent<'FulfillmentCancelled', { orderId: string; reason: string; cancelledAt: string }>
  /** A step failed for good; the process needs a person. */
  | DomainEvent<
      'FulfillmentFailed',
      {
        orderId: string;
        step: FulfillmentStep;
        productId: string | null;
        commandId: string;
        /** The refusal's code; null for a failure that was not a refusal. */
        code: string | null;
        reason: string;
        failedAt: string;
      }
    >
  /** Paid, but the stock was not reserved within `limitMs`. */
  | DomainEvent<'FulfillmentFlaggedLate', { orderId: string; limitMs: number; flaggedAt: string }>;

export type FulfillmentEventType = FulfillmentEvent['type'];

/** Every fulfillment event type: one that is missing here, or extra, does not compile. */
export const fulfillmentEventTypes = eventTypes<FulfillmentEvent>({
  FulfillmentStarted: true,
  StockReservationRequested: true,
  StockReservedForItem: true,
  StockShortageDetected: true,
  StockReservationCompleted: true,
  StockReleaseRequested: true,
  StockReleasedForItem: true,
  RefundRequested: true,
  ShipmentRequested: true,
  ReadyToShipRequested: true,
  ShipmentDispatchRequested: true,
  ShipmentCancellationRequested: true,
  OrderShipmentNoted: true,
  OrderCancellationNoted: true,
  StepCompleted: true,
  StepSkipped: true,
  FulfillmentCompleted: true,
  FulfillmentCancelled: true,
  FulfillmentFailed: true,
  FulfillmentFlaggedLate: true,
});

/** `FulfillmentEvents.FulfillmentStarted(data)` is that event, its payload checked. */
export const FulfillmentEvents = eventBuilders(fulfillmentEventTypes);
