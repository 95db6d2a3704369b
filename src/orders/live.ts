import type { EventStore } from '../eventstore/store.js';
import type { LiveEvent } from '../live/hub.js';
import { ORDER_STREAM_TYPE } from './decider.js';

const MAX_CACHED = 50_000;

/**
 * Tags order events with their customer, so `orderUpdates(customerId)` can filter live
 * events without a query per subscriber. Only `OrderCreated` names the customer; for
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
      if (e.streamType !== ORDER_STREAM_TYPE) continue;
      if (e.type === 'OrderCreated')
        remember(e.streamId, (e.data as { customerId: string }).customerId);
      else if (!customerOf.has(e.streamId)) unknown.add(e.streamId);
    }
    await Promise.all(
      [...unknown].map(async (streamId) => {
        const [first] = await store.readStream(streamId, { limit: 1 });
        if (first?.type === 'OrderCreated')
          remember(streamId, (first.data as { customerId: string }).customerId);
      }),
    );
    for (const e of events) {
      if (e.streamType === ORDER_STREAM_TYPE) {
        const customerId = customerOf.get(e.streamId);
        if (customerId) e.customerId = customerId;
      }
    }
  };
}
