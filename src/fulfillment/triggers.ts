import type { ProductCommand, ProductEvent } from '../catalog/index.js';
import type { OrderCommand, OrderEvent } from '../orders/index.js';
import type { DomainEvent } from '../shared/decider.js';
import { eventTypes, type EventOf } from '../shared/events.js';
import type { FulfillmentItem, FulfillmentStep, ShipmentEvent } from './events.js';
import type { ShipmentCommand } from './shipment.js';

/*
 * What the fulfillment process takes in (triggers: the log events it reacts to, command
 * outcomes, deadline checks) and what it sends out (commands addressed to other streams).
 */

interface Outgoing<T extends string, C> {
  /** Derived from the cause and the step: the same on every re-run. */
  commandId: string;
  step: FulfillmentStep;
  /** The aggregate that receives the command. */
  target: T;
  streamId: string;
  command: C;
}

/** A command the process sends, addressed to one aggregate's stream. */
export type OutgoingCommand =
  | Outgoing<'product', ProductCommand>
  | Outgoing<'order', OrderCommand>
  | Outgoing<'shipment', ShipmentCommand>;

// ---------------------------------------------------------------------------------------
// Triggers

/**
 * A log event as the runner hands it over: the event, its id in the store, and when the
 * process observed it.
 */
export type Observed<E extends DomainEvent> = E & {
  eventId: string;
  /**
   * The runner's clock when it handed the event to the process: the time of the steps the
   * event makes due. Not the event's own time, which may be long past (a payment handled
   * after a backlog, or while the process was down).
   */
  observedAt: string;
};

/**
 * What the process reacts to. Log events come with their event id, the cause every
 * command id is derived from, and the time the process observed them. Command outcomes
 * name the command and carry the runner's clock when it learnt them; what follows from
 * them derives its ids from that command id.
 */
export type FulfillmentTrigger =
  /**
   * An order was paid. `items` are the order's lines, which the runner reads from the
   * order stream: they cannot change once the order is paid, so any read gives the same.
   */
  | (Observed<EventOf<OrderEvent, 'OrderPaid'>> & { items: FulfillmentItem[] })
  | Observed<Exclude<FulfillmentLogEvent, { type: 'OrderPaid' }>>
  /** A ReserveStock the process sent was refused with INSUFFICIENT_STOCK. */
  | {
      type: 'StockReservationRefused';
      data: {
        orderId: string;
        commandId: string;
        /** Units the product had available, as the runner learnt when refused. */
        available: number;
        refusedAt: string;
      };
    }
  /** Any other business refusal (a DomainError) of a command the process sent. */
  | {
      type: 'CommandRejected';
      data: {
        orderId: string;
        commandId: string;
        code: string;
        message: string;
        rejectedAt: string;
      };
    }
  /** A command the process sent failed for good: the runner gave up retrying. */
  | {
      type: 'CommandFailed';
      data: { orderId: string; commandId: string; reason: string; failedAt: string };
    }
  /** Time passes: flags the process if it is late (see {@link isLate}). */
  | {
      type: 'CheckReservationDeadline';
      data: { orderId: string; now: string; limitMs: number };
    };

export type FulfillmentTriggerType = FulfillmentTrigger['type'];

/** The log events the process reacts to (each becomes a trigger). */
export type FulfillmentLogEvent =
  | EventOf<OrderEvent, 'OrderPaid' | 'OrderReadyToShip' | 'OrderShipped' | 'OrderCancelled'>
  | EventOf<ProductEvent, 'StockReserved' | 'StockReleased'>
  | EventOf<ShipmentEvent, 'ShipmentCreated' | 'ShipmentDispatched' | 'ShipmentCancelled'>;

/** The log events the process reacts to: the runner's reader filter. */
export const fulfillmentTriggerEventTypes = eventTypes<FulfillmentLogEvent>({
  OrderPaid: true,
  OrderReadyToShip: true,
  OrderShipped: true,
  OrderCancelled: true,
  StockReserved: true,
  StockReleased: true,
  ShipmentCreated: true,
  ShipmentDispatched: true,
  ShipmentCancelled: true,
});

/** The order whose process a trigger belongs to: every trigger names it. */
export const triggerOrderId = (trigger: FulfillmentTrigger): string => trigger.data.orderId;
