// Child process of bench/fulfillment.ts: the clients, kept out of the server's process so
// that the server's event loop (busy with the process manager, and with the database
// itself on PGlite) does not hold back the clients' clocks. Takes the job as JSON in its
// first argument, seeds orders, pays them from 16 concurrent payers over HTTP while an
// admin follows ShipmentCreated over graphql-ws, and prints one JSON line of timings.
import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface Job {
  url: string;
  adminToken: string;
  /** Registered here, with tokens the server minted for them. */
  customers: { id: string; token: string }[];
  products: number;
  warmup: number;
  orders: number;
  /** Orders paid one at a time after the burst. */
  singles: number;
  payers: number;
  /** Whether to follow ShipmentCreated (the fulfillment process is on). */
  follow: boolean;
  timeoutMs: number;
}

/** Times in ms (performance.now() of this process) per measured order. */
export interface Timing {
  sent: number;
  answered: number;
  /** When its ShipmentCreated reached the subscriber; absent without `follow`. */
  shipped?: number;
}

export interface Report {
  /** When the first measured payOrder was sent. */
  started: number;
  /** When the last measured payOrder response arrived. */
  paid: number;
  burst: Timing[];
  singles: Timing[];
}

interface Order {
  id: string;
  token: string;
  total: { amount: number; currency: string };
}

/** Runs `fn` over `items`, at most `concurrency` at a time. */
async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

async function must(url: string, query: string, variables: unknown, token: string, field: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, any> };
  const v = body.data?.[field];
  if (!v || !String(v.__typename).endsWith('Success'))
    throw new Error(`${field} failed: ${JSON.stringify(body).slice(0, 500)}`);
  return v;
}

const REGISTER_PRODUCT = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { message } } }`;
const REGISTER_CUSTOMER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on Error { message } } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { cursor order { id total { amount currency } } } ... on Error { message } } }`;
const PAY_ORDER = `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on Error { code message } } }`;

/** Products with stock for every order, the customers, and `count` PENDING orders of 1–3 lines. */
async function seed(job: Job, count: number) {
  const { url, adminToken } = job;
  const products = Array.from({ length: job.products }, () => randomUUID());
  await inParallel(products, 8, async (id) => {
    await must(
      url,
      REGISTER_PRODUCT,
      {
        i: {
          commandId: randomUUID(),
          id,
          name: `Bench product ${id.slice(0, 8)}`,
          imageUrl: 'https://img.example.org/bench.png',
          price: { amount: 1000, currency: 'EUR' },
          initialStock: 1_000_000,
        },
      },
      adminToken,
      'registerProduct',
    );
  });
  await inParallel(job.customers, 8, async (c, n) => {
    await must(
      url,
      REGISTER_CUSTOMER,
      {
        i: {
          commandId: randomUUID(),
          id: c.id,
          name: `Bench ${n}`,
          email: `bench-${c.id}@example.org`,
          phone: '030 1234',
        },
      },
      adminToken,
      'registerCustomer',
    );
  });
  const orders: Order[] = new Array(count);
  let cursor = '';
  await inParallel(
    Array.from({ length: count }, (_, n) => n),
    8,
    async (n) => {
      const c = job.customers[n % job.customers.length]!;
      const items = Array.from({ length: 1 + (n % 3) }, (_, k) => ({
        productId: products[(n + k * 7) % products.length]!,
        quantity: 1 + (k % 2),
      }));
      const address = { line1: '1 Bench Road', city: 'Berlin', postalCode: '10115', country: 'DE' };
      const r = await must(
        url,
        CREATE_ORDER,
        { i: { commandId: randomUUID(), customerId: c.id, items, shippingAddress: address } },
        c.token,
        'createOrder',
      );
      cursor ||= r.cursor;
      orders[n] = { id: r.order.id, token: c.token, total: r.order.total };
    },
  );
  // Any order's cursor precedes every payment, hence every shipment.
  return { orders, cursor };
}

