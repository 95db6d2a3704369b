import { productStreamId } from '../catalog/index.js';
import { orderStreamId } from '../orders/index.js';
import { assertNever, type Decider, unexpectedEvent } from '../shared/decider.js';
import {
  FULFILLMENT_STREAM_TYPE,
  FulfillmentEvents,
  fulfillmentItems,
  shipmentIdFor,
  shipmentStreamId,
  stepKey,
  type ConfirmedStep,
  type FulfillmentEvent,
  type FulfillmentItem,
  type FulfillmentStep,
  type StockShortage,
} from './events.js';
import { deriveCommandId } from './ids.js';
import { triggerOrderId, type FulfillmentTrigger, type OutgoingCommand } from './triggers.js';

/*
 * The fulfillment process manager (docs/architecture.md, "Process managers"): payment → stock
 * reservation → shipment, with compensation. It is a decider like the aggregates, with
 * one difference in what goes in and out:
 *
 * - In: a trigger, i.e. a log event it reacts to (OrderPaid, StockReserved, OrderCancelled
 *   …, each with its event id) or the outcome of a command it sent that the log cannot
 *   tell (a refusal, a permanent failure), or a deadline check.
 * - Out: events for its own stream `fulfillment-<orderId>`, and the commands to send.
 *
 * Every command it sends is one "…Requested" event in its stream, carrying the command id
 * and everything the command says, so:
 * - the commands follow from the events alone (`commandOf`); recording comes first;
 * - a step is never taken twice: a re-delivered trigger finds the step in the state and
 *   records nothing;
 * - `pendingCommands(state)` names every command not yet known to have landed, and
 *   sending it again is harmless: its id is derived (`deriveCommandId`), its input comes
 *   from the event, and the target aggregates take a step once whatever its time (a
 *   product reserves once per order, a shipment is created once …).
 *
 * Times (docs/adr/0006). A trigger brings two: when its fact happened (`paidAt`,
 * `reservedAt` …) and when the process handled it, by the runner's clock (`decidedAt`).
 * - What the process observes keeps the fact's time (StockReservedForItem, StepCompleted
 *   …), and so does what it concludes from that fact: StockReservationCompleted,
 *   FulfillmentCompleted and FulfillmentCancelled happened with the last reservation, the
 *   dispatch, the last compensation. (Stamped later, they would read out of time order:
 *   a commit holds the process's events before the effects they conclude from, ADR 10.)
 * - A step it takes is stamped with the time it takes it: `requestedAt` of a "…Requested"
 *   event is the runner's clock when it handled the trigger that made the step due, and
 *   the command goes out with it as `now`. So each effect (stock reserved, shipment
 *   created, order ready to ship …) carries the time it happened, not the time of the
 *   payment at the head of the chain. Sent again later, a command carries the time it is
 *   sent again (`resentAt`).
 * - The reservation deadline counts from the payment: `startedAt` is `paidAt`.
 */

// ---------------------------------------------------------------------------------------
// State

/**
 * Where one item's stock stands. UNRESERVED: not reserved (a reservation may be on its
 * way); SHORT: its reservation was refused; RELEASED: reserved, then given back.
 */
export type ItemStock = 'UNRESERVED' | 'RESERVED' | 'SHORT' | 'RELEASED';

/** What the process knows of its shipment. */
export type ShipmentProgress = 'NONE' | 'CREATED' | 'DISPATCHED' | 'CANCELLED';

/** PENDING: sent, effect not seen yet; SKIPPED: refused as no longer needed. */
export type StepStatus = 'PENDING' | 'DONE' | 'SKIPPED' | 'FAILED';

/** A step the process has taken: the command it sent and how that went. */
export interface StepRecord {
  step: FulfillmentStep;
  productId: string | null;
  status: StepStatus;
  /**
   * The command as first sent, at the step's `requestedAt`; sent again while PENDING with
   * the time it is sent again (`resentAt`), otherwise unchanged.
   */
  command: OutgoingCommand;
}

/** A step that failed for good: what its `FulfillmentFailed` event says. */
export type FulfillmentFailure = Omit<
  Extract<FulfillmentEvent, { type: 'FulfillmentFailed' }>['data'],
  'orderId'
>;

