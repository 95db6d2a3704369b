import { createHash } from 'node:crypto';
import {
  assertNever,
  ruleViolation,
  type Decider,
  type DomainCommand,
  type DomainEvent,
} from '../shared/decider.js';
import { eventBuilders, eventTypes } from '../shared/events.js';
import { normalizeEmail } from './decider.js';

/**
 * An email reservation: one stream per normalised address, claimed by at most one
 * customer. Claiming appends to it with optimistic concurrency in the same transaction as
 * the customer's own event, so two customers racing for one address cannot both win.
 */
export type EmailReservationEvent =
  | DomainEvent<'EmailClaimed', { customerId: string; email: string }>
  | DomainEvent<'EmailReleased', { customerId: string }>;

/** Every email-reservation event type: one that is missing here, or extra, does not compile. */
export const emailReservationEventTypes = eventTypes<EmailReservationEvent>({
  EmailClaimed: true,
  EmailReleased: true,
});

/** `EmailReservationEvents.EmailClaimed(data)` is that event, its payload checked. */
export const EmailReservationEvents = eventBuilders(emailReservationEventTypes);

export type EmailReservationCommand =
  | DomainCommand<'ClaimEmail', { customerId: string; email: string }>
  | DomainCommand<'ReleaseEmail', { customerId: string }>;

export type EmailReservationState = { status: 'FREE' } | { status: 'CLAIMED'; customerId: string };

export const EMAIL_RESERVATION_STREAM_TYPE = 'customer-email';

/** The stream id hides the address itself (it is personal data) behind a hash. */
export const emailReservationStreamId = (email: string): string =>
  `customer-email-${createHash('sha256').update(normalizeEmail(email)).digest('hex')}`;

export const emailReservationDecider: Decider<
  EmailReservationCommand,
  EmailReservationEvent,
  EmailReservationState
> = {
  streamType: EMAIL_RESERVATION_STREAM_TYPE,
  snapshotVersion: 1,
  initialState: { status: 'FREE' },
  decide(command, state) {
    switch (command.type) {
      case 'ClaimEmail':
        if (state.status === 'CLAIMED') {
          if (state.customerId === command.data.customerId) return [];
          throw ruleViolation(
            'EMAIL_TAKEN',
            'This email address is already used by another customer',
          );
        }
        return [EmailReservationEvents.EmailClaimed(command.data)];
      case 'ReleaseEmail':
        return state.status === 'CLAIMED' && state.customerId === command.data.customerId
          ? [EmailReservationEvents.EmailReleased(command.data)]
          : [];
      default:
        return assertNever(command);
    }
  },
  evolve(_state, event) {
    switch (event.type) {
      case 'EmailClaimed':
        return { status: 'CLAIMED', customerId: event.data.customerId };
      case 'EmailReleased':
        return { status: 'FREE' };
      default:
        return assertNever(event);
    }
  },
};
