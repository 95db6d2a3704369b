import { builder } from '../graphql/builder.js';
import { commandMutation } from '../graphql/command-mutation.js';
import type { GraphQLContext } from '../graphql/context.js';
import { readAfterWrite, readModelsReach } from '../graphql/consistency.js';
import {
  BusinessRuleViolationResult,
  ForbiddenErrorResult,
  IdempotencyConflictResult,
  ValidationErrorResult,
} from '../graphql/errors.js';
import { commandIdField } from '../graphql/shared-types.js';
import { CUSTOMERS_PROJECTION, type CustomerView } from './projections.js';
import { changeCustomerEmail, registerCustomer, type CustomerResult } from './use-cases.js';

readModelsReach('Customer', { models: [CUSTOMERS_PROJECTION] });

export const CustomerRef = builder.objectRef<CustomerView>('Customer').implement({
  description: 'Someone who places orders',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    phone: t.exposeString('phone'),
  }),
});

/** The customer from the read model once it has caught up with the command (read-your-writes). */
const customerEntity = {
  field: 'customer',
  type: CustomerRef,
  read: (ctx: GraphQLContext, r: CustomerResult) =>
    readAfterWrite(
      ctx,
      r.cursor,
      'Customer',
      (l) => l.customer.load(r.customerId),
      `customer ${r.customerId}`,
    ),
};

const RegisterCustomerInput = builder.inputType('RegisterCustomerInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    id: t.id({
      required: false,
      description: 'The new customer id (uuid); chosen by the server when omitted',
    }),
    name: t.string({ required: true }),
    email: t.string({ required: true }),
    phone: t.string({ required: true }),
  }),
});

commandMutation('registerCustomer', {
  description: 'Registers a customer. A customer token may register only its own customer id.',
  input: RegisterCustomerInput,
  uuids: (input) => ({ id: input.id }),
  run: (ctx, { id, name, email, phone }, env) =>
    registerCustomer(ctx, { id: id == null ? null : String(id), name, email, phone }, env),
  entity: customerEntity,
  errors: [
    ValidationErrorResult,
    BusinessRuleViolationResult,
    ForbiddenErrorResult,
    IdempotencyConflictResult,
  ],
});

const ChangeCustomerEmailInput = builder.inputType('ChangeCustomerEmailInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    customerId: t.id({ required: true }),
    email: t.string({ required: true }),
  }),
});

commandMutation('changeCustomerEmail', {
  input: ChangeCustomerEmailInput,
  uuids: (input) => ({ customerId: input.customerId }),
  run: (ctx, input, env) =>
    changeCustomerEmail(ctx, { customerId: String(input.customerId), email: input.email }, env),
  entity: customerEntity,
});