/** What a started process knows, whatever its status. */
interface ProcessData {
  orderId: string;
  paymentId: string;
  shipmentId: string;
  /** Sorted by product id. */
  items: FulfillmentItem[];
  /** Per product id. */
  stock: Record<string, ItemStock>;
  /** Per {@link stepKey}, in the order the steps were taken. */
  steps: Record<string, StepRecord>;
  shipment: ShipmentProgress;
  orderReadyToShip: boolean;
  orderShipped: { carrier: string; trackingNumber: string; shippedAt: string } | null;
  orderCancelled: { reason: string; refunded: boolean; cancelledAt: string } | null;
  shortage: (StockShortage & { detectedAt: string }) | null;
  failures: FulfillmentFailure[];
  lateFlaggedAt: string | null;
  startedAt: string;
  /** Time of the latest event. */
  updatedAt: string;
}

/**
 * A fulfillment process. The status is the step it is at:
 * - RESERVING: reserving stock, one product at a time;
 * - READY_TO_SHIP: all reserved, shipment created, waiting for the order to ship;
 * - DISPATCHING: the order shipped, the shipment is being dispatched;
 * - COMPLETED: the shipment has left;
 * - COMPENSATING: stock short or order cancelled; releasing, refunding, cancelling;
 * - CANCELLED: compensation done;
 * - FAILED: a step failed for good and needs a person; the process still records what it
 *   learns and still compensates if the order is then cancelled.
 * Plain JSON: it is stored as a snapshot.
 */
export type FulfillmentState =
  | { status: 'NOT_STARTED' }
  | (ProcessData & { status: 'RESERVING' })
  | (ProcessData & { status: 'READY_TO_SHIP' })
  | (ProcessData & { status: 'DISPATCHING' })
  | (ProcessData & { status: 'COMPLETED' })
  | (ProcessData & { status: 'COMPENSATING' })
  | (ProcessData & { status: 'CANCELLED' })
  | (ProcessData & { status: 'FAILED' });

export type FulfillmentStatus = FulfillmentState['status'];

/** A process that has started: every status but NOT_STARTED. */
export type StartedFulfillment = Exclude<FulfillmentState, { status: 'NOT_STARTED' }>;

const initialState: FulfillmentState = { status: 'NOT_STARTED' };

/** The commands sent and not yet known to have taken effect, in the order they were sent. */
export function pendingCommands(state: FulfillmentState): OutgoingCommand[] {
  if (state.status === 'NOT_STARTED') return [];
  return Object.values(state.steps)
    .filter((s) => s.status === 'PENDING')
    .map((s) => s.command);
}

/**
 * Whether the order was paid but its stock not reserved within `limitMs` of payment, and
 * not flagged for it yet. Only a process still reserving is late: a shortage, a
 * cancellation or a failure is an answer, not a delay.
 */
export function isLate(state: FulfillmentState, now: string, limitMs: number): boolean {
  return (
    state.status === 'RESERVING' &&
    state.lateFlaggedAt === null &&
    Date.parse(now) - Date.parse(state.startedAt) > limitMs
  );
}

/** The reason the process cancels an order it cannot fill. */
export const shortageReason = (productName: string): string =>
  `Stock short for ${productName}: payment refunded`;

// ---------------------------------------------------------------------------------------
// Commands follow from events

/**
 * The command a "…Requested" event stands for, as first sent: its time is the request's.
 * Null for every other event.
 */
