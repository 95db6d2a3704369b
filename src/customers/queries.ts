import { canActForCustomer } from '../auth/principal.js';
import { builder } from '../graphql/builder.js';
import { readError, requireReader } from '../graphql/read.js';
import { MoneyRef } from '../graphql/shared-types.js';
import { OrderStatusEnum } from '../orders/graphql.js';
import { CustomerRef } from './graphql.js';
import type { OrderStatisticsView, StatusCount } from './projections.js';

/*
 * Customer queries (read models `customers` and `customer_order_stats`).
 *
 * Authorisation: staff (admin, service) read every customer; a customer reads only
 * itself. `customer(id)` of someone else answers null, exactly as for an unknown id (it
 * tells nothing about who exists); `orderStatistics(customerId)` of someone else is a
 * FORBIDDEN error, since it names the customer explicitly and always has an answer.
 */

const StatusCountRef = builder.objectRef<StatusCount>('StatusCount').implement({
  fields: (t) => ({
    status: t.field({ type: OrderStatusEnum, resolve: (s) => s.status }),
    count: t.exposeInt('count'),
  }),
});

export const OrderStatisticsRef = builder
  .objectRef<OrderStatisticsView>('OrderStatistics')
  .implement({
    description:
      'A customer’s orders in figures. Spent = PAID and SHIPPED orders (not PENDING, not CANCELLED); money in the currency of most such orders (XXX when there are none)',
    fields: (t) => ({
      customerId: t.exposeID('customerId'),
      orderCount: t.exposeInt('orderCount', { description: 'Every order, whatever its status' }),
      totalSpent: t.field({
        type: MoneyRef,
        description: 'Sum of the totals of PAID and SHIPPED orders in the main currency',
        resolve: (s) => s.totalSpent,
      }),
      averageOrderValue: t.field({
        type: MoneyRef,
        description:
          'totalSpent / the number of PAID and SHIPPED orders in that currency, rounded half up; 0 without any',
        resolve: (s) => s.averageOrderValue,
      }),
      byStatus: t.field({
        type: [StatusCountRef],
        description: 'Orders per status, every status listed',
        resolve: (s) => s.byStatus,
      }),
      totalSpentByCurrency: t.field({
        type: [MoneyRef],
        description: 'What was spent in each currency (for customers ordering in several)',
        resolve: (s) => s.totalSpentByCurrency,
      }),
    }),
  });

builder.objectField(CustomerRef, 'statistics', (t) =>
  t.field({
    type: OrderStatisticsRef,
    resolve: (c, _args, ctx) => {
      const principal = requireReader(ctx);
      if (!canActForCustomer(principal, c.id))
        throw readError('FORBIDDEN', 'These statistics belong to another customer');
      return ctx.loaders.statistics.load(c.id);
    },
  }),
);

builder.queryField('customer', (t) =>
  t.field({
    type: CustomerRef,
    nullable: true,
    description: 'A customer; null when unknown or not the caller’s own (for a customer token)',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => {
      const principal = requireReader(ctx);
      const customerId = String(id).toLowerCase();
      if (!canActForCustomer(principal, customerId)) return null;
      return ctx.loaders.customer.load(customerId);
    },
  }),
);

builder.queryField('orderStatistics', (t) =>
  t.field({
    type: OrderStatisticsRef,
    description: 'A customer’s order statistics (a customer token: its own only)',
    args: { customerId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const principal = requireReader(ctx);
      const customerId = String(args.customerId).toLowerCase();
      if (!canActForCustomer(principal, customerId))
        throw readError('FORBIDDEN', 'A customer may only read its own statistics');
      return ctx.loaders.statistics.load(customerId);
    },
  }),
);
