import { createHash, randomUUID } from 'node:crypto';
import type { App } from '../server/app.js';
import { DEV_CUSTOMER_ID } from '../auth/dev.js';
import type { Principal } from '../auth/principal.js';
import { registerProduct, restockProduct } from '../catalog/use-cases.js';
import type { CommandEnvelope } from '../commands/handler.js';
import type { UseCaseDeps } from '../commands/use-case.js';
import { registerCustomer } from '../customers/use-cases.js';
import { toTypedError, TypedError } from '../graphql/errors.js';
import { orderDecider, orderStreamId, type OrderState } from '../orders/decider.js';
import {
  addBusinessDays,
  calendarDate,
  PAYMENT_METHODS,
  SHIPPING_METHODS,
  type PaymentMethod,
  type ShippingMethod,
} from '../orders/delivery.js';
import { cancelOrder, createOrder, payOrder, shipOrder } from '../orders/use-cases.js';
import {
  CANCEL_REASONS,
  CARRIERS,
  COUNTRIES,
  FIRST_NAMES,
  LAST_NAMES,
  LIMITED_PRODUCT,
  PRODUCTS,
  REFUND_REASONS,
  type DemoProduct,
} from './data.js';
import { uuidV5 } from '../shared/uuid.js';

/*
 * The demo data set: customers, a catalogue and orders in every state, made through the
 * use cases the GraphQL mutations run (every rule, every event, the fulfillment process
 * reacting to payments), by the callers a client would use (an admin, each customer, a
 * warehouse service). Everything is derived from the options: the same options give the
 * same ids, command ids and inputs, so running it again replays every command (nothing is
 * written twice) and a larger `orders` adds orders to the set.
 */

/** Namespace of the demo's derived ids. Fixed: changing it makes a second, clashing data set. */
const DEMO_NAMESPACE = '5e3d0b8a-7c1f-4d2e-9a6b-0c4f8e2d1a37';

/**
 * What happens to a demo order after it is created:
 * - `pending`: nothing (awaits payment);
 * - `paid`: paid; fulfillment reserves the stock and makes it ready to ship;
 * - `shipped`: paid, then shipped once ready;
 * - `cancelled`: cancelled by the customer before payment;
 * - `refunded`: paid, then cancelled by the customer (refund, stock released);
 * - `wins-limited`: orders the whole stock of the limited product, is paid first (its
 *   reservation succeeds) and shipped;
 * - `short-stock`: orders the same units while they are still available (so the check at
 *   ordering passes), is paid second: the reservation is refused, and fulfillment refunds
 *   and cancels it — the race the stock check cannot prevent.
 */
export type DemoFate =
  'pending' | 'paid' | 'shipped' | 'cancelled' | 'refunded' | 'wins-limited' | 'short-stock';

/** The mix of fates, repeated every 20 orders: any 20 consecutive orders hold every fate. */
// prettier-ignore
const FATE_CYCLE: readonly DemoFate[] = [
  'shipped', 'pending', 'paid', 'shipped', 'cancelled', 'wins-limited', 'short-stock', 'paid',
  'shipped', 'pending', 'refunded', 'shipped', 'paid', 'pending', 'shipped', 'cancelled',
  'shipped', 'paid', 'pending', 'shipped',
];

export const SEED_LIMITS = { customers: { min: 1, max: 1_000 }, orders: { min: 1, max: 2_000 } };

export interface SeedOptions {
  /** Customers to register (default 20); the first is the development customer. */
  customers?: number;
  /** Orders to create (default 300). */
  orders?: number;
  /** Seed of the pseudo-random choices (default 1): another seed, another data set. */
  seed?: number;
  /** Called after every step; `total` is known from the start. */
  onProgress?: (progress: { done: number; total: number; step: string }) => void;
  /** How long to wait for the fulfillment process to settle an order (default 60 s). */
  settleTimeoutMs?: number;
}

export interface SeedResult {
  customers: number;
  products: number;
  orders: number;
  /** Orders per fate, as planned. */
  fates: Record<DemoFate, number>;
  /** Orders per status at the end, as the write model has them. */
  statuses: Record<OrderStatus, number>;
}

