import type { DomainEvent } from '../shared/decider.js';
import { eventBuilders, eventTypes } from '../shared/events.js';

/** A person who may place orders. Registered once; identified by a uuid. */
export type CustomerEvent =
  | DomainEvent<
      'CustomerRegistered',
      {
        customerId: string;
        name: string;
        /** Exactly as the customer typed it; uniqueness goes by {@link normalizeEmail}. */
        email: string;
        phone: string;
        registeredAt: string;
      }
    >
  | DomainEvent<
      'CustomerEmailChanged',
      { customerId: string; previousEmail: string; email: string; changedAt: string }
    >;

export type CustomerEventType = CustomerEvent['type'];

/** Every customer event type: one that is missing here, or extra, does not compile. */
export const customerEventTypes = eventTypes<CustomerEvent>({
  CustomerRegistered: true,
  CustomerEmailChanged: true,
});

/** `CustomerEvents.CustomerRegistered(data)` is that event, its payload checked. */
export const CustomerEvents = eventBuilders(customerEventTypes);
