import type { DomainEvent } from '../shared/decider.js';
import type { Address } from '../shared/address.js';
import { eventBuilders, eventTypes } from '../shared/events.js';
import type { Money } from '../shared/money.js';
import type { CalendarDate, PaymentMethod, ShippingMethod } from './delivery.js';

export type { Address, CalendarDate, PaymentMethod, ShippingMethod };

/**
 * One product in an order. Name, picture and unit price are copied from the catalogue when
 * the line is added, so the order keeps what the customer saw even if the catalogue
 * changes later, and the read side never has to look at product streams.
 */
export interface OrderLine {
  productId: string;
  productName: string;
  imageUrl: string;
  quantity: number;
  /** Price of one unit when the line was added. */
  unitPrice: Money;
}

/**
 * The life of an order: created PENDING with its lines, paid (PAID), shipped (SHIPPED);
 * cancelled from PENDING or PAID (CANCELLED), a paid order being refunded first.
 * `total` in item events is the order total after the change.
 */
export type OrderEvent =
  | DomainEvent<
      'OrderCreated',
      {
        orderId: string;
        customerId: string;
        items: OrderLine[];
        shippingAddress: Address;
        /** Where the invoice goes; the shipping address unless the customer gave another. */
        billingAddress: Address;
        shippingMethod: ShippingMethod;
        total: Money;
        createdAt: string;
      }
    >
  | DomainEvent<
      'OrderItemAdded',
      { orderId: string; item: OrderLine; total: Money; addedAt: string }
    >
  | DomainEvent<
      'OrderItemRemoved',
      {
        orderId: string;
        productId: string;
        /** Carried so the timeline can name what was removed without the earlier events. */
        productName: string;
        total: Money;
        removedAt: string;
      }
    >
  | DomainEvent<
      'OrderShippingAddressChanged',
      { orderId: string; shippingAddress: Address; changedAt: string }
    >
  | DomainEvent<
      'OrderBillingAddressChanged',
      { orderId: string; billingAddress: Address; changedAt: string }
    >
  | DomainEvent<
      'OrderPaid',
      {
        orderId: string;
        paymentId: string;
        amount: Money;
        method: PaymentMethod;
        /** The payment provider's reference, when the caller gave one. */
        transactionId: string | null;
        /** From the order's shipping method and the payment's time (`estimateDelivery`). */
        estimatedDelivery: CalendarDate;
        paidAt: string;
      }
    >
  /** The fulfillment process has reserved the stock; the order may be handed to a carrier. */
  | DomainEvent<'OrderReadyToShip', { orderId: string; shipmentId: string; readyAt: string }>
  | DomainEvent<
      'OrderShipped',
      {
        orderId: string;
        carrier: string;
        trackingNumber: string;
        /** The carrier's estimate, replacing the one made at payment; null when it gave none. */
        estimatedDelivery: CalendarDate | null;
        shippedAt: string;
      }
    >
  /** Always directly followed by the `OrderCancelled` of the same command. */
  | DomainEvent<
      'OrderPaymentRefunded',
      { orderId: string; paymentId: string; amount: Money; reason: string; refundedAt: string }
    >
  | DomainEvent<
      'OrderCancelled',
      {
        orderId: string;
        reason: string;
        cancelledAt: string;
        /** Whether a payment was refunded by the same cancellation. */
        refunded: boolean;
      }
    >;

export type OrderEventType = OrderEvent['type'];

/** Every order event type: one that is missing here, or extra, does not compile. */
export const orderEventTypes = eventTypes<OrderEvent>({
  OrderCreated: true,
  OrderItemAdded: true,
  OrderItemRemoved: true,
  OrderShippingAddressChanged: true,
  OrderBillingAddressChanged: true,
  OrderPaid: true,
  OrderReadyToShip: true,
  OrderShipped: true,
  OrderPaymentRefunded: true,
  OrderCancelled: true,
});

/** `OrderEvents.OrderPaid(data)` is that event, its payload checked. */
export const OrderEvents = eventBuilders(orderEventTypes);