export function commandOf(event: FulfillmentEvent): OutgoingCommand | null {
  switch (event.type) {
    case 'StockReservationRequested': {
      const { orderId, commandId, productId, quantity, requestedAt } = event.data;
      return {
        commandId,
        step: 'reserve-stock',
        target: 'product',
        streamId: productStreamId(productId),
        command: { type: 'ReserveStock', data: { productId, orderId, quantity, now: requestedAt } },
      };
    }
    case 'StockReleaseRequested': {
      const { orderId, commandId, productId, requestedAt } = event.data;
      return {
        commandId,
        step: 'release-stock',
        target: 'product',
        streamId: productStreamId(productId),
        command: { type: 'ReleaseStock', data: { productId, orderId, now: requestedAt } },
      };
    }
    case 'RefundRequested': {
      const { orderId, commandId, reason, requestedAt } = event.data;
      return {
        commandId,
        step: 'refund',
        target: 'order',
        streamId: orderStreamId(orderId),
        command: { type: 'CancelOrder', data: { orderId, reason, now: requestedAt } },
      };
    }
    case 'ShipmentRequested': {
      const { orderId, commandId, shipmentId, items, requestedAt } = event.data;
      return {
        commandId,
        step: 'create-shipment',
        target: 'shipment',
        streamId: shipmentStreamId(shipmentId),
        command: {
          type: 'CreateShipment',
          data: { shipmentId, orderId, items: items.map((i) => ({ ...i })), now: requestedAt },
        },
      };
    }
    case 'ReadyToShipRequested': {
      const { orderId, commandId, shipmentId, requestedAt } = event.data;
      return {
        commandId,
        step: 'mark-ready-to-ship',
        target: 'order',
        streamId: orderStreamId(orderId),
        command: { type: 'MarkOrderReadyToShip', data: { orderId, shipmentId, now: requestedAt } },
      };
    }
    case 'ShipmentDispatchRequested': {
      const { commandId, shipmentId, carrier, trackingNumber, requestedAt } = event.data;
      return {
        commandId,
        step: 'dispatch-shipment',
        target: 'shipment',
        streamId: shipmentStreamId(shipmentId),
        command: {
          type: 'DispatchShipment',
          data: { shipmentId, carrier, trackingNumber, now: requestedAt },
        },
      };
    }
    case 'ShipmentCancellationRequested': {
      const { commandId, shipmentId, reason, requestedAt } = event.data;
      return {
        commandId,
        step: 'cancel-shipment',
        target: 'shipment',
        streamId: shipmentStreamId(shipmentId),
        command: { type: 'CancelShipment', data: { shipmentId, reason, now: requestedAt } },
      };
    }
    case 'FulfillmentStarted':
    case 'StockReservedForItem':
    case 'StockShortageDetected':
    case 'StockReservationCompleted':
    case 'StockReleasedForItem':
    case 'OrderShipmentNoted':
    case 'OrderCancellationNoted':
    case 'StepCompleted':
    case 'StepSkipped':
    case 'FulfillmentCompleted':
    case 'FulfillmentCancelled':
    case 'FulfillmentFailed':
    case 'FulfillmentFlaggedLate':
      return null;
    default:
      return assertNever(event);
  }
}

const commandsOf = (events: readonly FulfillmentEvent[]): OutgoingCommand[] =>
  events.flatMap((e) => commandOf(e) ?? []);

const withNow = <C extends { data: { now: string } }>(command: C, now: string): C => ({
  ...command,
  data: { ...command.data, now },
});

/**
 * A pending command as sent again at `now`: the same id and input, the time it is sent.
 * Its target takes it as a step already taken if it was (whatever its time), or takes it
 * now if it never arrived, and then the effect carries the time it happened.
 */
export function resentAt(out: OutgoingCommand, now: string): OutgoingCommand {
  switch (out.target) {
    case 'product':
      return { ...out, command: withNow(out.command, now) };
    case 'order':
      return { ...out, command: withNow(out.command, now) };
    case 'shipment':
      return { ...out, command: withNow(out.command, now) };
    default:
      return assertNever(out);
  }
}

// ---------------------------------------------------------------------------------------
// React

/** What the process does with one trigger. */
export interface Reaction {
  /** To append to the process stream, before any command is sent. */
  events: FulfillmentEvent[];
  /** To send once the events are stored, in this order. */
  commands: OutgoingCommand[];
}

/**
 * The process's answer to one trigger: it first records what the trigger tells it (if it
 * tells it anything new), then takes every step that has become due. A trigger that
 * tells nothing new (a duplicate, a late echo, another order's business) yields nothing.
 */
export function react(state: FulfillmentState, trigger: FulfillmentTrigger): Reaction {
  if (state.status !== 'NOT_STARTED' && triggerOrderId(trigger) !== state.orderId) {
    throw new Error(
      `A trigger for order ${triggerOrderId(trigger)} reached the process of order ${state.orderId}`,
    );
  }
  if (trigger.type === 'CheckReservationDeadline') {
    const { orderId, now, limitMs } = trigger.data;
    const events: FulfillmentEvent[] = isLate(state, now, limitMs)
      ? [FulfillmentEvents.FulfillmentFlaggedLate({ orderId, limitMs, flaggedAt: now })]
      : [];
    return { events, commands: [] };
  }
  const observed = observe(state, trigger);
  if (observed.length === 0) return { events: [], commands: [] };
  const cause = causationOf(trigger);
  const times: Times = { happened: timeOf(trigger), decided: decidedAt(trigger) };
  const events = [...observed];
  let current = observed.reduce(evolve, state);
  // Planning again after each round lets one step make the next due (all reserved → ship).
  for (let round = 0; ; round++) {
    if (current.status === 'NOT_STARTED') break;
    const planned = plan(current, cause, times);
    if (planned.length === 0) break;
    if (round >= 10) throw new Error('Fulfillment planning does not settle');
    events.push(...planned);
    current = planned.reduce(evolve, current);
  }
  return { events, commands: commandsOf(events) };
}

