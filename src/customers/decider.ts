import {
  assertNever,
  type Decider,
  notFound,
  ruleViolation,
  unexpectedEvent,
} from '../shared/decider.js';
import type { CustomerCommand } from './commands.js';
import { CustomerEvents, type CustomerEvent } from './events.js';
import { FieldChecks, MAX_NAME_LENGTH } from '../shared/field-checks.js';

/** Event-store stream type of customers. */
export const CUSTOMER_STREAM_TYPE = 'customer';

/** The stream that holds one customer's events: `customer-<uuid>`. */
export const streamId = (customerId: string): string => `customer-${customerId}`;
export { streamId as customerStreamId };

/**
 * The key under which an email address is reserved so that no two customers share it:
 * mailbox names are case-insensitive in practice, so `Ann@X.org` and `ann@x.org` collide.
 * Only for comparison; the address is stored as the customer gave it.
 */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** A customer as the write model knows it. Plain JSON: it is stored as a snapshot. */
export type CustomerState =
  | { status: 'NOT_REGISTERED' }
  | {
      status: 'REGISTERED';
      customerId: string;
      name: string;
      email: string;
      phone: string;
      registeredAt: string;
      /** Time of the latest event. */
      updatedAt: string;
    };

export type CustomerStatus = CustomerState['status'];

const initialState: CustomerState = { status: 'NOT_REGISTERED' };

function decide(command: CustomerCommand, state: CustomerState): CustomerEvent[] {
  switch (command.type) {
    case 'RegisterCustomer': {
      const { customerId, name, email, phone, now } = command.data;
      const check = new FieldChecks();
      // The mutation calls the new customer's id `id`; paths follow the mutation input.
      check.uuid('id', customerId);
      check.text('name', name, { max: MAX_NAME_LENGTH });
      check.email('email', email);
      check.phone('phone', phone);
      check.throwIfAny();
      if (state.status !== 'NOT_REGISTERED') {
        throw ruleViolation(
          'CUSTOMER_ALREADY_REGISTERED',
          `Customer ${customerId} is already registered`,
        );
      }
      return [
        CustomerEvents.CustomerRegistered({ customerId, name, email, phone, registeredAt: now }),
      ];
    }
    case 'ChangeCustomerEmail': {
      const { customerId, email, now } = command.data;
      const check = new FieldChecks();
      check.uuid('customerId', customerId);
      check.email('email', email);
      check.throwIfAny();
      if (state.status === 'NOT_REGISTERED') {
        throw notFound('CUSTOMER_NOT_FOUND', `Customer ${customerId} does not exist`);
      }
      // Compared by reservation key, so every CustomerEmailChanged moves the reservation:
      // a case-only "change" would otherwise release the key the customer still holds.
      if (normalizeEmail(email) === normalizeEmail(state.email)) {
        throw ruleViolation(
          'EMAIL_UNCHANGED',
          `Customer ${customerId} already has the email ${state.email}`,
        );
      }
      return [
        CustomerEvents.CustomerEmailChanged({
          customerId,
          previousEmail: state.email,
          email,
          changedAt: now,
        }),
      ];
    }
    default:
      return assertNever(command);
  }
}

function evolve(state: CustomerState, event: CustomerEvent): CustomerState {
  switch (event.type) {
    case 'CustomerRegistered': {
      if (state.status !== 'NOT_REGISTERED') throw unexpectedEvent('a customer', state, event);
      const { customerId, name, email, phone, registeredAt } = event.data;
      return {
        status: 'REGISTERED',
        customerId,
        name,
        email,
        phone,
        registeredAt,
        updatedAt: registeredAt,
      };
    }
    case 'CustomerEmailChanged':
      if (state.status !== 'REGISTERED') throw unexpectedEvent('a customer', state, event);
      return { ...state, email: event.data.email, updatedAt: event.data.changedAt };
    default:
      return assertNever(event);
  }
}

/** The customer aggregate: registration and email changes. */
export const customerDecider: Decider<CustomerCommand, CustomerEvent, CustomerState> = {
  streamType: CUSTOMER_STREAM_TYPE,
  snapshotVersion: 1,
  initialState,
  decide,
  evolve,
};
