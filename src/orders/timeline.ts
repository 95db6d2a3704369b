import { formatMoney } from '../shared/money-format.js';
import {
  describeFulfillmentEvent,
  fulfillmentEventTime,
  fulfillmentStreamEventTypes,
} from '../fulfillment/timeline.js';
import { assertNever } from '../shared/decider.js';
import { expectDomainEvent } from '../shared/events.js';
import type { PaymentMethod } from './delivery.js';
import { orderEventTypes, type Address, type OrderEvent } from './events.js';

export { formatMoney };

const PAYMENT_METHOD_NAMES: Readonly<Record<PaymentMethod, string>> = {
  CARD: 'card',
  PAYPAL: 'PayPal',
  BANK_TRANSFER: 'bank transfer',
  INVOICE: 'invoice',
};

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const oneLine = (a: Address): string =>
  [a.line1, a.line2, `${a.postalCode} ${a.city}`, a.country]
    .filter((part) => part !== undefined)
    .join(', ');

/**
 * A short sentence for an order's timeline and live feeds, from the event alone. "Items"
 * counts units (3 × one product is 3 items), as a shopper would.
 */
export function describeOrderEvent(event: OrderEvent): string {
  switch (event.type) {
    case 'OrderCreated': {
      const units = event.data.items.reduce((n, line) => n + line.quantity, 0);
      return `Order created with ${plural(units, 'item')}, total ${formatMoney(event.data.total)}`;
    }
    case 'OrderItemAdded': {
      const { item, total } = event.data;
      return `Added ${item.quantity} × ${item.productName} at ${formatMoney(item.unitPrice)}; total ${formatMoney(total)}`;
    }
    case 'OrderItemRemoved':
      return `Removed ${event.data.productName}; total ${formatMoney(event.data.total)}`;
    case 'OrderShippingAddressChanged':
      return `Shipping address changed to ${oneLine(event.data.shippingAddress)}`;
    case 'OrderBillingAddressChanged':
      return `Billing address changed to ${oneLine(event.data.billingAddress)}`;
    case 'OrderPaid': {
      const { amount, method, paymentId, transactionId, estimatedDelivery } = event.data;
      const reference = transactionId === null ? '' : `, transaction ${transactionId}`;
      return `Paid ${formatMoney(amount)} by ${PAYMENT_METHOD_NAMES[method]} (payment ${paymentId}${reference}); estimated delivery ${estimatedDelivery}`;
    }
    case 'OrderReadyToShip':
      return `Stock reserved; ready to ship (shipment ${event.data.shipmentId})`;
    case 'OrderShipped':
      return `Shipped with ${event.data.carrier}, tracking number ${event.data.trackingNumber}${
        event.data.estimatedDelivery === null
          ? ''
          : `; estimated delivery ${event.data.estimatedDelivery}`
      }`;
    case 'OrderPaymentRefunded':
      return `Refunded ${formatMoney(event.data.amount)} (payment ${event.data.paymentId})`;
    case 'OrderCancelled':
      return `Cancelled: ${event.data.reason}${event.data.refunded ? '; payment refunded' : ''}`;
    default:
      return assertNever(event);
  }
}

/** When the event happened in the domain (the command's `now`), for `TimelineEntry.at`. */
export function orderEventTime(event: OrderEvent): string {
  switch (event.type) {
    case 'OrderCreated':
      return event.data.createdAt;
    case 'OrderItemAdded':
      return event.data.addedAt;
    case 'OrderItemRemoved':
      return event.data.removedAt;
    case 'OrderShippingAddressChanged':
    case 'OrderBillingAddressChanged':
      return event.data.changedAt;
    case 'OrderPaid':
      return event.data.paidAt;
    case 'OrderReadyToShip':
      return event.data.readyAt;
    case 'OrderShipped':
      return event.data.shippedAt;
    case 'OrderPaymentRefunded':
      return event.data.refundedAt;
    case 'OrderCancelled':
      return event.data.cancelledAt;
    default:
      return assertNever(event);
  }
}

/** One line of an order's timeline: what the read model stores and live feeds show. */
export interface TimelineLine {
  orderId: string;
  at: string;
  description: string;
}

/**
 * The timeline line of an order event or of a fulfillment milestone (an event of the
 * order's process or shipment stream), told apart by `isOrderEvent`. Both name their order.
 * An event of another type throws.
 */
export function timelineLine(
  e: { type: string; data: unknown; streamId?: string },
  isOrderEvent: boolean,
): TimelineLine {
  if (isOrderEvent) {
    const ev = expectDomainEvent(e, orderEventTypes);
    return {
      orderId: ev.data.orderId,
      at: orderEventTime(ev),
      description: describeOrderEvent(ev),
    };
  }
  const ev = expectDomainEvent(e, fulfillmentStreamEventTypes);
  return {
    orderId: ev.data.orderId,
    at: fulfillmentEventTime(ev),
    description: describeFulfillmentEvent(ev),
  };
}