/** What a command id of a step taken in answer to `trigger` is derived from. */
function causationOf(trigger: Exclude<FulfillmentTrigger, { type: 'CheckReservationDeadline' }>) {
  return 'eventId' in trigger ? trigger.eventId : trigger.data.commandId;
}

/**
 * The times a reaction stamps its events with (see the top of this file): `happened`, of
 * the trigger's fact, for what the process concludes from it; `decided`, the runner's
 * clock when it handled the trigger, for the steps it takes.
 */
interface Times {
  happened: string;
  decided: string;
}

/** When the trigger's fact happened. */
function timeOf(trigger: FulfillmentTrigger): string {
  switch (trigger.type) {
    case 'OrderPaid':
      return trigger.data.paidAt;
    case 'OrderReadyToShip':
      return trigger.data.readyAt;
    case 'OrderShipped':
      return trigger.data.shippedAt;
    case 'OrderCancelled':
      return trigger.data.cancelledAt;
    case 'StockReserved':
      return trigger.data.reservedAt;
    case 'StockReleased':
      return trigger.data.releasedAt;
    case 'ShipmentCreated':
      return trigger.data.createdAt;
    case 'ShipmentDispatched':
      return trigger.data.dispatchedAt;
    case 'ShipmentCancelled':
      return trigger.data.cancelledAt;
    case 'StockReservationRefused':
      return trigger.data.refusedAt;
    case 'CommandRejected':
      return trigger.data.rejectedAt;
    case 'CommandFailed':
      return trigger.data.failedAt;
    case 'CheckReservationDeadline':
      return trigger.data.now;
    default:
      return assertNever(trigger);
  }
}

/**
 * When the process handled the trigger, by the runner's clock: when a log event was
 * observed, or when the runner learnt a command's outcome.
 */
function decidedAt(trigger: FulfillmentTrigger): string {
  let at: string | undefined;
  switch (trigger.type) {
    case 'OrderPaid':
    case 'OrderReadyToShip':
    case 'OrderShipped':
    case 'OrderCancelled':
    case 'StockReserved':
    case 'StockReleased':
    case 'ShipmentCreated':
    case 'ShipmentDispatched':
    case 'ShipmentCancelled':
      at = trigger.observedAt;
      break;
    case 'StockReservationRefused':
      at = trigger.data.refusedAt;
      break;
    case 'CommandRejected':
      at = trigger.data.rejectedAt;
      break;
    case 'CommandFailed':
      at = trigger.data.failedAt;
      break;
    case 'CheckReservationDeadline':
      at = trigger.data.now;
      break;
    default:
      return assertNever(trigger);
  }
  // Checked still: a trigger built past the types would stamp its steps with no time.
  if (typeof at !== 'string') throw new Error(`A ${trigger.type} trigger came without its time`);
  return at;
}

const findStep = (state: StartedFulfillment, commandId: string): StepRecord | undefined =>
  Object.values(state.steps).find((s) => s.command.commandId === commandId);

const pendingStep = (state: StartedFulfillment, key: string): StepRecord | undefined => {
  const step = state.steps[key];
  return step?.status === 'PENDING' ? step : undefined;
};

/**
 * Refusals that only mean a step is no longer needed, because the order moved on another
 * way that the process handles when it sees it.
 */
const NOT_NEEDED: Partial<Record<FulfillmentStep, readonly string[]>> = {
  // The order shipped or was cancelled before it could be marked ready.
  'mark-ready-to-ship': ['ORDER_NOT_PAID'],
  // Someone else cancelled the order first, and that cancellation refunded it.
  refund: ['ORDER_ALREADY_CANCELLED'],
};