type OrderStatus = Exclude<OrderState['status'], 'NOT_CREATED'>;

/** A demo command was refused: the database holds data the demo's commands conflict with. */
export class SeedError extends Error {
  override name = 'SeedError';
}

interface PlannedCustomer {
  id: string;
  name: string;
  email: string;
  phone: string;
  address: { line1: string; city: string; postalCode: string; country: string };
}

interface PlannedOrder {
  index: number;
  id: string;
  customer: PlannedCustomer;
  fate: DemoFate;
  items: { productId: string; quantity: number }[];
  shippingAddress: PlannedCustomer['address'];
  /** Null: billed where it ships. */
  billingAddress: PlannedCustomer['address'] | null;
  shippingMethod: ShippingMethod;
  paymentMethod: PaymentMethod;
  /** The payment provider's reference; none for invoices. */
  transactionId: string | null;
  paymentId: string;
  carrier: string;
  trackingNumber: string;
  /** Business days from dispatch that the carrier announces; null when it announces none. */
  carrierDays: number | null;
  reason: string;
}

/**
 * Loads the demo data set into the app's database through the use cases and waits
 * until the fulfillment process has settled every order. The app must run its projections
 * (buildApp does; it need not listen on HTTP).
 */
export async function seedDemo(app: App, options: SeedOptions = {}): Promise<SeedResult> {
  const customerCount = options.customers ?? 20;
  const orderCount = options.orders ?? 300;
  const seed = options.seed ?? 1;
  for (const [name, value] of [
    ['customers', customerCount],
    ['orders', orderCount],
  ] as const) {
    const { min, max } = SEED_LIMITS[name];
    if (!Number.isInteger(value) || value < min || value > max)
      throw new SeedError(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new SeedError('seed must be a whole number ≥ 0');

  const id = (name: string) => uuidV5(DEMO_NAMESPACE, `${seed}:${name}`);
  const products = [...PRODUCTS, LIMITED_PRODUCT].map((p) => ({
    ...p,
    id: id(`product:${p.slug}`),
  }));
  const regular = products.slice(0, PRODUCTS.length);
  const limited = products[products.length - 1]!;
  const customers = Array.from({ length: customerCount }, (_, i) =>
    planCustomer(
      i,
      i === 0 ? DEV_CUSTOMER_ID : id(`customer:${i}`),
      random(`${seed}:customer:${i}`),
    ),
  );
  const orders = Array.from({ length: orderCount }, (_, i) =>
    planOrder(i, id(`order:${i}`), random(`${seed}:order:${i}`), customers, regular, limited),
  );

  const paid = (o: PlannedOrder) => o.fate !== 'pending' && o.fate !== 'cancelled';
  const ships = (o: PlannedOrder) => o.fate === 'shipped' || o.fate === 'wins-limited';
  /** Every race but the first needs the limited stock back: the warehouse restocks it. */
  const restocks = (o: PlannedOrder) => o.fate === 'wins-limited' && o.index >= FATE_CYCLE.length;
  const total =
    customers.length +
    products.length +
    orders.filter(restocks).length +
    orders.reduce(
      (n, o) =>
        n +
        1 +
        (paid(o) ? 1 : 0) +
        (ships(o) || o.fate === 'refunded' || o.fate === 'cancelled' ? 1 : 0),
      0,
    ) +
    orders.length;
  let done = 0;
  const step = (what: string) => options.onProgress?.({ done: ++done, total, step: what });

  const admin: Principal = { userId: 'demo-admin', role: 'admin' };
  const warehouse: Principal = { userId: 'demo-warehouse', role: 'service' };
  const customerPrincipal = (c: PlannedCustomer): Principal => ({
    userId: `demo-customer-${c.id.slice(0, 8)}`,
    role: 'customer',
    customerId: c.id,
  });
  const cmd = (name: string) => id(`command:${name}`);
  const deps: UseCaseDeps = app.services;

  /**
   * Runs one use case as `principal`, with the envelope its mutation would build: the same
   * operation and input (minus the commandId), so the command fingerprints match those of
   * data sets seeded through the GraphQL mutations. A refusal stops the seed.
   */
  async function run<R>(
    principal: Principal,
    operation: string,
    { commandId, ...input }: { commandId: string } & Record<string, unknown>,
    useCase: (envelope: CommandEnvelope) => Promise<R>,
  ): Promise<R> {
    try {
      return await useCase({ commandId, principal, correlationId: randomUUID(), operation, input });
    } catch (err) {
      const typed = toTypedError(err);
      if (!(typed instanceof TypedError))
        throw new SeedError(`${operation} failed: ${(err as Error).message}`);
      throw new SeedError(
        `${operation} was refused: ${typed.name} ${typed.code}: ${typed.message}. ` +
          'If the database holds a demo data set made with other options, seed again with the same options, or into an empty database.',
      );
    }
  }

  const load = async (orderId: string) =>
    (await deps.commands.load(orderDecider, orderStreamId(orderId))).state;

  /** The customer cancels the order (before payment, or after it: a refund). */
  const cancel = (o: PlannedOrder) => {
    const cancellation = { orderId: o.id, reason: o.reason };
    return run(
      customerPrincipal(o.customer),
      'cancelOrder',
      { commandId: cmd(`cancel-order:${o.id}`), ...cancellation },
      (env) => cancelOrder(deps, cancellation, env),
    );
  };

  // Another --customers or --seed gives existing order ids other inputs: refuse before
  // writing anything rather than halfway through.
  for (const o of orders) {
    const state = await load(o.id);
    if (state.status !== 'NOT_CREATED' && state.customerId !== o.customer.id)
      throw new SeedError(
        `The database holds demo order #${o.index + 1} (${o.id}) of another customer: it was seeded with other options. ` +
          'Seed again with the same --customers and --seed, or into an empty database.',
      );
  }

  for (const c of customers) {
    const input = { id: c.id, name: c.name, email: c.email, phone: c.phone };
    await run(
      admin,
      'registerCustomer',
      { commandId: cmd(`register-customer:${c.id}`), ...input },
      (env) => registerCustomer(deps, input, env),
    );
    step('customers');
  }
  for (const p of products) {
    const input = {
      id: p.id,
      name: p.name,
      imageUrl: `https://shop.example.com/images/${p.slug}.jpg`,
      price: { amount: p.price, currency: 'EUR' },
      initialStock: p.stock,
    };
    await run(
      admin,
      'registerProduct',
      { commandId: cmd(`register-product:${p.id}`), ...input },
      (env) => registerProduct(deps, input, env),
    );
    step('products');
  }

  const settleMs = options.settleTimeoutMs ?? 60_000;
  const readyOrDone = (s: OrderState, done: OrderState['status']) =>
    s.status === done || (s.status === 'PAID' && s.readyToShip);

  const pay = async (o: PlannedOrder) => {
    const created = await load(o.id);
    if (created.status === 'NOT_CREATED') throw new SeedError(`order ${o.id} was not created`);
    const payment = {
      orderId: o.id,
      paymentId: o.paymentId,
      amount: created.total,
      method: o.paymentMethod,
      transactionId: o.transactionId,
    };
    await run(
      customerPrincipal(o.customer),
      'payOrder',
      { commandId: cmd(`pay-order:${o.id}`), ...payment },
      (env) => payOrder(deps, payment, env),
    );
    step('payments');
  };

  // Orders are created and paid one by one, in index order: the fulfillment process then
  // meets the payments in the same order on every run. A race for the limited product is
  // the exception: its winner is paid once the loser has ordered too.
  let winner: PlannedOrder | null = null;
  for (const o of orders) {
    if (restocks(o)) {
      const restock = { productId: limited.id, quantity: limited.stock };
      await run(
        admin,
        'restockProduct',
        { commandId: cmd(`restock-limited:${o.index}`), ...restock },
        (env) => restockProduct(deps, restock, env),
      );
      step('restocks');
    }
    const order = {
      id: o.id,
      customerId: o.customer.id,
      items: o.items,
      shippingAddress: o.shippingAddress,
      billingAddress: o.billingAddress,
      shippingMethod: o.shippingMethod,
    };
    await run(
      customerPrincipal(o.customer),
      'createOrder',
      { commandId: cmd(`create-order:${o.id}`), ...order },
      (env) => createOrder(deps, order, env),
    );
    step('orders');
    if (o.fate === 'wins-limited') {
      winner = o;
      continue;
    }
    if (o.fate === 'short-stock' && winner) {
      await pay(winner);
      await settle(load, winner, (s) => readyOrDone(s, 'SHIPPED'), settleMs);
      winner = null;
    }
    if (paid(o)) await pay(o);
    // The loser must have lost before the warehouse restocks for the next race: the
    // fulfillment process works asynchronously, and a late reservation would win.
    if (o.fate === 'short-stock') await settle(load, o, (s) => s.status === 'CANCELLED', settleMs);
    else if (o.fate === 'cancelled') {
      await cancel(o);
      step('cancellations');
    }
  }
  if (winner) await pay(winner);

  // Shipping and refunding wait for the fulfillment process to have reserved the stock,
  // as a warehouse would.
  for (const o of orders) {
    if (ships(o)) {
      const state = await settle(load, o, (s) => readyOrDone(s, 'SHIPPED'), settleMs);
      if (state.status !== 'SHIPPED') {
        // The carrier's estimate counts from today, the day of dispatch.
        const shipment = {
          orderId: o.id,
          carrier: o.carrier,
          trackingNumber: o.trackingNumber,
          estimatedDelivery:
            o.carrierDays === null
              ? null
              : addBusinessDays(calendarDate(deps.now().toISOString()), o.carrierDays),
        };
        await run(
          warehouse,
          'shipOrder',
          { commandId: cmd(`ship-order:${o.id}`), ...shipment },
          (env) => shipOrder(deps, shipment, env),
        );
      }
      step('shipments');
    } else if (o.fate === 'refunded') {
      const state = await settle(load, o, (s) => readyOrDone(s, 'CANCELLED'), settleMs);
      if (state.status !== 'CANCELLED') {
        await cancel(o);
      }
      step('refunds');
    }
  }

  const statuses: SeedResult['statuses'] = { PENDING: 0, PAID: 0, SHIPPED: 0, CANCELLED: 0 };
  const fates = Object.fromEntries(FATE_CYCLE.map((f) => [f, 0])) as Record<DemoFate, number>;
  for (const o of orders) {
    const expected: Record<DemoFate, (s: OrderState) => boolean> = {
      pending: (s) => s.status === 'PENDING',
      paid: (s) => s.status === 'PAID' && s.readyToShip,
      shipped: (s) => s.status === 'SHIPPED',
      'wins-limited': (s) => s.status === 'SHIPPED',
      cancelled: (s) => s.status === 'CANCELLED',
      refunded: (s) => s.status === 'CANCELLED',
      'short-stock': (s) => s.status === 'CANCELLED',
    };
    const state = await settle(load, o, expected[o.fate], settleMs);
    if (state.status !== 'NOT_CREATED') statuses[state.status]++;
    fates[o.fate]++;
    step('fulfillment');
  }
  await caughtUp(app, settleMs);

  return {
    customers: customers.length,
    products: products.length,
    orders: orders.length,
    fates,
    statuses,
  };
}

/** Waits until the order's write-model state satisfies `ok` (the fulfillment process works asynchronously). */
async function settle(
  load: (orderId: string) => Promise<OrderState>,
  order: PlannedOrder,
  ok: (s: OrderState) => boolean,
  timeoutMs: number,
): Promise<OrderState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await load(order.id);
    if (ok(state)) return state;
    if (Date.now() > deadline)
      throw new SeedError(
        `order #${order.index + 1} (${order.id}, to end ${order.fate}) is still ${state.status} after ${timeoutMs} ms: is the fulfillment process running (see "npm run projections -- status")?`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until every projection (and the fulfillment process) has read the whole log. */
async function caughtUp(app: App, timeoutMs: number): Promise<void> {
  for (;;) {
    const head = await app.store.head();
    if (!head) return;
    await app.projections.waitFor(head.cursor, undefined, timeoutMs);
    // Reading the log may have made the fulfillment process append more: go again then.
    if ((await app.store.head())?.cursor === head.cursor) return;
  }
}

// ---------------------------------------------------------------------------------------
// Planning: pure functions of the options

function planCustomer(index: number, id: string, rnd: Random): PlannedCustomer {
  const first = pick(rnd, FIRST_NAMES);
  const last = pick(rnd, LAST_NAMES);
  const country = pick(rnd, COUNTRIES);
  const city = pick(rnd, country.cities);
  const street = pick(rnd, country.streets);
  const number = 1 + Math.floor(rnd() * 120);
  const local = `${ascii(first)}.${ascii(last)}`.replace(/[^a-z.]/g, '');
  return {
    id,
    name: `${first} ${last}`,
    email: `${local}${index + 1}@example.net`,
    phone: `${country.phone} ${digits(rnd, 2)} ${digits(rnd, 3)} ${digits(rnd, 4)}`,
    address: {
      line1: country.numberFirst ? `${number} ${street}` : `${street} ${number}`,
      city: city.name,
      postalCode: city.postalCode,
      country: country.code,
    },
  };
}

function planOrder(
  index: number,
  id: string,
  rnd: Random,
  customers: readonly PlannedCustomer[],
  regular: readonly (DemoProduct & { id: string })[],
  limited: DemoProduct & { id: string },
): PlannedOrder {
  const fate = FATE_CYCLE[index % FATE_CYCLE.length]!;
  const customer = pick(rnd, customers);
  const lines = 1 + Math.floor(rnd() ** 2 * 4); // mostly one or two lines
  const chosen = new Set<(typeof regular)[number]>();
  while (chosen.size < lines) chosen.add(pick(rnd, regular));
  const items = [...chosen].map((p) => ({
    productId: p.id,
    quantity: rnd() < 0.75 ? 1 : 2 + Math.floor(rnd() * 2),
  }));
  // The limited product's whole stock, twice over: the first order to be paid gets it.
  if (fate === 'wins-limited' || fate === 'short-stock')
    items.push({ productId: limited.id, quantity: limited.stock });
  const carrier = pick(rnd, CARRIERS);
  // Most parcels go home; some to a workplace in the same city, billed home.
  const atWork = rnd() >= 0.85;
  const planned = {
    index,
    id,
    customer,
    fate,
    items,
    shippingAddress: atWork
      ? { ...customer.address, line1: `c/o Reception, ${customer.address.line1}` }
      : customer.address,
    paymentId: `pi_${id.replaceAll('-', '').slice(0, 24)}`,
    carrier,
    trackingNumber: `${carrier.slice(0, 2).toUpperCase()}${digits(rnd, 10)}`,
    reason: pick(rnd, fate === 'refunded' ? REFUND_REASONS : CANCEL_REASONS),
  };
  // Drawn after the rest, so that the orders of earlier versions of the demo stay as they were.
  const shippingMethod = pick(rnd, SHIPPING_MIX);
  const paymentMethod = pick(rnd, PAYMENT_MIX);
  const transactionId =
    paymentMethod === 'INVOICE' ? null : `${paymentMethod.slice(0, 2)}-${digits(rnd, 12)}`;
  return {
    ...planned,
    billingAddress: atWork ? customer.address : null,
    shippingMethod,
    paymentMethod,
    transactionId,
    carrierDays: rnd() < 0.5 ? null : 1 + Math.floor(rnd() * 3),
  };
}

/** Mostly STANDARD, as in a real shop; every method appears. */
const SHIPPING_MIX: readonly ShippingMethod[] = [
  ...SHIPPING_METHODS,
  'STANDARD',
  'STANDARD',
  'STANDARD',
];
/** Mostly card; every method appears. */
const PAYMENT_MIX: readonly PaymentMethod[] = [...PAYMENT_METHODS, 'CARD', 'CARD', 'PAYPAL'];

type Random = () => number;

/** A deterministic generator of numbers in [0, 1) (mulberry32), seeded from a name. */
function random(name: string): Random {
  let a = createHash('sha256').update(name).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(rnd: Random, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function digits(rnd: Random, n: number): string {
  return Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
}

/** A name as an e-mail local part: lower case, accents dropped. */
function ascii(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\s+/g, '');
}
