import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';
import { ddlBlock, loadByIds, upsertRows, type Column } from '../projections/batch.js';
import type { Projection } from '../projections/types.js';
import {
  domainEvent,
  handledEventTypes,
  handleEvent,
  type EventHandlers,
} from '../shared/events.js';
import type { Money } from '../shared/money.js';
import type { OrderStatus } from './decider.js';
import { orderEventTypes, type OrderEvent } from './events.js';

// =======================================================================================
// Order statistics per customer (view `customer_order_stats`), from order events.
//
// The projection keeps its own small per-order table (`customer_stats_orders`: customer,
// status, total, version) and, per batch, recomputes the statistics of the customers it
// touched with one set-based statement over that table. So a statistic is always exactly
// the aggregate of the orders, however often an event is re-delivered.
//
// - orderCount: every order, whatever its status; byStatus: the count per status.
// - totalSpent: the totals of the orders that are PAID or SHIPPED (money that stayed with
//   the business: PENDING is not paid yet, a CANCELLED order was never paid or refunded).
// - averageOrderValue: totalSpent / the number of those orders, rounded half up to whole
//   minor units; 0 when there are none.
// - An order has one currency but a customer's orders may not. totalSpent and the average
//   are given in the customer's main currency: the one of most PAID/SHIPPED orders (then
//   of most orders, then alphabetical); every currency's total is in
//   `totalSpentByCurrency`. A customer without orders has the ISO 4217 "no currency"
//   code XXX.

export const CUSTOMER_STATS_PROJECTION = 'customer_stats';

const ORDER_STATUSES: readonly OrderStatus[] = ['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'];
const SPENT: readonly OrderStatus[] = ['PAID', 'SHIPPED'];
export const NO_CURRENCY = 'XXX';

interface StatsOrderRow {
  order_id: string;
  customer_id: string;
  status: OrderStatus;
  total_amount: number;
  currency: string;
  version: number;
}

const STATS_ORDER_COLUMNS: readonly Column[] = [
  ['order_id', 'text'],
  ['customer_id', 'text'],
  ['status', 'text'],
  ['total_amount', 'int8'],
  ['currency', 'text'],
  ['version', 'int4'],
];

/** The row of an order that an event other than its creation changes. */
function created(row: StatsOrderRow | undefined, ev: OrderEvent): StatsOrderRow {
  if (!row) throw new Error(`${ev.type} for order ${ev.data.orderId}, which was never created`);
  return row;
}

/**
 * What each order event makes of the order's row (the fold sets `version`); null for the
 * events that change neither status nor total, which the projection does not read.
 */
const statsFolds: EventHandlers<
  OrderEvent,
  StatsOrderRow | undefined,
  Omit<StatsOrderRow, 'version'>
> = {
  OrderCreated: (_row, { data: d }) => ({
    order_id: d.orderId,
    customer_id: d.customerId,
    status: 'PENDING',
    total_amount: d.total.amount,
    currency: d.total.currency,
  }),
  OrderItemAdded: (row, ev) => ({ ...created(row, ev), total_amount: ev.data.total.amount }),
  OrderItemRemoved: (row, ev) => ({ ...created(row, ev), total_amount: ev.data.total.amount }),
  OrderShippingAddressChanged: null,
  OrderPaid: (row, ev) => ({ ...created(row, ev), status: 'PAID' }),
  OrderReadyToShip: null,
  OrderShipped: (row, ev) => ({ ...created(row, ev), status: 'SHIPPED' }),
  OrderPaymentRefunded: null,
  OrderCancelled: (row, ev) => ({ ...created(row, ev), status: 'CANCELLED' }),
};

/** The order events the projection reads: those it has a handler for. */
const STATS_EVENT_TYPES = handledEventTypes(statsFolds);

function foldStatsOrder(row: StatsOrderRow | undefined, e: StoredEvent): StatsOrderRow | null {
  if (row && e.version <= row.version) return null;
  const ev = domainEvent(e, orderEventTypes);
  const next = ev && handleEvent(statsFolds, row, ev);
  return next && { ...next, version: e.version };
}

