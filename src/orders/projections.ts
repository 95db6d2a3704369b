import { customerEventTypes, type CustomerEvent } from '../customers/events.js';
import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';
import {
  fulfillmentTimelineEventTypes,
  type FulfillmentMilestone,
} from '../fulfillment/timeline.js';
import {
  ddlBlock,
  insertWrite,
  loadByIds,
  upsertWrite,
  type Column,
  type Write,
} from '../projections/batch.js';
import type { Projection, ProjectionBuildRun } from '../projections/types.js';
import {
  domainEvent,
  handleEvent,
  type EventFolds,
  type EventHandlers,
  type EventOf,
} from '../shared/events.js';
import type { Money } from '../shared/money.js';
import type { OrderStatus } from './decider.js';
import type { CalendarDate, PaymentMethod, ShippingMethod } from './delivery.js';
import { orderEventTypes, type Address, type OrderEvent, type OrderLine } from './events.js';
import { orderEventTime, timelineLine } from './timeline.js';

/**
 * The orders read model (projection `orders`):
 *
 * - `order_list`: one row per order, with everything an order page shows (lines with the
 *   product name, picture and unit price captured in the order, address, payment,
 *   shipment) and the customer's name and e-mail copied in, so lists filter and show
 *   them without a join. A `CustomerEmailChanged` rewrites that customer's rows.
 * - `order_timeline`: one row per order event, with a human-readable description, and
 *   one per fulfillment milestone of the order (its process and shipment streams:
 *   `fulfillmentTimelineEventTypes`), in commit order of the log.
 * - `order_list_customers`: the projection's own lookup of customer name, e-mail and
 *   phone (a projection never reads another projection's tables).
 *
 * Order numbers (`SO-000001`, …) are assigned in commit order, i.e. in the order the
 * projection applies `OrderCreated`s, and stored: the same log always yields the same
 * numbers, on every rebuild, and they never change once given.
 */
export const ORDERS_PROJECTION = 'orders';

export const formatOrderNumber = (seq: number): string => `SO-${String(seq).padStart(6, '0')}`;

export interface PaymentView {
  paymentId: string;
  status: 'PAID' | 'REFUNDED';
  amount: Money;
  method: PaymentMethod;
  transactionId: string | null;
  paidAt: string;
}

export interface ShipmentView {
  carrier: string;
  trackingNumber: string;
  status: string;
}

/** An order as the read model has it: what the GraphQL `Order` type shows. */
export interface OrderReadModel {
  id: string;
  /** Position of the order in the log's commit order: 1, 2, 3 … (keyset for lists). */
  seq: number;
  orderNumber: string;
  status: OrderStatus;
  customerId: string;
  customerName: string | null;
  customerEmail: string | null;
  customerPhone: string | null;
  items: OrderLine[];
  /** Units: the sum of the quantities. */
  itemCount: number;
  total: Money;
  shippingAddress: Address;
  billingAddress: Address;
  shippingMethod: ShippingMethod;
  /** Null until paid, and once cancelled. */
  estimatedDelivery: CalendarDate | null;
  payment: PaymentView | null;
  shipment: ShipmentView | null;
  version: number;
  createdAt: Date | string;
  updatedAt: Date | string;
}

export interface TimelineEntry {
  orderId: string;
  version: number;
  type: string;
  at: Date | string;
  description: string;
  cursor: string;
}

interface OrderRow {
  id: string;
  order_seq: number;
  order_number: string;
  customer_id: string;
  customer_name: string | null;
  customer_email: string | null;
  customer_phone: string | null;
  status: OrderStatus;
  total_amount: number;
  currency: string;
  item_count: number;
  items: OrderLine[];
  shipping_address: Address;
  billing_address: Address;
  shipping_method: ShippingMethod;
  estimated_delivery: CalendarDate | null;
  payment: PaymentView | null;
  shipment: ShipmentView | null;
  created_at: Date | string;
  updated_at: Date | string;
  version: number;
}

