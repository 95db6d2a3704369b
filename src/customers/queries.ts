import { canActForCustomer } from '../auth/principal.js';
import { builder } from '../graphql/builder.js';
import { requireReader, uuidArgument } from '../graphql/read.js';
import { CustomerRef } from './graphql.js';

/*
 * Customer queries (read model `customers`; a customer's order statistics are the
 * orders feature's).
 *
 * Authorisation: staff (admin, service) read every customer; a customer reads only
 * itself. `customer(id)` of someone else answers null, exactly as for an unknown id (it
 * tells nothing about who exists); `orderStatistics(customerId)` of someone else is a
 * FORBIDDEN error, since it names the customer explicitly and always has an answer.
 */

builder.queryField('customer', (t) =>
  t.field({
    type: CustomerRef,
    nullable: true,
    description: 'A customer; null when unknown or not the caller’s own (for a customer token)',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => {
      const principal = requireReader(ctx);
      const customerId = uuidArgument('id', id);
      if (!canActForCustomer(principal, customerId)) return null;
      return ctx.loaders.customer.load(customerId);
    },
  }),
);
