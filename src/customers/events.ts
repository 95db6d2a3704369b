import type { DomainEvent } from '../shared/decider.js';

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

export const customerEventTypes: readonly CustomerEventType[] = [
  'CustomerRegistered',
  'CustomerEmailChanged',
];
