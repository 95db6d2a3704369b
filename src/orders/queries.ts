import { canActForCustomer, isStaff } from '../auth/principal.js';
import { CustomerRef } from '../customers/graphql.js';
import { builder } from '../graphql/builder.js';
import type { GraphQLContext } from '../graphql/context.js';
import { awaitReadModels, readModelsOf, readModelsReach } from '../graphql/consistency.js';
import {
  checkFirst,
  connection,
  connectionType,
  decodePageCursor,
  encodePageCursor,
  optionalUuidArgument,
  readError,
  requireReader,
  uuidArgument,
} from '../graphql/read.js';
import { selectsField } from '../graphql/selection.js';
import { MoneyRef } from '../graphql/shared-types.js';
import { OrderRef, OrderStatusEnum } from './graphql.js';
import {
  CUSTOMER_STATS_PROJECTION,
  type OrderStatisticsView,
  type StatusCount,
} from './statistics.js';
import {
  countOrders,
  orderNumberOf,
  ordersPage,
  type OrderListFilter,
  type OrderReadModel,
  type TimelineEntry,
} from './projections.js';

/*
 * Order queries (read models `order_list` and `order_timeline`, through the request's
 * DataLoaders).
 *
 * Authorisation: staff (admin, service) read every order. A customer reads its own
 * orders only:
 * - `order(id)` of another customer's order answers null, as for an unknown id, whether
 *   `id` is the order's id or its number;
 * - `orders` is always narrowed to the caller's own customer id; naming another customer
 *   in `filter.customerId` is a FORBIDDEN error (a filter can narrow, never widen).
 *
 * Lists are newest first: by the commit order of the orders' creation (the order number),
 * with keyset cursors, so walking the pages never skips or repeats an order, even while
 * new orders arrive (they appear before the first page).
 */

const ORDERS_MAX_FIRST = 100;
const ORDER_CURSOR = 'o1';

const TimelineEntryRef = builder.objectRef<TimelineEntry>('TimelineEntry').implement({
  description: 'One event in the life of an order, in words',
  fields: (t) => ({
    type: t.exposeString('type', { description: 'The event type, e.g. OrderPaid' }),
    at: t.field({
      type: 'DateTime',
      description: 'When it happened',
      resolve: (e) => e.at,
    }),
    description: t.exposeString('description'),
    version: t.exposeInt('version', {
      description:
        'The version this event made in its stream: the order’s, or for a fulfillment milestone its fulfillment process’s or shipment’s',
    }),
  }),
});

builder.objectFields(OrderRef, (t) => ({
  orderNumber: t.string({
    nullable: true,
    description:
      'Human-readable, unique and stable, e.g. SO-000042 (numbered in commit order by the orders read model). Null only in a mutation’s answer with `caughtUp: false` whose order the read model has not yet created: read it with `consistentWith` that answer’s cursor.',
    resolve: (o) => o.orderNumber,
  }),
  timeline: t.field({
    type: [TimelineEntryRef],
    description: 'Every event of the order, oldest first',
    resolve: (o, _args, ctx) => ctx.loaders.timeline.load(o.id),
  }),
}));

const OrderConnectionRef = connectionType('Order', OrderRef, {
  totalCount: true,
  description: 'Orders, newest first',
});

const OrderFilterInput = builder.inputType('OrderFilter', {
  fields: (t) => ({
    customerId: t.id({ required: false }),
    status: t.field({ type: OrderStatusEnum, required: false }),
    customerEmail: t.string({
      required: false,
      description:
        'Case-insensitive substring of the customer’s e-mail, taken literally (no wildcards)',
    }),
    minAmount: t.field({
      type: 'SafeInt',
      required: false,
      description: 'Total at least this, in minor units (of whatever currency)',
    }),
    createdFrom: t.field({
      type: 'DateTime',
      required: false,
      description: 'Created at or after (inclusive)',
    }),
    createdTo: t.field({
      type: 'DateTime',
      required: false,
      description: 'Created before (exclusive)',
    }),
  }),
});

function parseSeq(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new Error('bad cursor');
  return v as number;
}

/** One page of orders as a connection; the rows prime the request's order loader. */
async function orderConnection(
  ctx: GraphQLContext,
  filter: OrderListFilter,
  args: { first?: number | null; after?: string | null },
) {
  const limit = checkFirst(args.first, 20, ORDERS_MAX_FIRST);
  const afterSeq = decodePageCursor(ORDER_CURSOR, args.after, parseSeq);
  const page = await ordersPage(ctx.db, filter, { limit, afterSeq });
  for (const o of page.rows) ctx.loaders.order.prime(o.id, o);
  return connection<OrderReadModel>(
    page.rows,
    (o) => encodePageCursor(ORDER_CURSOR, o.seq),
    page.hasNextPage,
    () => countOrders(ctx.db, filter),
  );
}