const ORDER_COLUMNS: readonly Column[] = [
  ['id', 'text'],
  ['order_seq', 'int8'],
  ['order_number', 'text'],
  ['customer_id', 'text'],
  ['customer_name', 'text'],
  ['customer_email', 'text'],
  ['customer_phone', 'text'],
  ['status', 'text'],
  ['total_amount', 'int8'],
  ['currency', 'text'],
  ['item_count', 'int4'],
  ['items', 'jsonb'],
  ['shipping_address', 'jsonb'],
  ['billing_address', 'jsonb'],
  ['shipping_method', 'text'],
  ['estimated_delivery', 'text'],
  ['payment', 'jsonb'],
  ['shipment', 'jsonb'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
  ['version', 'int4'],
];

const TIMELINE_COLUMNS: readonly Column[] = [
  ['order_id', 'text'],
  ['stream_id', 'text'],
  ['position', 'int8'],
  ['version', 'int4'],
  ['type', 'text'],
  ['at', 'timestamptz'],
  ['description', 'text'],
  ['cursor', 'text'],
];

interface LookupCustomer {
  id: string;
  name: string;
  email: string;
  phone: string;
  version: number;
}

const CUSTOMER_COLUMNS: readonly Column[] = [
  ['id', 'text'],
  ['name', 'text'],
  ['email', 'text'],
  ['phone', 'text'],
  ['version', 'int4'],
];

const units = (items: readonly OrderLine[]): number => items.reduce((n, l) => n + l.quantity, 0);

/** What folding an `OrderCreated` needs: the lookups of its batch. */
interface OrderLookups {
  /** The next order number, in commit order. */
  seq: () => number;
  customer: (id: string) => LookupCustomer | undefined;
}

/** The row an order's `OrderCreated` makes (the fold sets `version`). */
function createdRow(
  lookups: OrderLookups,
  { data: d }: EventOf<OrderEvent, 'OrderCreated'>,
): Omit<OrderRow, 'version'> {
  const seq = lookups.seq();
  const c = lookups.customer(d.customerId);
  return {
    id: d.orderId,
    order_seq: seq,
    order_number: formatOrderNumber(seq),
    customer_id: d.customerId,
    customer_name: c?.name ?? null,
    customer_email: c?.email ?? null,
    customer_phone: c?.phone ?? null,
    status: 'PENDING',
    total_amount: d.total.amount,
    currency: d.total.currency,
    item_count: units(d.items),
    items: d.items,
    shipping_address: d.shippingAddress,
    billing_address: d.billingAddress,
    shipping_method: d.shippingMethod,
    estimated_delivery: null,
    payment: null,
    shipment: null,
    created_at: d.createdAt,
    updated_at: d.createdAt,
  };
}

/** An order's events after its `OrderCreated`. */
type LaterOrderEvent = Exclude<OrderEvent, { type: 'OrderCreated' }>;

/**
 * The columns each later order event (newer than the row) changes, given the row; the
 * fold sets `updated_at` (the event's time) and `version`, and copies the row once.
 */
const orderChanges: EventFolds<LaterOrderEvent, OrderRow, Partial<OrderRow>> = {
  OrderItemAdded: (row, ev) => {
    const items = [...row.items, ev.data.item];
    return { items, item_count: units(items), total_amount: ev.data.total.amount };
  },
  OrderItemRemoved: (row, ev) => {
    const items = row.items.filter((l) => l.productId !== ev.data.productId);
    return { items, item_count: units(items), total_amount: ev.data.total.amount };
  },
  OrderShippingAddressChanged: (_row, ev) => ({ shipping_address: ev.data.shippingAddress }),
  OrderBillingAddressChanged: (_row, ev) => ({ billing_address: ev.data.billingAddress }),
  OrderPaid: (_row, { data: d }) => ({
    status: 'PAID',
    payment: {
      paymentId: d.paymentId,
      status: 'PAID',
      amount: d.amount,
      method: d.method,
      transactionId: d.transactionId,
      paidAt: d.paidAt,
    },
    estimated_delivery: d.estimatedDelivery,
  }),
  OrderReadyToShip: () => ({}),
  OrderShipped: (row, ev) => ({
    status: 'SHIPPED',
    shipment: {
      carrier: ev.data.carrier,
      trackingNumber: ev.data.trackingNumber,
      status: 'SHIPPED',
    },
    estimated_delivery: ev.data.estimatedDelivery ?? row.estimated_delivery,
  }),
  OrderPaymentRefunded: (row, ev) => {
    if (!row.payment) throw new Error(`refund of order ${ev.data.orderId}, which was never paid`);
    return { payment: { ...row.payment, status: 'REFUNDED' } };
  },
  OrderCancelled: () => ({ status: 'CANCELLED', estimated_delivery: null }),
};

/** What each customer event makes of the projection's customer lookup (the fold sets `version`). */
const customerLookupFolds: EventFolds<
  CustomerEvent,
  LookupCustomer | undefined,
  Omit<LookupCustomer, 'version'>
> = {
  CustomerRegistered: (_c, { data: { customerId: id, name, email, phone } }) => ({
    id,
    name,
    email,
    phone,
  }),
  CustomerEmailChanged: (c, ev) => {
    if (!c) throw new Error(`email change of customer ${ev.data.customerId}, not registered`);
    return { ...c, email: ev.data.email };
  },
};

/**
 * What a fulfillment milestone does to `order_list` besides its timeline line (which every
 * milestone gets); null for none. A delivery is a fact of the shipment stream, not of the
 * order's: it only marks the shipment delivered, after the batch's own writes.
 */
const milestoneFolds: EventHandlers<FulfillmentMilestone, { delivered: string[] }, void> = {
  StockReservationCompleted: null,
  StockShortageDetected: null,
  StockReleasedForItem: null,
  FulfillmentCompleted: null,
  FulfillmentCancelled: null,
  FulfillmentFailed: null,
  FulfillmentFlaggedLate: null,
  ShipmentCreated: null,
  ShipmentDispatched: null,
  ShipmentDelivered: (batch, ev) => {
    batch.delivered.push(ev.data.orderId);
  },
  ShipmentCancelled: null,
};

/** A row of `order_timeline`: the event's line, and where the event stands in the log. */
function timelineRow(e: StoredEvent, isOrderEvent: boolean): Record<string, unknown> {
  const line = timelineLine(e, isOrderEvent);
  return {
    order_id: line.orderId,
    stream_id: e.streamId,
    position: e.globalPosition,
    version: e.version,
    type: e.type,
    at: line.at,
    description: line.description,
    cursor: e.cursor,
  };
}

export const ordersProjection: Projection = {
  name: ORDERS_PROJECTION,
  // 2: the timeline also holds fulfillment milestones (stream_id, position).
  // 3: a delivered shipment shows as DELIVERED.
  // 4: billing address, shipping method, delivery estimate, payment method and time.
  version: 4,
  tables: [
    {
      name: 'order_list',
      ddl: (t) =>
        ddlBlock(
          `CREATE TABLE ${t} (
            id text PRIMARY KEY,
            order_seq bigint NOT NULL UNIQUE,
            order_number text NOT NULL UNIQUE,
            customer_id text NOT NULL,
            customer_name text,
            customer_email text,
            customer_phone text,
            status text NOT NULL,
            total_amount bigint NOT NULL,
            currency text NOT NULL,
            item_count integer NOT NULL,
            items jsonb NOT NULL,
            shipping_address jsonb NOT NULL,
            billing_address jsonb NOT NULL,
            shipping_method text NOT NULL,
            -- YYYY-MM-DD as text: pg would turn a date into a Date at local midnight.
            estimated_delivery text,
            payment jsonb,
            shipment jsonb,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL
          )`,
          // Newest first is order_seq DESC: the UNIQUE index serves the unfiltered list.
          `CREATE INDEX ${t}_customer_idx ON ${t} (customer_id, order_seq)`,
          `CREATE INDEX ${t}_status_idx ON ${t} (status, order_seq)`,
          `CREATE INDEX ${t}_created_idx ON ${t} (created_at)`,
        ),
    },
    {
      name: 'order_timeline',
      ddl: (t) =>
        `CREATE TABLE ${t} (
          order_id text NOT NULL,
          stream_id text NOT NULL,
          position bigint NOT NULL,
          version integer NOT NULL,
          type text NOT NULL,
          at timestamptz NOT NULL,
          description text NOT NULL,
          cursor text NOT NULL,
          PRIMARY KEY (order_id, stream_id, version)
        )`,
    },
    {
      name: 'order_list_customers',
      ddl: (t) =>
        `CREATE TABLE ${t} (
          id text PRIMARY KEY,
          name text NOT NULL,
          email text NOT NULL,
          phone text NOT NULL,
          version integer NOT NULL
        )`,
    },
  ],
  eventTypes: [...orderEventTypes, ...customerEventTypes, ...fulfillmentTimelineEventTypes],
  async apply(tx, events, table) {
    const write = await foldOrders(tx, events, table);
    await write(tx);
  },
  build: () => ordersBuildRun(),
};

/** A build run of the orders projection (see `Projection.build`), holding about `keep` rows. */
export function ordersBuildRun(keep = BUILD_KEEP_ROWS): ProjectionBuildRun {
  const state: BuildState = {
    orders: new Map(),
    customers: new Map(),
    seq: undefined,
    batch: 0,
    heldSince: new Map(),
  };
  return { fold: (q, events, table) => foldOrders(q, events, table, state, keep) };
}

/**
 * What a run of batches that builds a generation keeps from one batch to the next
 * (`ordersProjection.build`, ADR 13): every row it wrote or read, so that the next batch
 * folds without reading them back (it is folded while the last one is still being
 * written, so the database would not show that batch's rows yet).
 */
interface BuildState {
  orders: Map<string, OrderRow>;
  customers: Map<string, LookupCustomer>;
  /** The last order number given, once known. */
  seq: number | undefined;
  /** The number of the batch being folded: 1, 2, … */
  batch: number;
  /** The last batch that read or changed each row held (`o:<id>`, `c:<id>`). */
  heldSince: Map<string, number>;
}

/**
 * Rows kept by a build run beyond which those that batches already committed changed are
 * forgotten (they are read back if needed): about 40 MB of orders.
 */
export const BUILD_KEEP_ROWS = 25_000;

/**
 * Over `keep` rows, forgets those no batch since the one before the last touched: the
 * last batch may still be being written, the ones before it have committed, so the
 * database shows what they did to the rows forgotten.
 */
function forgetCommitted(state: BuildState, keep: number): void {
  if (state.orders.size + state.customers.size <= keep) return;
  for (const [key, batch] of state.heldSince) {
    if (batch >= state.batch - 1) continue;
    state.heldSince.delete(key);
    if (key.startsWith('o:')) state.orders.delete(key.slice(2));
    else state.customers.delete(key.slice(2));
  }
}

/**
 * Folds a batch of the orders projection and returns its writes. Without `state` (apply):
 * the rows the batch touches are read through `q`, the batch's own transaction. With it (a
 * build run): rows the state holds are taken from it, and everything the batch changes
 * stays in it, in memory as in the table.
 */
async function foldOrders(
  q: Queryable,
  events: StoredEvent[],
  table: (name: string) => string,
  state?: BuildState,
  keep = BUILD_KEEP_ROWS,
): Promise<Write> {
  const orderTable = table('order_list');
  const timelineTable = table('order_timeline');
  const customerTable = table('order_list_customers');
  if (state) {
    state.batch++;
    forgetCommitted(state, keep);
  }

  const orderEvents = events.flatMap((e) => domainEvent(e, orderEventTypes) ?? []);
  const customerIds = new Set(
    events.flatMap((e) => domainEvent(e, customerEventTypes)?.data.customerId ?? []),
  );
  let creates = 0;
  for (const ev of orderEvents) {
    if (ev.type !== 'OrderCreated') continue;
    customerIds.add(ev.data.customerId);
    creates++;
  }
  const orderIds = new Set(orderEvents.map((ev) => ev.data.orderId));
  // A build run also holds the orders whose shipment this batch marks delivered: the
  // database will not show the mark to the next batch until this one commits.
  if (state) {
    for (const e of events) {
      const m = domainEvent(e, fulfillmentTimelineEventTypes);
      if (m?.type === 'ShipmentDelivered') orderIds.add(m.data.orderId);
    }
  }

  // Load: the orders and customers this batch touches (those not held), and the last
  // order number given.
  const orders = state?.orders ?? new Map<string, OrderRow>();
  const customers = state?.customers ?? new Map<string, LookupCustomer>();
  const customerRows = await loadByIds<LookupCustomer>(
    q,
    customerTable,
    [...customerIds].filter((id) => !customers.has(id)),
  );
  for (const r of customerRows) customers.set(r.id, r);
  const orderRows = await loadByIds<OrderRow>(
    q,
    orderTable,
    [...orderIds].filter((id) => !orders.has(id)),
  );
  for (const r of orderRows) {
    // A customer changed by the batch being written is not in its orders' copies yet.
    const c = state ? customers.get(r.customer_id) : undefined;
    orders.set(
      r.id,
      c ? { ...r, customer_name: c.name, customer_email: c.email, customer_phone: c.phone } : r,
    );
  }
  let seq =
    creates === 0
      ? (state?.seq ?? 0)
      : (state?.seq ??
        (
          await q.query<{ n: number }>(
            `SELECT coalesce(max(order_seq), 0)::int8 AS n FROM ${orderTable}`,
          )
        ).rows[0]?.n ??
        0);

  // Fold, in commit order.
  const changedOrders = new Set<string>();
  const changedCustomers = new Set<string>();
  const timeline: Record<string, unknown>[] = [];
  const milestones = { delivered: [] as string[] };
  const lookups = { seq: () => ++seq, customer: (id: string) => customers.get(id) };
  for (const e of events) {
    const order = domainEvent(e, orderEventTypes);
    if (order) {
      const row = orders.get(order.data.orderId);
      // Idempotent per row: an event at or below the row's version was applied already.
      if (row && e.version <= row.version) continue;
      if (order.type === 'OrderCreated') {
        orders.set(order.data.orderId, { ...createdRow(lookups, order), version: e.version });
      } else {
        if (!row)
          throw new Error(`${order.type} for order ${order.data.orderId}, which was never created`);
        orders.set(order.data.orderId, {
          ...row,
          ...handleEvent(orderChanges, row, order),
          updated_at: orderEventTime(order),
          version: e.version,
        });
      }
      changedOrders.add(order.data.orderId);
      timeline.push(timelineRow(e, true));
      continue;
    }
    const milestone = domainEvent(e, fulfillmentTimelineEventTypes);
    if (milestone) {
      // A milestone of the order's fulfillment (process or shipment stream): a line on
      // its timeline, idempotent per (stream, version).
      timeline.push(timelineRow(e, false));
      handleEvent(milestoneFolds, milestones, milestone);
      continue;
    }
    const customer = domainEvent(e, customerEventTypes);
    if (!customer) continue;
    const c = customers.get(customer.data.customerId);
    if (c && e.version <= c.version) continue;
    const next = handleEvent(customerLookupFolds, c, customer);
    customers.set(next.id, { ...next, version: e.version });
    changedCustomers.add(customer.data.customerId);
  }
  const { delivered } = milestones;
  if (state) {
    if (creates > 0) state.seq = seq;
    // What the statements below do to the table, done to the rows held as well.
    for (const id of delivered) {
      const row = orders.get(id);
      if (row?.shipment)
        orders.set(id, { ...row, shipment: { ...row.shipment, status: 'DELIVERED' } });
    }
    if (changedCustomers.size > 0) {
      for (const [id, row] of orders) {
        if (!changedCustomers.has(row.customer_id)) continue;
        const c = customers.get(row.customer_id)!;
        orders.set(id, {
          ...row,
          customer_name: c.name,
          customer_email: c.email,
          customer_phone: c.phone,
        });
        state.heldSince.set(`o:${id}`, state.batch);
      }
    }
    for (const id of orderIds) state.heldSince.set(`o:${id}`, state.batch);
    for (const id of customerIds) state.heldSince.set(`c:${id}`, state.batch);
  }

  // Write back: one statement per table, serialized now (a timestamp read back as a Date
  // serializes as its ISO string, like those the events carry).
  const writeOrders = upsertWrite(
    orderTable,
    ORDER_COLUMNS,
    [...changedOrders].map((id) => orders.get(id)!),
    { key: ['id'], newerOnly: true, keep: ['order_seq', 'order_number'] },
  );
  const writeTimeline = insertWrite(timelineTable, TIMELINE_COLUMNS, timeline, [
    'order_id',
    'stream_id',
    'version',
  ]);
  const writeCustomers = upsertWrite(
    customerTable,
    CUSTOMER_COLUMNS,
    [...changedCustomers].map((id) => customers.get(id)!),
    { key: ['id'], newerOnly: true },
  );
  const changed = [...changedCustomers];
  return async (tx) => {
    await writeOrders(tx);
    await writeTimeline(tx);
    // A delivery is a fact of the shipment stream, not of the order's: it changes only the
    // shipment's status (after this batch's own writes, which hold any OrderShipped).
    if (delivered.length > 0) {
      await tx.query(
        `UPDATE ${orderTable}
         SET shipment = jsonb_set(shipment, '{status}', '"DELIVERED"')
         WHERE id = ANY($1::text[]) AND shipment IS NOT NULL`,
        [delivered],
      );
    }
    if (changed.length > 0) {
      await writeCustomers(tx);
      // The copies in the orders of customers whose details changed (an e-mail change).
      await tx.query(
        `UPDATE ${orderTable} o
         SET customer_name = c.name, customer_email = c.email, customer_phone = c.phone
         FROM ${customerTable} c
         WHERE c.id = ANY($1::text[]) AND o.customer_id = c.id
           AND (o.customer_name, o.customer_email, o.customer_phone)
               IS DISTINCT FROM (c.name, c.email, c.phone)`,
        [changed],
      );
    }
  };
}

// ---------------------------------------------------------------------------------------
// Reads (the views `order_list` and `order_timeline` only)

const ORDER_SELECT = `SELECT id, order_seq, order_number, customer_id, customer_name, customer_email,
  customer_phone, status, total_amount, currency, item_count, items, shipping_address,
  billing_address, shipping_method, estimated_delivery, payment, shipment, created_at, updated_at,
  version FROM order_list`;

function toReadModel(r: OrderRow): OrderReadModel {
  return {
    id: r.id,
    seq: r.order_seq,
    orderNumber: r.order_number,
    status: r.status,
    customerId: r.customer_id,
    customerName: r.customer_name,
    customerEmail: r.customer_email,
    customerPhone: r.customer_phone,
    items: r.items,
    itemCount: r.item_count,
    total: { amount: r.total_amount, currency: r.currency },
    shippingAddress: r.shipping_address,
    billingAddress: r.billing_address,
    shippingMethod: r.shipping_method,
    estimatedDelivery: r.estimated_delivery,
    payment: r.payment,
    shipment: r.shipment,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function ordersByIds(
  db: Queryable,
  ids: readonly string[],
): Promise<OrderReadModel[]> {
  const r = await db.query<OrderRow>(`${ORDER_SELECT} WHERE id = ANY($1::text[])`, [ids]);
  return r.rows.map(toReadModel);
}

/** What a list of orders may be narrowed by (the API's `OrderFilter`). */
export interface OrderListFilter {
  customerId?: string | null | undefined;
  status?: OrderStatus | null | undefined;
  /** Case-insensitive substring of the customer's e-mail, taken literally. */
  customerEmail?: string | null | undefined;
  /** Total at least this many minor units (whatever the currency). */
  minAmount?: number | null | undefined;
  /** Created at or after (inclusive). */
  createdFrom?: Date | null | undefined;
  /** Created before (exclusive). */
  createdTo?: Date | null | undefined;
}

function whereClause(f: OrderListFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (f.customerId != null) add((p) => `customer_id = ${p}::text`, f.customerId.toLowerCase());
  if (f.status != null) add((p) => `status = ${p}::text`, f.status);
  // position() matches the text itself: no LIKE wildcards, no regular expression.
  if (f.customerEmail != null && f.customerEmail !== '')
    add((p) => `position(lower(${p}::text) in lower(customer_email)) > 0`, f.customerEmail);
  if (f.minAmount != null) add((p) => `total_amount >= ${p}::int8`, f.minAmount);
  if (f.createdFrom != null) add((p) => `created_at >= ${p}::timestamptz`, f.createdFrom);
  if (f.createdTo != null) add((p) => `created_at < ${p}::timestamptz`, f.createdTo);
  return where;
}

/**
 * A page of orders, newest first (by commit order of their creation), after the order
 * with `afterSeq`; `limit + 1` rows tell whether there is more. Keyset pagination: stable
 * while orders are added (new ones come before the first page, never inside a walk).
 */
export async function ordersPage(
  db: Queryable,
  filter: OrderListFilter,
  o: { limit: number; afterSeq?: number | undefined },
): Promise<{ rows: OrderReadModel[]; hasNextPage: boolean }> {
  const params: unknown[] = [o.limit + 1];
  const where = whereClause(filter, params);
  if (o.afterSeq !== undefined) {
    params.push(o.afterSeq);
    where.push(`order_seq < $${params.length}::int8`);
  }
  const r = await db.query<OrderRow>(
    `${ORDER_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY order_seq DESC LIMIT $1`,
    params,
  );
  return {
    rows: r.rows.slice(0, o.limit).map(toReadModel),
    hasNextPage: r.rows.length > o.limit,
  };
}

export async function countOrders(db: Queryable, filter: OrderListFilter): Promise<number> {
  const params: unknown[] = [];
  const where = whereClause(filter, params);
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int8 AS n FROM order_list ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
    params,
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * The orders of `ids` each with its timeline, oldest first, in one statement: what an
 * order's page asks for, at the cost of one round trip instead of two.
 */
export async function ordersWithTimelinesByIds(
  db: Queryable,
  ids: readonly string[],
): Promise<{ order: OrderReadModel; timeline: TimelineEntry[] }[]> {
  const r = await db.query<
    OrderRow & {
      timeline: {
        version: number;
        type: string;
        at: string;
        description: string;
        cursor: string;
      }[];
    }
  >(
    `SELECT o.*, coalesce((
       SELECT json_agg(json_build_object('version', t.version, 'type', t.type, 'at', t.at,
                'description', t.description, 'cursor', t.cursor) ORDER BY t.position)
       FROM order_timeline t WHERE t.order_id = o.id), '[]') AS timeline
     FROM (${ORDER_SELECT} WHERE id = ANY($1::text[])) o`,
    [ids],
  );
  return r.rows.map((row) => ({
    order: toReadModel(row),
    timeline: row.timeline.map((x) => ({ orderId: row.id, ...x })),
  }));
}

/** The timeline entries of the orders of `ids`, oldest first. */
export async function timelinesByOrderIds(
  db: Queryable,
  ids: readonly string[],
): Promise<TimelineEntry[]> {
  const r = await db.query<{
    order_id: string;
    version: number;
    type: string;
    at: Date;
    description: string;
    cursor: string;
  }>(
    `SELECT order_id, version, type, at, description, cursor FROM order_timeline
     WHERE order_id = ANY($1::text[]) ORDER BY order_id, position`,
    [ids],
  );
  return r.rows.map((x) => ({
    orderId: x.order_id,
    version: x.version,
    type: x.type,
    at: x.at,
    description: x.description,
    cursor: x.cursor,
  }));
}

/**
 * Order numbers as people type them: `SO-` in any case, then the digits exactly as
 * {@link formatOrderNumber} prints them (six, zero-padded, or more without a leading zero).
 * `SO-42` and `SO-0000042` are not taken for `SO-000042`: a number with digits missing or
 * extra is more likely mistyped than meant, and the one spelling is what the unique
 * `order_number` finds.
 */
const ORDER_NUMBER = /^SO-(\d{6}|[1-9]\d{6,})$/i;

/** The canonical order number `text` spells (`so-000042` → `SO-000042`); null if none. */
export function orderNumberOf(text: string): string | null {
  const digits = ORDER_NUMBER.exec(text)?.[1];
  return digits === undefined ? null : `SO-${digits}`;
}

/** The orders with these canonical numbers (`order_number` is unique). */
export async function ordersByNumbers(
  db: Queryable,
  numbers: readonly string[],
): Promise<OrderReadModel[]> {
  const r = await db.query<OrderRow>(`${ORDER_SELECT} WHERE order_number = ANY($1::text[])`, [
    numbers,
  ]);
  return r.rows.map(toReadModel);
}
