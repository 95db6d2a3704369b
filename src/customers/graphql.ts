import { canActForCustomer } from '../auth/principal.js';
import { builder } from '../graphql/builder.js';
import { asCommand, checkUuids, envelope, requirePrincipal } from '../graphql/commands.js';
import type { GraphQLContext } from '../graphql/context.js';
import { readAfterWrite, readModelsReach } from '../graphql/consistency.js';
import {
  COMMAND_ERRORS,
  BusinessRuleViolationResult,
  ForbiddenErrorResult,
  IdempotencyConflictResult,
  ValidationErrorResult,
} from '../graphql/errors.js';
import { commandIdField } from '../graphql/shared-types.js';
import { successType } from '../graphql/success.js';
import type { StreamAppend } from '../eventstore/types.js';
import { customerDecider, customerStreamId } from './decider.js';
import { CUSTOMERS_PROJECTION, type CustomerView } from './projections.js';
import { emailReservationDecider, emailReservationStreamId } from './email-reservation.js';

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

/** The customer from the read model once it has caught up with `cursor` (read-your-writes). */
const readCustomerAfter = (ctx: GraphQLContext, customerId: string, cursor: string) =>
  readAfterWrite(
    ctx,
    cursor,
    'Customer',
    (l) => l.customer.load(customerId),
    `customer ${customerId}`,
  );

/** The reservation appends that move `customerId`'s email from `previous` to `next`. */
async function emailReservations(
  ctx: GraphQLContext,
  customerId: string,
  next: string,
  previous: string | undefined,
): Promise<StreamAppend[]> {
  const appends: StreamAppend[] = [];
  const claimId = emailReservationStreamId(next);
  const claim = await ctx.commands.load(emailReservationDecider, claimId);
  const claimed = emailReservationDecider.decide(
    { type: 'ClaimEmail', data: { customerId, email: next } },
    claim.state,
  );
  if (claimed.length) {
    appends.push({
      streamId: claimId,
      streamType: emailReservationDecider.streamType,
      events: claimed,
      expected: claim.version === 0 ? 'noStream' : claim.version,
    });
  }
  if (previous !== undefined) {
    const releaseId = emailReservationStreamId(previous);
    if (releaseId !== claimId) {
      const release = await ctx.commands.load(emailReservationDecider, releaseId);
      const released = emailReservationDecider.decide(
        { type: 'ReleaseEmail', data: { customerId } },
        release.state,
      );
      if (released.length) {
        appends.push({
          streamId: releaseId,
          streamType: emailReservationDecider.streamType,
          events: released,
          expected: release.version,
        });
      }
    }
  }
  return appends;
}

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

const RegisterCustomerSuccess = successType('RegisterCustomerSuccess', 'customer', CustomerRef);

builder.mutationField('registerCustomer', (t) =>
  t.field({
    type: RegisterCustomerSuccess,
    description: 'Registers a customer. A customer token may register only its own customer id.',
    args: { input: t.arg({ type: RegisterCustomerInput, required: true }) },
    errors: {
      types: [
        ValidationErrorResult,
        BusinessRuleViolationResult,
        ForbiddenErrorResult,
        IdempotencyConflictResult,
      ],
      directResult: true,
      union: { name: 'RegisterCustomerPayload' },
    },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'registerCustomer', async () => {
        const env = envelope(ctx, 'registerCustomer', {
          ...input,
          commandId: String(input.commandId),
        });
        const principal = requirePrincipal(ctx);
        checkUuids({ id: input.id });
        const customerId = String(
          input.id ??
            (principal.role === 'customer' ? principal.customerId : undefined) ??
            ctx.newId(),
        ).toLowerCase();
        if (!canActForCustomer(principal, customerId)) {
          throw new ForbiddenErrorResult('A customer may only register itself');
        }
        const result = await ctx.commands.execute(
          customerDecider,
          customerStreamId(customerId),
          {
            type: 'RegisterCustomer',
            data: {
              customerId,
              name: input.name,
              email: input.email,
              phone: input.phone,
              now: ctx.now().toISOString(),
            },
          },
          env,
          { companions: () => emailReservations(ctx, customerId, input.email, undefined) },
        );
        // A replay answers with the first run's stream: a server-chosen id differs each run.
        const id = result.streamId.replace(/^customer-/, '');
        return {
          cursor: result.cursor,
          version: result.version,
          entity: await readCustomerAfter(ctx, id, result.cursor),
        };
      }),
  }),
);

const ChangeCustomerEmailInput = builder.inputType('ChangeCustomerEmailInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    customerId: t.id({ required: true }),
    email: t.string({ required: true }),
  }),
});

builder.mutationField('changeCustomerEmail', (t) =>
  t.field({
    type: successType('ChangeCustomerEmailSuccess', 'customer', CustomerRef),
    args: { input: t.arg({ type: ChangeCustomerEmailInput, required: true }) },
    errors: {
      types: COMMAND_ERRORS,
      directResult: true,
      union: { name: 'ChangeCustomerEmailPayload' },
    },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'changeCustomerEmail', async () => {
        const env = envelope(ctx, 'changeCustomerEmail', {
          ...input,
          commandId: String(input.commandId),
        });
        checkUuids({ customerId: input.customerId });
        const customerId = String(input.customerId).toLowerCase();
        if (!canActForCustomer(env.principal, customerId)) {
          throw new ForbiddenErrorResult('A customer may only change its own email');
        }
        let previous: string | undefined;
        const result = await ctx.commands.execute(
          customerDecider,
          customerStreamId(customerId),
          {
            type: 'ChangeCustomerEmail',
            data: { customerId, email: input.email, now: ctx.now().toISOString() },
          },
          env,
          {
            authorize: (state) => {
              previous = state.status === 'REGISTERED' ? state.email : undefined;
            },
            companions: () => emailReservations(ctx, customerId, input.email, previous),
          },
        );
        return {
          cursor: result.cursor,
          version: result.version,
          entity: await readCustomerAfter(ctx, customerId, result.cursor),
        };
      }),
  }),
);
