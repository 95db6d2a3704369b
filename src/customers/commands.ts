import type { DomainCommand } from '../shared/decider.js';

export type CustomerCommand =
  | DomainCommand<
      'RegisterCustomer',
      { customerId: string; name: string; email: string; phone: string; now: string }
    >
  | DomainCommand<'ChangeCustomerEmail', { customerId: string; email: string; now: string }>;

export type CustomerCommandType = CustomerCommand['type'];
