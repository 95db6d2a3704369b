import type { EventStore } from '../eventstore/store.js';
import { fulfillmentTimelineEventTypes } from '../fulfillment/timeline.js';
import type { LiveEvent } from '../live/hub.js';
import { ORDER_STREAM_TYPE, orderStreamId } from './decider.js';

const MAX_CACHED = 50_000;

/** Fulfillment events that are lines of an order's timeline (its process and shipment). */
export const ORDER_MILESTONES = new Set<string>(fulfillmentTimelineEventTypes);

/** The order stream an event belongs to: its own, or its order's for a milestone. */
function orderStreamOf(e: LiveEvent): string | undefined {
  if (e.streamType === ORDER_STREAM_TYPE) return e.streamId;
  if (!ORDER_MILESTONES.has(e.type)) return undefined;
  const orderId = (e.data as { orderId?: unknown } | null)?.orderId;
  return typeof orderId === 'string' ? orderStreamId(orderId) : undefined;
}

/**
 * Tags order events, and the fulfillment milestones of orders, with their customer, so
 * `orderUpdates(customerId)` can filter live events without a query per subscriber. Only `OrderCreated` names the customer; for
 * other events the answer is remembered from it, or read once from the order's first
 * event (bounded cache, oldest forgotten first).
 */
export function orderCustomerEnricher(store: EventStore): (events: LiveEvent[]) => Promise<void> {
  const customerOf = new Map<string, string>();
  const remember = (streamId: string, customerId: string) => {
    customerOf.delete(streamId);
    customerOf.set(streamId, customerId);
    if (customerOf.size > MAX_CACHED) customerOf.delete(customerOf.keys().next().value!);
  };
  return async (events) => {
    const unknown = new Set<string>();
    for (const e of events) {
      const stream = orderStreamOf(e);
      if (stream === undefined) continue;
      if (e.type === 'OrderCreated')
        remember(stream, (e.data as { customerId: string }).customerId);
      else if (!customerOf.has(stream)) unknown.add(stream);
    }
    await Promise.all(
      [...unknown].map(async (streamId) => {
        const [first] = await store.readStream(streamId, { limit: 1 });
        if (first?.type === 'OrderCreated')
          remember(streamId, (first.data as { customerId: string }).customerId);
      }),
    );
    for (const e of events) {
      const stream = orderStreamOf(e);
      const customerId = stream === undefined ? undefined : customerOf.get(stream);
      if (customerId) e.customerId = customerId;
    }
  };
}
