import { builder } from '../graphql/builder.js';
import { commandMutation, type CommandEntity } from '../graphql/command-mutation.js';
import { readModelsReach } from '../graphql/consistency.js';
import {
  BusinessRuleViolationResult,
  ForbiddenErrorResult,
  IdempotencyConflictResult,
  ValidationErrorResult,
} from '../graphql/errors.js';
import { commandIdField } from '../graphql/shared-types.js';
import { customerDecider, customerStreamId } from './decider.js';
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

/**
 * The `customer` of a customer command's `…Success`: from the read model once it has
 * caught up with the command (read-your-writes); should it not within the mutation's wait,
 * from the customer's stream as the command left it (every field of `Customer` is folded
 * from it exactly as the read model folds it; `Customer.orders` and `statistics` read
 * their read models as they stand).
 */
const customerEntity: CommandEntity<CustomerResult, CustomerView> = {
  field: 'customer',
  type: CustomerRef,
  read: (loaders, r) => loaders.customer.load(r.customerId),
  state: {
    shape: { id: true, name: true, email: true, phone: true },
    load: async (ctx, r) => {
      const { state } = await ctx.commands.load(customerDecider, customerStreamId(r.customerId), {
        version: r.version,
      });
      return state.status === 'REGISTERED'
        ? { id: state.customerId, name: state.name, email: state.email, phone: state.phone }
        : null;
    },
  },
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
