import type { Upcaster } from '../eventstore/index.js';
import { DEFAULT_PAYMENT_METHOD, DEFAULT_SHIPPING_METHOD, estimateDelivery } from './delivery.js';
import type { Address, OrderEvent } from './events.js';

/** One step of an event's shape: `upcast` turns a payload of `fromVersion` into the next. */
export interface UpcastStep {
  type: OrderEvent['type'];
  fromVersion: number;
  upcast: Upcaster;
}

/*
 * The order events whose shape grew, and what their older payloads mean in the new shape
 * (the store applies these on every read: docs/architecture.md, "Upcasting"). Orders placed
 * before billing addresses and methods existed were billed to where they shipped, shipped
 * STANDARD and paid by CARD; their delivery estimate is the one the rule gives today.
 * A field the payload already has is kept: an event in the new shape stamped with an old
 * version (appended by a store without this registry, e.g. a test's) passes unchanged.
 */
export const orderUpcasters: readonly UpcastStep[] = [
  {
    type: 'OrderCreated',
    fromVersion: 1,
    upcast: (d: { shippingAddress: Address }) => ({
      billingAddress: d.shippingAddress,
      shippingMethod: DEFAULT_SHIPPING_METHOD,
      ...d,
    }),
  },
  {
    type: 'OrderPaid',
    fromVersion: 1,
    upcast: (d: { paidAt: string }) => ({
      method: DEFAULT_PAYMENT_METHOD,
      transactionId: null,
      estimatedDelivery: estimateDelivery(DEFAULT_SHIPPING_METHOD, d.paidAt),
      ...d,
    }),
  },
  {
    type: 'OrderShipped',
    fromVersion: 1,
    upcast: (d: object) => ({ estimatedDelivery: null, ...d }),
  },
];