export const customerStatsProjection: Projection = {
  name: CUSTOMER_STATS_PROJECTION,
  version: 1,
  tables: [
    {
      name: 'customer_stats_orders',
      ddl: (t) =>
        ddlBlock(
          `CREATE TABLE ${t} (
            order_id text PRIMARY KEY,
            customer_id text NOT NULL,
            status text NOT NULL,
            total_amount bigint NOT NULL,
            currency text NOT NULL,
            version integer NOT NULL
          )`,
          `CREATE INDEX ${t}_customer_idx ON ${t} (customer_id)`,
        ),
    },
    {
      name: 'customer_order_stats',
      ddl: (t) =>
        `CREATE TABLE ${t} (
          customer_id text PRIMARY KEY,
          order_count bigint NOT NULL,
          pending_count bigint NOT NULL,
          paid_count bigint NOT NULL,
          shipped_count bigint NOT NULL,
          cancelled_count bigint NOT NULL,
          currency text NOT NULL,
          spent_amount bigint NOT NULL,
          spent_orders bigint NOT NULL,
          -- [{currency, amount, orders}] of PAID and SHIPPED orders, by currency
          spent_by_currency jsonb NOT NULL
        )`,
    },
  ],
  eventTypes: STATS_EVENT_TYPES,
  async apply(tx, events, table) {
    const orders = table('customer_stats_orders');
    const stats = table('customer_order_stats');
    const ids = events.map((e) => (e.data as { orderId: string }).orderId);
    const rows = new Map(
      (await loadByIds<StatsOrderRow>(tx, orders, ids, 'order_id')).map(
        (r) => [r.order_id, r] as const,
      ),
    );
    const changed = new Set<string>();
    for (const e of events) {
      const id = (e.data as { orderId: string }).orderId;
      const next = foldStatsOrder(rows.get(id), e);
      if (!next) continue;
      rows.set(id, next);
      changed.add(id);
    }
    if (changed.size === 0) return;
    const written = [...changed].map((id) => rows.get(id)!);
    await upsertRows(tx, orders, STATS_ORDER_COLUMNS, written, {
      key: ['order_id'],
      newerOnly: true,
    });
    const customers = [...new Set(written.map((r) => r.customer_id))];
    const spent = SPENT.map((s) => `'${s}'`).join(', ');
    // Recomputed from the per-order rows, set-based, for the customers this batch touched.
    await tx.query(
      `WITH per_currency AS (
         SELECT customer_id, currency,
                count(*) AS n,
                count(*) FILTER (WHERE status = 'PENDING') AS pending,
                count(*) FILTER (WHERE status = 'PAID') AS paid,
                count(*) FILTER (WHERE status = 'SHIPPED') AS shipped,
                count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
                count(*) FILTER (WHERE status IN (${spent})) AS spent_n,
                coalesce(sum(total_amount) FILTER (WHERE status IN (${spent})), 0)::int8 AS spent
         FROM ${orders} WHERE customer_id = ANY($1::text[])
         GROUP BY customer_id, currency
       ), ranked AS (
         SELECT *, row_number() OVER (
                  PARTITION BY customer_id ORDER BY spent_n DESC, n DESC, currency) AS rk
         FROM per_currency
       )
       INSERT INTO ${stats} AS cur (customer_id, order_count, pending_count, paid_count,
         shipped_count, cancelled_count, currency, spent_amount, spent_orders, spent_by_currency)
       SELECT customer_id, sum(n)::int8, sum(pending)::int8, sum(paid)::int8, sum(shipped)::int8,
              sum(cancelled)::int8,
              min(currency) FILTER (WHERE rk = 1),
              coalesce(min(spent) FILTER (WHERE rk = 1), 0),
              coalesce(min(spent_n) FILTER (WHERE rk = 1), 0),
              coalesce(jsonb_agg(jsonb_build_object('currency', currency, 'amount', spent,
                'orders', spent_n) ORDER BY currency) FILTER (WHERE spent_n > 0), '[]'::jsonb)
       FROM ranked GROUP BY customer_id
       ON CONFLICT (customer_id) DO UPDATE SET
         order_count = EXCLUDED.order_count, pending_count = EXCLUDED.pending_count,
         paid_count = EXCLUDED.paid_count, shipped_count = EXCLUDED.shipped_count,
         cancelled_count = EXCLUDED.cancelled_count, currency = EXCLUDED.currency,
         spent_amount = EXCLUDED.spent_amount, spent_orders = EXCLUDED.spent_orders,
         spent_by_currency = EXCLUDED.spent_by_currency`,
      [customers],
    );
  },
};

export interface StatusCount {
  status: OrderStatus;
  count: number;
}

export interface OrderStatisticsView {
  customerId: string;
  orderCount: number;
  totalSpent: Money;
  averageOrderValue: Money;
  byStatus: StatusCount[];
  totalSpentByCurrency: Money[];
}

interface StatsRow {
  customer_id: string;
  order_count: number;
  pending_count: number;
  paid_count: number;
  shipped_count: number;
  cancelled_count: number;
  currency: string;
  spent_amount: number;
  spent_orders: number;
  spent_by_currency: { currency: string; amount: number; orders: number }[];
}

/** Statistics of a customer without any order. */
export function emptyStatistics(customerId: string): OrderStatisticsView {
  return {
    customerId,
    orderCount: 0,
    totalSpent: { amount: 0, currency: NO_CURRENCY },
    averageOrderValue: { amount: 0, currency: NO_CURRENCY },
    byStatus: ORDER_STATUSES.map((status) => ({ status, count: 0 })),
    totalSpentByCurrency: [],
  };
}

/** Whole minor units, half up: amounts are non-negative integers. */
const average = (sum: number, n: number): number =>
  n === 0 ? 0 : Math.floor((2 * sum + n) / (2 * n));

function toStatistics(r: StatsRow): OrderStatisticsView {
  return {
    customerId: r.customer_id,
    orderCount: r.order_count,
    totalSpent: { amount: r.spent_amount, currency: r.currency },
    averageOrderValue: {
      amount: average(r.spent_amount, r.spent_orders),
      currency: r.currency,
    },
    byStatus: [
      { status: 'PENDING', count: r.pending_count },
      { status: 'PAID', count: r.paid_count },
      { status: 'SHIPPED', count: r.shipped_count },
      { status: 'CANCELLED', count: r.cancelled_count },
    ],
    totalSpentByCurrency: r.spent_by_currency.map((c) => ({
      amount: c.amount,
      currency: c.currency,
    })),
  };
}

/** Statistics of the customers of `ids` that have orders (others: {@link emptyStatistics}). */
export async function statisticsByCustomerIds(
  db: Queryable,
  ids: readonly string[],
): Promise<OrderStatisticsView[]> {
  const r = await db.query<StatsRow>(
    `SELECT * FROM customer_order_stats WHERE customer_id = ANY($1::text[])`,
    [ids],
  );
  return r.rows.map(toStatistics);
}