/** The events recording what a trigger tells the process; none if nothing new. */
function observe(state: FulfillmentState, trigger: FulfillmentTrigger): FulfillmentEvent[] {
  if (state.status === 'NOT_STARTED') {
    if (trigger.type !== 'OrderPaid') return []; // not paid, or not this process's business
    const { orderId, paymentId, paidAt } = trigger.data;
    if (trigger.items.length === 0) throw new Error(`Paid order ${orderId} came without items`);
    const items = fulfillmentItems(trigger.items).sort((a, b) =>
      a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0,
    );
    return [
      FulfillmentEvents.FulfillmentStarted({
        orderId,
        paymentId,
        shipmentId: shipmentIdFor(orderId),
        items,
        startedAt: paidAt,
      }),
    ];
  }
  const { orderId } = state;
  const itemOf = (productId: string) => state.items.find((i) => i.productId === productId);

  switch (trigger.type) {
    case 'OrderPaid':
      return []; // a re-delivery: an order is paid once

    case 'StockReserved': {
      const { productId, quantity, reservedAt } = trigger.data;
      const item = itemOf(productId);
      const stock = state.stock[productId];
      // A product is reserved at most once per order, so one already seen is an echo.
      if (!item || stock === 'RESERVED' || stock === 'RELEASED') return [];
      return [
        FulfillmentEvents.StockReservedForItem({
          orderId,
          productId,
          productName: item.productName,
          quantity,
          reservedAt,
        }),
      ];
    }

    case 'StockReleased': {
      const { productId, quantity, releasedAt } = trigger.data;
      const item = itemOf(productId);
      if (!item || state.stock[productId] !== 'RESERVED') return [];
      return [
        FulfillmentEvents.StockReleasedForItem({
          orderId,
          productId,
          productName: item.productName,
          quantity,
          releasedAt,
        }),
      ];
    }

    case 'StockReservationRefused': {
      const { commandId, available, refusedAt } = trigger.data;
      const step = findStep(state, commandId);
      if (!step || step.status !== 'PENDING') return [];
      if (step.command.command.type !== 'ReserveStock') {
        throw new Error(`StockReservationRefused names command ${commandId}, not a reservation`);
      }
      const { productId, quantity } = step.command.command.data;
      const item = itemOf(productId);
      return [
        FulfillmentEvents.StockShortageDetected({
          orderId,
          productId,
          productName: item?.productName ?? productId,
          requested: quantity,
          available,
          detectedAt: refusedAt,
        }),
      ];
    }

    case 'CommandRejected': {
      const { commandId, code, message, rejectedAt } = trigger.data;
      const step = findStep(state, commandId);
      if (!step || step.status !== 'PENDING') return [];
      if (step.step === 'reserve-stock' && code === 'INSUFFICIENT_STOCK') {
        // A shortage is not a failure: it needs the available count to be told.
        throw new Error('Report INSUFFICIENT_STOCK as StockReservationRefused');
      }
      const about = { orderId, step: step.step, productId: step.productId, commandId, code };
      if (NOT_NEEDED[step.step]?.includes(code)) {
        return [
          FulfillmentEvents.StepSkipped({ ...about, reason: message, skippedAt: rejectedAt }),
        ];
      }
      return [
        FulfillmentEvents.FulfillmentFailed({ ...about, reason: message, failedAt: rejectedAt }),
      ];
    }

    case 'CommandFailed': {
      const { commandId, reason, failedAt } = trigger.data;
      const step = findStep(state, commandId);
      if (!step || step.status !== 'PENDING') return [];
      return [
        FulfillmentEvents.FulfillmentFailed({
          orderId,
          step: step.step,
          productId: step.productId,
          commandId,
          code: null,
          reason,
          failedAt,
        }),
      ];
    }

    case 'OrderReadyToShip': {
      if (state.orderReadyToShip || trigger.data.shipmentId !== state.shipmentId) return [];
      return [completed(state, 'mark-ready-to-ship', trigger.data.readyAt)];
    }

    case 'OrderShipped': {
      if (state.orderShipped) return [];
      const { carrier, trackingNumber, shippedAt } = trigger.data;
      return [
        FulfillmentEvents.OrderShipmentNoted({ orderId, carrier, trackingNumber, shippedAt }),
      ];
    }

    case 'OrderCancelled': {
      if (state.orderCancelled) return [];
      const { reason, refunded, cancelledAt } = trigger.data;
      return [FulfillmentEvents.OrderCancellationNoted({ orderId, reason, refunded, cancelledAt })];
    }

    case 'ShipmentCreated':
      if (trigger.data.shipmentId !== state.shipmentId || state.shipment !== 'NONE') return [];
      return [completed(state, 'create-shipment', trigger.data.createdAt)];

    case 'ShipmentDispatched':
      if (trigger.data.shipmentId !== state.shipmentId) return [];
      if (state.shipment === 'DISPATCHED' || state.shipment === 'CANCELLED') return [];
      return [completed(state, 'dispatch-shipment', trigger.data.dispatchedAt)];

    case 'ShipmentCancelled':
      if (trigger.data.shipmentId !== state.shipmentId || state.shipment === 'CANCELLED') return [];
      return [completed(state, 'cancel-shipment', trigger.data.cancelledAt)];

    case 'CheckReservationDeadline':
      return []; // handled by react before observing
    default:
      return assertNever(trigger);
  }
}