/** Pays every order from `payers` loops; when each payOrder was sent and answered. */
async function payAll(url: string, orders: readonly Order[], payers: number) {
  const times = new Map<string, { sent: number; answered: number }>();
  await inParallel(orders, payers, async (o) => {
    const sent = performance.now();
    await must(
      url,
      PAY_ORDER,
      {
        i: { commandId: randomUUID(), orderId: o.id, paymentId: `pay-${o.id}`, amount: o.total },
      },
      o.token,
      'payOrder',
    );
    times.set(o.id, { sent, answered: performance.now() });
  });
  return times;
}

/**
 * Follows ShipmentCreated over graphql-ws from `after` (so none is missed however late the
 * subscription starts) and notes when each order's shipment arrives.
 */
function followShipments(url: string, token: string, after: string) {
  const arrived = new Map<string, number>();
  const waiters = new Set<() => void>();
  let failure: unknown;
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
  const wake = () => waiters.forEach((w) => w());
  client.subscribe<{ events: { data: { orderId: string } } }>(
    {
      query: `subscription($after: Cursor) { events(after: $after, eventTypes: ["ShipmentCreated"]) { data } }`,
      variables: { after },
    },
    {
      next: (r) => {
        const orderId = r.data?.events.data.orderId;
        if (orderId && !arrived.has(orderId)) arrived.set(orderId, performance.now());
        wake();
      },
      error: (e) => {
        failure = e;
        wake();
      },
      complete: () => undefined,
    },
  );
  return {
    arrived,
    /** Resolves once every order's shipment arrived; rejects after `ms`. */
    async waitAll(ids: readonly string[], ms: number) {
      const deadline = performance.now() + ms;
      while (!ids.every((id) => arrived.has(id))) {
        if (failure) throw new Error(`subscription failed: ${JSON.stringify(failure)}`);
        const left = deadline - performance.now();
        if (left <= 0) {
          const missing = ids.filter((id) => !arrived.has(id)).length;
          throw new Error(`${missing} of ${ids.length} shipments not created within ${ms} ms`);
        }
        await new Promise<void>((resolve) => {
          const done = () => {
            waiters.delete(done);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, 500));
          waiters.add(done);
        });
      }
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

/** Tells the parent (over IPC) where the load stands, and waits for its answer. */
function signal(what: string): Promise<void> {
  if (!process.send) return Promise.resolve();
  return new Promise((resolve) => {
    process.once('message', () => resolve());
    process.send!(what);
  });
}

async function run(job: Job): Promise<Report> {
  const { orders, cursor } = await seed(job, job.warmup + job.orders + job.singles);
  const warm = orders.slice(0, job.warmup);
  const measured = orders.slice(job.warmup, job.warmup + job.orders);
  const alone = orders.slice(job.warmup + job.orders);
  const feed = job.follow ? followShipments(job.url, job.adminToken, cursor) : undefined;
  try {
    await payAll(job.url, warm, job.payers);
    await feed?.waitAll(
      warm.map((o) => o.id),
      job.timeoutMs,
    );
    // The parent samples the server's memory now (the start of the load) and answers.
    await signal('loaded');
    const started = performance.now();
    const burst = await payAll(job.url, measured, job.payers);
    const paid = performance.now();
    await feed?.waitAll(
      measured.map((o) => o.id),
      job.timeoutMs,
    );
    const singles = new Map<string, { sent: number; answered: number }>();
    if (feed) {
      for (const o of alone) {
        const t = await payAll(job.url, [o], 1);
        await feed.waitAll([o.id], job.timeoutMs);
        singles.set(o.id, t.get(o.id)!);
      }
    }
    const timings = (times: Map<string, { sent: number; answered: number }>) =>
      [...times].map(([id, t]) => ({ ...t, shipped: feed?.arrived.get(id) }));
    return { started, paid, burst: timings(burst), singles: timings(singles) };
  } finally {
    await feed?.dispose();
  }
}

try {
  const report = await run(JSON.parse(process.argv[2]!) as Job);
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