builder.queryField('order', (t) =>
  t.field({
    type: OrderRef,
    nullable: true,
    description:
      'An order, by its id or by its order number as printed (`SO-000042`; the `SO-` in any case, the digits exactly: `SO-42` is refused); null when unknown or another customer’s. An id that is neither is a BAD_USER_INPUT error. With `consistentWith`, answered once the read models have reached that cursor.',
    args: {
      id: t.arg.id({
        required: true,
        description: 'The order’s id (a uuid) or its order number (SO-000042)',
      }),
      consistentWith: t.arg({ type: 'Cursor', required: false }),
    },
    resolve: async (_root, args, ctx, info) => {
      const principal = requireReader(ctx);
      const number = orderNumberOf(String(args.id));
      const key = number ?? uuidArgument('id', args.id, 'an order number such as SO-000042');
      await awaitReadModels(ctx, args.consistentWith, readModelsOf('Order'));
      // By number, a selected timeline costs the timeline loader a statement of its own; by
      // id it comes with the order in one.
      const loader =
        number !== null
          ? ctx.loaders.orderByNumber
          : selectsField(info, 'timeline')
            ? ctx.loaders.orderWithTimeline
            : ctx.loaders.order;
      const order = await loader.load(key);
      return order && canActForCustomer(principal, order.customerId) ? order : null;
    },
  }),
);

builder.queryField('orders', (t) =>
  t.field({
    type: OrderConnectionRef,
    description:
      'Orders, newest first; at most 100 per page. A customer sees its own orders only. With `consistentWith`, answered once the read models have reached that cursor.',
    args: {
      filter: t.arg({ type: OrderFilterInput, required: false }),
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
      consistentWith: t.arg({ type: 'Cursor', required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      const filter: OrderListFilter = {
        customerId: optionalUuidArgument('filter.customerId', args.filter?.customerId),
        status: args.filter?.status ?? null,
        customerEmail: args.filter?.customerEmail ?? null,
        minAmount: args.filter?.minAmount ?? null,
        createdFrom: args.filter?.createdFrom ?? null,
        createdTo: args.filter?.createdTo ?? null,
      };
      if (!isStaff(principal)) {
        const own = principal.role === 'customer' ? principal.customerId : undefined;
        if (!own) throw readError('FORBIDDEN', 'Only staff or a customer may list orders');
        if (filter.customerId != null && filter.customerId !== own.toLowerCase())
          throw readError('FORBIDDEN', 'A customer may only list its own orders');
        filter.customerId = own;
      }
      await awaitReadModels(ctx, args.consistentWith, readModelsOf('Order'));
      return orderConnection(ctx, filter, args);
    },
  }),
);

builder.objectField(CustomerRef, 'orders', (t) =>
  t.field({
    type: OrderConnectionRef,
    description: 'This customer’s orders, newest first; at most 100 per page',
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
      status: t.arg({ type: OrderStatusEnum, required: false }),
    },
    resolve: (c, args, ctx) => {
      const principal = requireReader(ctx);
      if (!canActForCustomer(principal, c.id))
        throw readError('FORBIDDEN', 'These orders belong to another customer');
      return orderConnection(ctx, { customerId: c.id, status: args.status ?? null }, args);
    },
  }),
);

// ---------------------------------------------------------------------------------------
// A customer's order statistics (read model `customer_stats`). Staff read anyone's; a
// customer only its own: `orderStatistics(customerId)` of someone else is FORBIDDEN,
// since it names the customer explicitly and always has an answer.

readModelsReach('Customer', { models: [CUSTOMER_STATS_PROJECTION], types: ['Order'] });

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

builder.queryField('orderStatistics', (t) =>
  t.field({
    type: OrderStatisticsRef,
    description: 'A customer’s order statistics (a customer token: its own only)',
    args: { customerId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const principal = requireReader(ctx);
      const customerId = uuidArgument('customerId', args.customerId);
      if (!canActForCustomer(principal, customerId))
        throw readError('FORBIDDEN', 'A customer may only read its own statistics');
      return ctx.loaders.statistics.load(customerId);
    },
  }),
);
