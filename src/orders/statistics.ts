import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';
import { ddlBlock, loadByIds, recordset, upsertRows, type Column } from '../projections/batch.js';
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
// status, total, version) and sums per customer and currency (`customer_stats_currency`).
// A batch moves the sums by each changed order's new row minus its row as loaded, in the
// transaction that writes the rows, then rebuilds the touched customers' statistics from
// their sums in the same statement. An event already applied changes no row (its version
// is not newer), so it moves no sum: a statistic stays exactly the aggregate of the
// orders, however often an event is re-delivered, at a cost independent of how many
// orders a customer has.
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
// - Every sum is a bigint in the database and read exactly (the API's SafeInt goes to
//   2^53 − 1, some 90,000 orders of the largest total); a larger one fails the read
//   instead of showing a rounded number.

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
  OrderBillingAddressChanged: null,
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

/** The sums kept per customer and currency, each a count or an amount of orders. */
const DELTA_SUMS = ['n', 'pending', 'paid', 'shipped', 'cancelled', 'spent_n', 'spent'] as const;
type CurrencyDelta = { customer_id: string; currency: string } & Record<
  (typeof DELTA_SUMS)[number],
  number
>;
const CURRENCY_COLUMNS: readonly Column[] = [
  ['customer_id', 'text'],
  ['currency', 'text'],
  ...DELTA_SUMS.map((k) => [k, 'int8'] as const),
];

/**
 * Adds `sign` × what one order row counts for to its customer's and currency's sums. A
 * batch's deltas are JavaScript numbers: exact, as a batch of at most a few thousand orders
 * of at most MAX_ORDER_TOTAL each moves a sum by far less than 2^53. The sums themselves
 * are added up in bigint by the database.
 */
function addContribution(into: Map<string, CurrencyDelta>, row: StatsOrderRow, sign: 1 | -1): void {
  const key = `${row.customer_id} ${row.currency}`;
  let d = into.get(key);
  if (!d) {
    d = { customer_id: row.customer_id, currency: row.currency } as CurrencyDelta;
    for (const k of DELTA_SUMS) d[k] = 0;
    into.set(key, d);
  }
  const spent = SPENT.includes(row.status);
  d.n += sign;
  if (row.status === 'PENDING') d.pending += sign;
  if (row.status === 'PAID') d.paid += sign;
  if (row.status === 'SHIPPED') d.shipped += sign;
  if (row.status === 'CANCELLED') d.cancelled += sign;
  if (spent) {
    d.spent_n += sign;
    d.spent += sign * Number(row.total_amount);
  }
}

export const customerStatsProjection: Projection = {
  name: CUSTOMER_STATS_PROJECTION,
  // 2: per-currency sums kept by deltas (customer_stats_currency) instead of a recount.
  version: 2,
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
      name: 'customer_stats_currency',
      ddl: (t) =>
        `CREATE TABLE ${t} (
          customer_id text NOT NULL,
          currency text NOT NULL,
          n bigint NOT NULL,
          pending bigint NOT NULL,
          paid bigint NOT NULL,
          shipped bigint NOT NULL,
          cancelled bigint NOT NULL,
          spent_n bigint NOT NULL,
          spent bigint NOT NULL,
          PRIMARY KEY (customer_id, currency)
        )`,
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
    const byCurrency = table('customer_stats_currency');
    const ids = events.map((e) => (e.data as { orderId: string }).orderId);
    const loaded = new Map(
      (await loadByIds<StatsOrderRow>(tx, orders, ids, 'order_id')).map(
        (r) => [r.order_id, r] as const,
      ),
    );
    const rows = new Map(loaded);
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
    // Each changed order moves its customer's per-currency sums by (new row − row as
    // loaded): deltas, not a recount, so a batch costs the same however many orders the
    // customer already has. Re-delivered events change no row, hence no sum.
    const deltas = new Map<string, CurrencyDelta>();
    for (const id of changed) {
      const was = loaded.get(id);
      if (was) addContribution(deltas, was, -1);
      addContribution(deltas, rows.get(id)!, 1);
    }
    const moved = [...deltas.values()].filter((d) => DELTA_SUMS.some((k) => d[k] !== 0));
    if (moved.length === 0) return;
    const sums = DELTA_SUMS.join(', ');
    // The customers' rows are then rebuilt from their per-currency sums (a few rows each):
    // the upserted ones as RETURNING gives them, the others as they stand.
    await tx.query(
      `WITH d AS (
         ${recordset(CURRENCY_COLUMNS)}
       ), up AS (
         INSERT INTO ${byCurrency} AS cur (customer_id, currency, ${sums})
         SELECT customer_id, currency, ${sums} FROM d
         ON CONFLICT (customer_id, currency) DO UPDATE SET
           ${DELTA_SUMS.map((k) => `${k} = cur.${k} + EXCLUDED.${k}`).join(', ')}
         RETURNING customer_id, currency, ${sums}
       ), per_currency AS (
         SELECT * FROM up
         UNION ALL
         SELECT b.customer_id, b.currency, ${DELTA_SUMS.map((k) => `b.${k}`).join(', ')}
         FROM ${byCurrency} b
         WHERE b.customer_id IN (SELECT customer_id FROM d)
           AND NOT EXISTS (
             SELECT 1 FROM up WHERE up.customer_id = b.customer_id AND up.currency = b.currency)
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
      [JSON.stringify(moved)],
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

/**
 * Whole minor units, half up: amounts are non-negative integers. Worked from the
 * remainder, since `2 * sum` would leave the exact range for a sum past 2^52.
 */
function average(sum: number, n: number): number {
  if (n === 0) return 0;
  const rest = sum % n;
  return (sum - rest) / n + (2 * rest >= n ? 1 : 0);
}

/**
 * An amount of the `spent_by_currency` document. The int8 columns are checked as they are
 * parsed (`parseInt8`); JSON numbers are not, and past 2^53 − 1 they would quietly round
 * (every such number parses to 2^53 or more, so this check catches them all).
 */
function exactAmount(amount: number, customerId: string, currency: string): number {
  if (!Number.isSafeInteger(amount))
    throw new RangeError(
      `Customer ${customerId} spent more ${currency} than an exact number can hold (${amount})`,
    );
  return amount;
}

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
      amount: exactAmount(c.amount, r.customer_id, c.currency),
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
