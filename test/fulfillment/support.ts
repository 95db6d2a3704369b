import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { productDecider, productStreamId } from '../../src/catalog/decider.js';
import type { CommandHandler } from '../../src/commands/handler.js';
import type { Queryable } from '../../src/db/types.js';
import { shipmentIdFor } from '../../src/fulfillment/ids.js';
import {
  fulfillmentDecider,
  pendingCommands,
  type FulfillmentState,
} from '../../src/fulfillment/process.js';
import { orderDecider, orderStreamId, type OrderState } from '../../src/orders/decider.js';
import type { TestApp } from '../support/app.js';
import { PAY_ORDER } from '../support/seed.js';
import { fulfillmentStreamId } from '../../src/fulfillment/events.js';

/*
 * Shared by the fulfillment load and crash tests: a seeded plan of products and orders,
 * seeding it through the API, waiting for every process to settle, and the invariants
 * that must hold afterwards, read from the event store.
 */

export { seededRandom } from '../support/random.js';

/** The seed of a run: STRATA_TEST_SEED when given (to replay a failure), else random. */
export const runSeed = (): number =>
  process.env.STRATA_TEST_SEED
    ? Number(process.env.STRATA_TEST_SEED)
    : Math.floor(Math.random() * 2 ** 31);

export interface PlannedProduct {
  id: string;
  name: string;
  stock: number;
  scarce: boolean;
}

export interface PlannedOrder {
  id: string;
  /** Index into the customers. */
  customer: number;
  items: { productId: string; quantity: number }[];
}

export interface Plan {
  products: PlannedProduct[];
  orders: PlannedOrder[];
}

/**
 * Products and orders of 1–3 distinct products, 1–3 units each. Product ids are sorted so
 * that the scarce products can be placed among the others in reservation order (the
 * process reserves in product-id order): a scarce product after a plentiful one in an
 * order makes a partial reservation that has to be released. A scarce product holds
 * 30–60 % of what the orders ask of it, so some orders are short whatever the
 * interleaving; a plentiful one holds all of it.
 */
export function makePlan(
  random: () => number,
  options: { products: number; orders: number; customers: number; scarce: readonly number[] },
): Plan {
  const ids = Array.from({ length: options.products }, () => randomUUID()).sort();
  const orders: PlannedOrder[] = Array.from({ length: options.orders }, (_, n) => {
    const count = 1 + Math.floor(random() * 3);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(count, ids.length)) chosen.add(Math.floor(random() * ids.length));
    return {
      id: randomUUID(),
      customer: n % options.customers,
      items: [...chosen].map((p) => ({
        productId: ids[p]!,
        quantity: 1 + Math.floor(random() * 3),
      })),
    };
  });
  const demand = new Map<string, number>();
  for (const o of orders)
    for (const i of o.items) demand.set(i.productId, (demand.get(i.productId) ?? 0) + i.quantity);
  const products = ids.map((id, rank) => {
    const scarce = options.scarce.includes(rank);
    const wanted = demand.get(id) ?? 0;
    const stock = scarce ? Math.max(1, Math.floor(wanted * (0.3 + random() * 0.3))) : wanted;
    return { id, name: `Product ${rank}`, stock, scarce };
  });
  return { products, orders };
}