const completed = (state: StartedFulfillment, step: ConfirmedStep, at: string): FulfillmentEvent =>
  FulfillmentEvents.StepCompleted({
    orderId: state.orderId,
    step,
    commandId: pendingStep(state, step)?.command.commandId ?? null,
    completedAt: at,
  });

// ---------------------------------------------------------------------------------------
// Plan: the steps that are due

/** The steps due in `state`, their command ids derived from `cause`, stamped with `t`. */
function plan(state: StartedFulfillment, cause: string, t: Times): FulfillmentEvent[] {
  switch (state.status) {
    case 'RESERVING':
      return planReservation(state, cause, t);
    case 'READY_TO_SHIP':
    case 'DISPATCHING':
      return planShipping(state, cause, t);
    case 'COMPENSATING':
    case 'CANCELLED':
      return planCompensation(state, cause, t);
    case 'FAILED':
      // A failed process still gives back what it holds once the order is given up, and
      // still dispatches a shipment that exists once the order has shipped.
      return state.orderCancelled || state.shortage
        ? planCompensation(state, cause, t)
        : planShipping(state, cause, t);
    case 'COMPLETED':
      return [];
    default:
      return assertNever(state);
  }
}

const hasPending = (state: StartedFulfillment, step?: FulfillmentStep): boolean =>
  Object.values(state.steps).some(
    (s) => s.status === 'PENDING' && (step === undefined || s.step === step),
  );

/**
 * One product at a time, in product-id order. The fixed order is what lock ordering is to
 * a database: two orders after the same scarce products queue on the first one they
 * share, so one gets everything, instead of each holding what the other lacks and both
 * being cancelled.
 */
function planReservation(state: StartedFulfillment, cause: string, t: Times): FulfillmentEvent[] {
  const { orderId, shipmentId } = state;
  if (hasPending(state, 'reserve-stock')) return [];
  const next = state.items.find(
    (i) =>
      state.stock[i.productId] === 'UNRESERVED' &&
      !state.steps[stepKey('reserve-stock', i.productId)],
  );
  if (next) {
    const { productId, productName, quantity } = next;
    return [
      FulfillmentEvents.StockReservationRequested({
        orderId,
        commandId: deriveCommandId(cause, stepKey('reserve-stock', productId)),
        productId,
        productName,
        quantity,
        requestedAt: t.decided,
      }),
    ];
  }
  if (!state.items.every((i) => state.stock[i.productId] === 'RESERVED')) return [];
  const events: FulfillmentEvent[] = [
    FulfillmentEvents.StockReservationCompleted({ orderId, reservedAt: t.happened }),
    FulfillmentEvents.ShipmentRequested({
      orderId,
      commandId: deriveCommandId(cause, stepKey('create-shipment')),
      shipmentId,
      items: state.items,
      requestedAt: t.decided,
    }),
  ];
  // An order an admin shipped before its stock was reserved is past "ready"; its shipment
  // is dispatched as soon as it exists.
  if (!state.orderShipped) {
    events.push(
      FulfillmentEvents.ReadyToShipRequested({
        orderId,
        commandId: deriveCommandId(cause, stepKey('mark-ready-to-ship')),
        shipmentId,
        requestedAt: t.decided,
      }),
    );
  }
  return events;
}

function planShipping(state: StartedFulfillment, cause: string, t: Times): FulfillmentEvent[] {
  const { orderId, shipmentId } = state;
  if (state.shipment === 'DISPATCHED') {
    return [FulfillmentEvents.FulfillmentCompleted({ orderId, completedAt: t.happened })];
  }
  // Dispatch needs both: the order handed to a carrier, and the shipment in existence.
  if (state.orderShipped && state.shipment === 'CREATED' && !state.steps['dispatch-shipment']) {
    const { carrier, trackingNumber } = state.orderShipped;
    return [
      FulfillmentEvents.ShipmentDispatchRequested({
        orderId,
        commandId: deriveCommandId(cause, stepKey('dispatch-shipment')),
        shipmentId,
        carrier,
        trackingNumber,
        requestedAt: t.decided,
      }),
    ];
  }
  return [];
}

/**
 * Gives back what the process holds: every reserved item is released (including one whose
 * reservation lands after the shortage or the cancellation), the payment is refunded
 * unless the order was already cancelled (cancelling a paid order refunds it), and a
 * shipment not yet dispatched is cancelled. Done when nothing is held or on its way.
 */
function planCompensation(state: StartedFulfillment, cause: string, t: Times): FulfillmentEvent[] {
  const { orderId, shipmentId } = state;
  const events: FulfillmentEvent[] = [];
  for (const { productId, productName } of state.items) {
    const key = stepKey('release-stock', productId);
    if (state.stock[productId] === 'RESERVED' && !state.steps[key]) {
      events.push(
        FulfillmentEvents.StockReleaseRequested({
          orderId,
          commandId: deriveCommandId(cause, key),
          productId,
          productName,
          requestedAt: t.decided,
        }),
      );
    }
  }
  if (state.shortage && !state.orderCancelled && !state.steps['refund']) {
    events.push(
      FulfillmentEvents.RefundRequested({
        orderId,
        commandId: deriveCommandId(cause, stepKey('refund')),
        reason: shortageReason(state.shortage.productName),
        requestedAt: t.decided,
      }),
    );
  }
  if (state.orderCancelled && state.shipment === 'CREATED' && !state.steps['cancel-shipment']) {
    events.push(
      FulfillmentEvents.ShipmentCancellationRequested({
        orderId,
        commandId: deriveCommandId(cause, stepKey('cancel-shipment')),
        shipmentId,
        reason: state.orderCancelled.reason,
        requestedAt: t.decided,
      }),
    );
  }
  if (
    events.length === 0 &&
    state.status !== 'CANCELLED' &&
    state.orderCancelled &&
    !hasPending(state) &&
    !state.items.some((i) => state.stock[i.productId] === 'RESERVED') &&
    state.shipment !== 'CREATED'
  ) {
    events.push(
      FulfillmentEvents.FulfillmentCancelled({
        orderId,
        reason: state.orderCancelled.reason,
        cancelledAt: t.happened,
      }),
    );
  }
  return events;
}

// ---------------------------------------------------------------------------------------
// Evolve

/** Records a step taken: the command it sent, now PENDING. */
function requested(state: StartedFulfillment, event: FulfillmentEvent): StartedFulfillment {
  const command = commandOf(event);
  if (!command) throw new Error(`${event.type} sends no command`);
  // Stock steps exist once per product; every other step once per process.
  const productId = command.target === 'product' ? command.command.data.productId : null;
  const key = stepKey(command.step, productId);
  return {
    ...state,
    steps: {
      ...state.steps,
      [key]: { step: command.step, productId, status: 'PENDING', command },
    },
  };
}

/** Marks a step settled if it is still pending; a step settled already stays as it is. */
function settle(
  steps: Record<string, StepRecord>,
  key: string,
  status: Exclude<StepStatus, 'PENDING'>,
): Record<string, StepRecord> {
  const step = steps[key];
  return step?.status === 'PENDING' ? { ...steps, [key]: { ...step, status } } : steps;
}