/** Runs `fn` over `items`, at most `concurrency` at a time. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

async function must(
  s: TestApp,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  field: string,
): Promise<any> {
  const r = await s.graphql<any>(query, variables, headers);
  const v = r.body.data?.[field];
  if (!v || !String(v.__typename).endsWith('Success'))
    throw new Error(`${field} failed: ${JSON.stringify(r.body)}`);
  return v;
}

const REGISTER_PRODUCT = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { code message } } }`;
const REGISTER_CUSTOMER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on RegisterCustomerSuccess { customer { id } } ... on Error { code message } } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { order { id total { amount currency } } } ... on Error { code message } } }`;

export interface SeededOrder extends PlannedOrder {
  total: { amount: number; currency: string };
  headers: Record<string, string>;
}

/** Registers the plan's products and customers and creates its orders (PENDING), over HTTP. */
export async function seedPlan(
  s: TestApp,
  plan: Plan,
  customers: number,
  concurrency = 8,
): Promise<SeededOrder[]> {
  const admin = await s.auth({ role: 'admin' });
  await inParallel(plan.products, concurrency, (p) =>
    must(
      s,
      REGISTER_PRODUCT,
      {
        i: {
          commandId: randomUUID(),
          id: p.id,
          name: p.name,
          imageUrl: 'https://img.example/p.png',
          price: { amount: 500, currency: 'EUR' },
          initialStock: p.stock,
        },
      },
      admin,
      'registerProduct',
    ),
  );
  const people = await inParallel(
    Array.from({ length: customers }, (_, n) => n),
    concurrency,
    async (n) => {
      const id = randomUUID();
      await must(
        s,
        REGISTER_CUSTOMER,
        {
          i: {
            commandId: randomUUID(),
            id,
            name: `Buyer ${n}`,
            email: `buyer-${id}@example.org`,
            phone: '+49 30 1234',
          },
        },
        admin,
        'registerCustomer',
      );
      return s.auth({ role: 'customer', customerId: id }).then((h) => ({ id, headers: h }));
    },
  );
  return inParallel(plan.orders, concurrency, async (o) => {
    const c = people[o.customer]!;
    const r = await must(
      s,
      CREATE_ORDER,
      {
        i: {
          commandId: randomUUID(),
          id: o.id,
          customerId: c.id,
          items: o.items,
          shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      c.headers,
      'createOrder',
    );
    return { ...o, total: r.order.total, headers: c.headers };
  });
}

/** Pays one order (payOrder over HTTP). */
export const pay = (s: TestApp, o: SeededOrder) =>
  must(
    s,
    PAY_ORDER,
    {
      i: { commandId: randomUUID(), orderId: o.id, paymentId: `pay-${o.id}`, amount: o.total },
    },
    o.headers,
    'payOrder',
  );

/**
 * Whether a process is at rest for good in this test: ready to ship with its shipment
 * created and the order marked, or cancelled; nothing sent and unanswered.
 */
export function isSettled(state: FulfillmentState): boolean {
  if (state.status === 'NOT_STARTED' || pendingCommands(state).length > 0) return false;
  if (state.status === 'CANCELLED') return true;
  return state.status === 'READY_TO_SHIP' && state.shipment === 'CREATED' && state.orderReadyToShip;
}

export const loadProcess = async (
  commands: CommandHandler,
  orderId: string,
): Promise<FulfillmentState> =>
  (await commands.load(fulfillmentDecider, fulfillmentStreamId(orderId))).state;

/** How many of the orders' processes are settled. */
export async function countSettled(commands: CommandHandler, orderIds: readonly string[]) {
  const states = await inParallel(orderIds, 8, (id) => loadProcess(commands, id));
  return states.filter(isSettled).length;
}

/** Waits until every order's process is settled; throws with the stragglers after `ms`. */
export async function waitSettled(
  commands: CommandHandler,
  orderIds: readonly string[],
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  let open = [...orderIds];
  for (;;) {
    const states = await inParallel(open, 8, (id) => loadProcess(commands, id));
    open = open.filter((_, i) => !isSettled(states[i]!));
    if (open.length === 0) return;
    if (Date.now() > deadline) {
      const sample = await loadProcess(commands, open[0]!);
      throw new Error(
        `${open.length} fulfillment processes not settled after ${ms} ms; e.g. ${open[0]}: ${JSON.stringify(sample).slice(0, 1500)}`,
      );
    }
    await sleep(100);
  }
}

interface LogRow {
  stream_id: string;
  event_type: string;
  data: {
    orderId?: string;
    productId?: string;
    quantity?: number;
    availableAfter?: number;
    shipmentId?: string;
  };
}

/** What the invariants found: for the test's own sanity checks and its log line. */
export interface Outcome {
  ready: string[];
  cancelled: string[];
  /** Cancelled orders that had reserved something first and released it. */
  partiallyReserved: string[];
  /** Per product: units held by ready orders. */
  held: Map<string, number>;
}

const count = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

/**
 * The invariants after every process has settled, read from the event store (and the
 * aggregates folded from it). Throws the first violation as an AssertionError-like Error
 * naming the order or product, so the caller can prefix the seed.
 *  - every paid order is either ready (each item reserved exactly once, never released,
 *    exactly one ShipmentCreated and one OrderReadyToShip, no refund) or cancelled
 *    (refunded exactly once, no shipment, each reservation it made released exactly once,
 *    a shortage recorded);
 *  - per product: at most one StockReserved per order, availability never negative,
 *    reserved − released = what the ready orders hold ≤ the initial stock, and the
 *    aggregate's available count agrees;
 *  - no process failed.
 */
export async function checkInvariants(
  db: Queryable,
  commands: CommandHandler,
  plan: Plan,
): Promise<Outcome> {
  const problems: string[] = [];
  const fail = (m: string) => problems.push(m);
  const rows = (
    await db.query<LogRow>(
      `SELECT stream_id, event_type, data FROM events
       WHERE event_type = ANY($1::text[]) ORDER BY transaction_id, global_position`,
      [
        [
          'StockReserved',
          'StockReleased',
          'OrderPaymentRefunded',
          'OrderCancelled',
          'OrderReadyToShip',
          'ShipmentCreated',
          'FulfillmentFailed',
        ],
      ],
    )
  ).rows;

  const key = (orderId: string, productId: string) => `${orderId}/${productId}`;
  const reserved = new Map<string, number>();
  const reservedQty = new Map<string, number>();
  const released = new Map<string, number>();
  const perOrder = new Map<string, Map<string, number>>();
  const net = new Map<string, number>();
  for (const r of rows) {
    const { orderId = '', productId = '', quantity = 0, availableAfter } = r.data;
    if (r.event_type === 'FulfillmentFailed')
      fail(`process of ${orderId} failed: ${JSON.stringify(r.data)}`);
    if (availableAfter !== undefined && availableAfter < 0)
      fail(`product ${productId} went below zero (${availableAfter}) for order ${orderId}`);
    if (r.event_type === 'StockReserved') {
      count(reserved, key(orderId, productId));
      reservedQty.set(key(orderId, productId), quantity);
      net.set(productId, (net.get(productId) ?? 0) + quantity);
    } else if (r.event_type === 'StockReleased') {
      count(released, key(orderId, productId));
      net.set(productId, (net.get(productId) ?? 0) - quantity);
    } else {
      const m = perOrder.get(orderId) ?? new Map<string, number>();
      perOrder.set(orderId, count(m, r.event_type));
    }
  }
  for (const [k, n] of reserved) if (n > 1) fail(`stock reserved ${n} times for ${k}`);
  for (const [k, n] of released) if (n > 1) fail(`stock released ${n} times for ${k}`);

  const outcome: Outcome = { ready: [], cancelled: [], partiallyReserved: [], held: new Map() };
  const states = await inParallel(plan.orders, 8, async (o) => ({
    process: await loadProcess(commands, o.id),
    order: (await commands.load(orderDecider, orderStreamId(o.id))).state as OrderState,
  }));
  plan.orders.forEach((o, n) => {
    const { process, order } = states[n]!;
    const events = perOrder.get(o.id) ?? new Map<string, number>();
    const times = (type: string) => events.get(type) ?? 0;
    const where = `order ${o.id}`;
    if (process.status === 'READY_TO_SHIP') {
      outcome.ready.push(o.id);
      if (!isSettled(process)) fail(`${where}: ready but not settled`);
      if (order.status !== 'PAID' || !order.readyToShip)
        fail(`${where}: process ready, order ${order.status}`);
      else if (order.shipmentId !== shipmentIdFor(o.id))
        fail(`${where}: ready with shipment ${order.shipmentId}`);
      for (const i of o.items) {
        const k = key(o.id, i.productId);
        if (reserved.get(k) !== 1)
          fail(`${where}: ${i.productId} reserved ${reserved.get(k) ?? 0}×`);
        if (reservedQty.get(k) !== i.quantity)
          fail(`${where}: ${i.productId} reserved ${reservedQty.get(k)} units, not ${i.quantity}`);
        if (released.has(k)) fail(`${where}: ready, yet ${i.productId} released`);
        outcome.held.set(i.productId, (outcome.held.get(i.productId) ?? 0) + i.quantity);
      }
      if (times('ShipmentCreated') !== 1)
        fail(`${where}: ${times('ShipmentCreated')} shipments created`);
      if (times('OrderReadyToShip') !== 1)
        fail(`${where}: marked ready ${times('OrderReadyToShip')}×`);
      if (times('OrderPaymentRefunded') || times('OrderCancelled'))
        fail(`${where}: ready, yet refunded or cancelled`);
    } else if (process.status === 'CANCELLED') {
      outcome.cancelled.push(o.id);
      if (!isSettled(process)) fail(`${where}: cancelled but not settled`);
      if (!process.shortage) fail(`${where}: cancelled without a shortage`);
      if (order.status !== 'CANCELLED' || !order.refunded)
        fail(`${where}: process cancelled, order ${order.status}`);
      if (times('OrderPaymentRefunded') !== 1)
        fail(`${where}: refunded ${times('OrderPaymentRefunded')}×`);
      if (times('OrderCancelled') !== 1) fail(`${where}: cancelled ${times('OrderCancelled')}×`);
      if (times('ShipmentCreated') || times('OrderReadyToShip'))
        fail(`${where}: cancelled, yet a shipment was created or the order marked ready`);
      let any = false;
      for (const i of o.items) {
        const k = key(o.id, i.productId);
        const r = reserved.get(k) ?? 0;
        if (r > 0) any = true;
        if ((released.get(k) ?? 0) !== r)
          fail(`${where}: ${i.productId} reserved ${r}×, released ${released.get(k) ?? 0}×`);
      }
      if (process.shortage && reserved.has(key(o.id, process.shortage.productId)))
        fail(`${where}: short of ${process.shortage.productId}, yet it was reserved`);
      if (any) outcome.partiallyReserved.push(o.id);
    } else {
      fail(`${where}: process ended ${process.status}`);
    }
  });
  const planned = new Set(plan.orders.map((o) => o.id));
  for (const k of reserved.keys()) {
    if (!planned.has(k.split('/')[0]!)) fail(`a reservation for an unknown order: ${k}`);
  }

  await inParallel(plan.products, 4, async (p) => {
    const held = outcome.held.get(p.id) ?? 0;
    const reservedNow = net.get(p.id) ?? 0;
    if (reservedNow !== held)
      fail(`product ${p.id}: reserved − released = ${reservedNow}, ready orders hold ${held}`);
    if (held > p.stock) fail(`product ${p.id}: ${held} held of ${p.stock} in stock`);
    const product = (await commands.load(productDecider, productStreamId(p.id))).state;
    if (product.status !== 'REGISTERED') fail(`product ${p.id} not registered`);
    else if (product.available !== p.stock - held)
      fail(`product ${p.id}: available ${product.available}, expected ${p.stock - held}`);
  });
  if (problems.length) throw new Error(problems.slice(0, 20).join('\n'));
  return outcome;
}