function evolve(state: FulfillmentState, event: FulfillmentEvent): FulfillmentState {
  if (event.type === 'FulfillmentStarted') {
    if (state.status !== 'NOT_STARTED')
      throw unexpectedEvent('a fulfillment process', state, event);
    const { orderId, paymentId, shipmentId, items, startedAt } = event.data;
    return {
      status: 'RESERVING',
      orderId,
      paymentId,
      shipmentId,
      items,
      stock: Object.fromEntries(items.map((i) => [i.productId, 'UNRESERVED' as const])),
      steps: {},
      shipment: 'NONE',
      orderReadyToShip: false,
      orderShipped: null,
      orderCancelled: null,
      shortage: null,
      failures: [],
      lateFlaggedAt: null,
      startedAt,
      updatedAt: startedAt,
    };
  }
  if (state.status === 'NOT_STARTED') throw unexpectedEvent('a fulfillment process', state, event);

  switch (event.type) {
    case 'StockReservationRequested':
    case 'StockReleaseRequested':
    case 'RefundRequested':
    case 'ShipmentRequested':
    case 'ReadyToShipRequested':
    case 'ShipmentCancellationRequested':
      return { ...requested(state, event), updatedAt: event.data.requestedAt };

    case 'ShipmentDispatchRequested': {
      const next = { ...requested(state, event), updatedAt: event.data.requestedAt };
      return state.status === 'READY_TO_SHIP' ? { ...next, status: 'DISPATCHING' } : next;
    }

    case 'StockReservedForItem': {
      const { productId, reservedAt } = event.data;
      return {
        ...state,
        stock: { ...state.stock, [productId]: 'RESERVED' },
        steps: settle(state.steps, stepKey('reserve-stock', productId), 'DONE'),
        updatedAt: reservedAt,
      };
    }

    case 'StockShortageDetected': {
      const { orderId: _orderId, ...shortage } = event.data;
      return {
        ...state,
        status: state.status === 'RESERVING' ? 'COMPENSATING' : state.status,
        stock: { ...state.stock, [shortage.productId]: 'SHORT' },
        steps: settle(state.steps, stepKey('reserve-stock', shortage.productId), 'DONE'),
        // The first shortage names the refund; a later one changes nothing of it.
        shortage: state.shortage ?? shortage,
        updatedAt: shortage.detectedAt,
      };
    }

    case 'StockReservationCompleted':
      if (state.status !== 'RESERVING')
        throw unexpectedEvent('a fulfillment process', state, event);
      return { ...state, status: 'READY_TO_SHIP', updatedAt: event.data.reservedAt };

    case 'StockReleasedForItem': {
      const { productId, releasedAt } = event.data;
      return {
        ...state,
        stock: { ...state.stock, [productId]: 'RELEASED' },
        steps: settle(state.steps, stepKey('release-stock', productId), 'DONE'),
        updatedAt: releasedAt,
      };
    }

    case 'OrderShipmentNoted': {
      const { carrier, trackingNumber, shippedAt } = event.data;
      return {
        ...state,
        orderShipped: { carrier, trackingNumber, shippedAt },
        updatedAt: shippedAt,
      };
    }

    case 'OrderCancellationNoted': {
      const { reason, refunded, cancelledAt } = event.data;
      return {
        ...state,
        // A FAILED process stays FAILED until it is resolved; it compensates all the same.
        status:
          state.status === 'RESERVING' || state.status === 'READY_TO_SHIP'
            ? 'COMPENSATING'
            : state.status,
        orderCancelled: { reason, refunded, cancelledAt },
        // Whoever cancelled the order, the cancellation refunded it.
        steps: settle(state.steps, stepKey('refund'), 'DONE'),
        updatedAt: cancelledAt,
      };
    }

    case 'StepCompleted': {
      const { step, completedAt } = event.data;
      let steps = settle(state.steps, stepKey(step), 'DONE');
      switch (step) {
        case 'create-shipment':
          return { ...state, shipment: 'CREATED', steps, updatedAt: completedAt };
        case 'mark-ready-to-ship':
          return { ...state, orderReadyToShip: true, steps, updatedAt: completedAt };
        case 'dispatch-shipment':
          // A dispatched shipment exists, whether or not its creation was seen first.
          steps = settle(steps, stepKey('create-shipment'), 'DONE');
          return { ...state, shipment: 'DISPATCHED', steps, updatedAt: completedAt };
        case 'cancel-shipment':
          steps = settle(steps, stepKey('create-shipment'), 'DONE');
          return { ...state, shipment: 'CANCELLED', steps, updatedAt: completedAt };
        default:
          return assertNever(step);
      }
    }

    case 'StepSkipped': {
      const { step, productId, skippedAt } = event.data;
      return {
        ...state,
        steps: settle(state.steps, stepKey(step, productId), 'SKIPPED'),
        updatedAt: skippedAt,
      };
    }

    case 'FulfillmentCompleted':
      return { ...state, status: 'COMPLETED', updatedAt: event.data.completedAt };

    case 'FulfillmentCancelled':
      return { ...state, status: 'CANCELLED', updatedAt: event.data.cancelledAt };

    case 'FulfillmentFailed': {
      const { orderId: _orderId, ...failure } = event.data;
      return {
        ...state,
        status: 'FAILED',
        steps: settle(state.steps, stepKey(failure.step, failure.productId), 'FAILED'),
        failures: [...state.failures, failure],
        updatedAt: failure.failedAt,
      };
    }

    case 'FulfillmentFlaggedLate':
      return { ...state, lateFlaggedAt: event.data.flaggedAt, updatedAt: event.data.flaggedAt };

    default:
      return assertNever(event);
  }
}

/**
 * The process as a decider of its own stream, for the command handler: the trigger is
 * the command, the events are what `react` records. The commands to send follow from
 * the recorded events (`commandOf`) or, after a crash, from the state (`pendingCommands`).
 */
export const fulfillmentDecider: Decider<FulfillmentTrigger, FulfillmentEvent, FulfillmentState> = {
  streamType: FULFILLMENT_STREAM_TYPE,
  snapshotVersion: 1,
  initialState,
  decide: (trigger, state) => react(state, trigger).events,
  evolve,
};

export { evolve as evolveFulfillment };
