/**
 * Command-side benchmark: `npm run bench:commands` (PostgreSQL only: DATABASE_URL required).
 *
 * A scratch database `strata_bench_cmd_<pid>` is created on the DATABASE_URL server,
 * migrated by the app itself (buildApp), and dropped at the end. The real server runs on a
 * free port with a random secret; clients send real tokens over HTTP.
 *
 *   1. createOrder through HTTP (one customer token per client, 1–3 items) at concurrency 1
 *      and 16, BENCH_SECONDS each (default 5) after a short warm-up. Baseline, measured in
 *      the same run on the same pool: EventStore.append of one ~300-byte event to a new
 *      stream (with a command id), at the same concurrency. Target at concurrency 16:
 *      createOrder rate ≥ 0.5 × baseline.
 *   2. Loading an order with 1,000 events: one stream written through a CommandHandler
 *      that snapshots every 50 events (STRATA_SNAPSHOT_EVERY=50), one through a handler
 *      whose snapshotEvery is huge (so it has no snapshot); then `commands.load` of each,
 *      averaged over many loads.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { buildApp, type App } from '../src/server/app.js';
import type { Principal } from '../src/auth/principal.js';
import { productInfo, productDecider, productStreamId } from '../src/catalog/decider.js';
import { CommandHandler, type CommandEnvelope } from '../src/commands/handler.js';
import { loadConfig } from '../src/config/config.js';
import { SnapshotStore } from '../src/eventstore/snapshots.js';
import type { NewEvent } from '../src/eventstore/types.js';
import type { OrderCommand } from '../src/orders/commands.js';
import { customerStreamId } from '../src/customers/decider.js';
import { orderDecider, orderStreamId } from '../src/orders/decider.js';
import { canonicalJson } from '../src/shared/hash.js';
import { admin, BENCH_METADATA, fmt, orderPayload } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_MS = 300;
const CONCURRENCY = [1, 16];
const TARGET_AT_16 = 0.5;
const CUSTOMERS = 16;
const PRODUCTS = 10;
const LONG_STREAM = 1_000;
const SNAPSHOT_EVERY = 50;
const LOAD_SECONDS = Math.max(1, SECONDS / 2);

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
  console.error('\ninterrupted: finishing the current measurement and cleaning up');
});

// ---------------------------------------------------------------------------------------
// Scratch database

// ---------------------------------------------------------------------------------------
// Measurement

interface Rate {
  ops: number;
  failures: number;
  seconds: number;
  perSecond: number;
  /** Latencies in ms of the measured operations. */
  p50: number;
  p99: number;
}

/** Runs `op` from `concurrency` loops for `seconds` after a warm-up; `op` returns false on a failure. */
async function measure(
  concurrency: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<boolean>,
): Promise<Rate> {
  let counter = 0;
  const latencies: number[] = [];
  let failures = 0;
  const loop = async (worker: number, until: number, record: boolean) => {
    let ops = 0;
    while (performance.now() < until && !stopping) {
      const t0 = performance.now();
      const good = await op(worker, counter++);
      if (record) {
        latencies.push(performance.now() - t0);
        if (!good) failures += 1;
      }
      ops += 1;
    }
    return record ? ops : 0;
  };
  const warmUntil = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w, warmUntil, false)));
  const started = performance.now();
  const until = started + seconds * 1000;
  const ops = (
    await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w, until, true)))
  ).reduce((a, b) => a + b, 0);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    ops,
    failures,
    seconds: elapsed,
    perSecond: (ops - failures) / elapsed,
    p50: at(0.5),
    p99: at(0.99),
  };
}

// ---------------------------------------------------------------------------------------
// Workload

const baselineEvent = (i: number): NewEvent => ({ type: 'OrderPlaced', data: orderPayload(i) });

const ADDRESS = { line1: '1 Bench Road', city: 'Berlin', postalCode: '10115', country: 'DE' };

/** 1–3 lines of the bench products, varying with `i`. */
function itemsFor(i: number, products: string[]) {
  return Array.from({ length: 1 + (i % 3) }, (_, k) => ({
    productId: products[(i + k) % products.length]!,
    quantity: 1 + (k % 2),
  }));
}

const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) {
  __typename ... on CreateOrderSuccess { cursor version order { id total { amount } } }
  ... on Error { code message } } }`;

interface Client {
  url: string;
  post(query: string, variables: unknown, token: string): Promise<any>;
}

function client(url: string): Client {
  return {
    url,
    async post(query, variables, token) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: await res.json() };
    },
  };
}

// ---------------------------------------------------------------------------------------

async function setUp(app: App, http: Client) {
  const adminToken = await app.tokens.mint({ userId: 'bench-admin', role: 'admin' });
  const products: string[] = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const r = await http.post(
      `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on RegisterProductSuccess { product { id } } ... on Error { message } } }`,
      {
        i: {
          commandId: randomUUID(),
          name: `Bench product ${i}`,
          imageUrl: `https://img.example.org/bench/${i}.png`,
          price: { amount: 1000 + i * 100, currency: 'EUR' },
          initialStock: 1_000_000,
        },
      },
      adminToken,
    );
    const p = r.body.data?.registerProduct;
    if (p?.__typename !== 'RegisterProductSuccess')
      throw new Error(`registerProduct: ${JSON.stringify(r.body)}`);
    products.push(p.product.id);
  }
  const customers: { id: string; token: string; principal: Principal }[] = [];
  for (let i = 0; i < CUSTOMERS; i++) {
    const id = randomUUID();
    const principal: Principal = { userId: `bench-user-${i}`, role: 'customer', customerId: id };
    const token = await app.tokens.mint(principal);
    const r = await http.post(
      `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on Error { message } } }`,
      {
        i: {
          commandId: randomUUID(),
          name: `Bench ${i}`,
          email: `bench-${id}@example.org`,
          phone: '030 1234',
        },
      },
      token,
    );
    if (r.body.data?.registerCustomer?.__typename !== 'RegisterCustomerSuccess') {
      throw new Error(`registerCustomer: ${JSON.stringify(r.body)}`);
    }
    customers.push({ id, token, principal });
  }
  return { products, customers };
}

/** Writes `LONG_STREAM` events to a new order stream through `handler`: add/remove one line, over and over. */
async function longOrder(app: App, handler: CommandHandler, products: string[]): Promise<string> {
  const orderId = randomUUID();
  const streamId = orderStreamId(orderId);
  const principal: Principal = { userId: 'bench-admin', role: 'admin' };
  const [p0, p1] = products as [string, string];
  const info = async (id: string) =>
    productInfo((await handler.load(productDecider, productStreamId(id))).state);
  const [i0, i1] = [await info(p0), await info(p1)];
  const customerId = randomUUID();
  const run = async (command: OrderCommand, n: number) => {
    const envelope: CommandEnvelope = {
      commandId: randomUUID(),
      principal,
      correlationId: `bench-long-${orderId}`,
      operation: command.type,
      input: { n },
    };
    return handler.execute(orderDecider, streamId, command, envelope);
  };
  const now = () => new Date().toISOString();
  await run(
    {
      type: 'CreateOrder',
      data: {
        orderId,
        customerId,
        customerExists: true,
        items: [{ productId: p0, quantity: 1 }],
        products: { [p0]: i0 },
        shippingAddress: {
          line1: '1 Bench Road',
          city: 'Berlin',
          postalCode: '10115',
          country: 'DE',
        },
        now: now(),
      },
    },
    1,
  );
  for (let v = 2; v <= LONG_STREAM && !stopping; v++) {
    const result =
      v % 2 === 0
        ? await run(
            {
              type: 'AddOrderItem',
              data: { orderId, productId: p1, quantity: 1, product: i1, now: now() },
            },
            v,
          )
        : await run({ type: 'RemoveOrderItem', data: { orderId, productId: p1, now: now() } }, v);
    if (result.version !== v) throw new Error(`expected version ${v}, got ${result.version}`);
  }
  return streamId;
}

async function timeLoads(handler: CommandHandler, streamId: string) {
  for (let i = 0; i < 10; i++) await handler.load(orderDecider, streamId); // warm-up
  let loads = 0;
  const t0 = performance.now();
  let version = 0;
  do {
    version = (await handler.load(orderDecider, streamId)).version;
    loads += 1;
  } while ((performance.now() - t0 < LOAD_SECONDS * 1000 || loads < 20) && !stopping);
  const ms = (performance.now() - t0) / loads;
  return { loads, ms, version };
}

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'bench:commands needs DATABASE_URL (a PostgreSQL server; a scratch database is created on it)',
    );
    process.exitCode = 2;
    return;
  }
  const started = performance.now();
  const name = `strata_bench_cmd_${process.pid}`;
  const u = new URL(url);
  u.pathname = `/${name}`;
  await admin(url, `DROP DATABASE IF EXISTS ${name}`);
  await admin(url, `CREATE DATABASE ${name}`);
  let app: App | undefined;
  try {
    const config = loadConfig({
      DATABASE_URL: u.toString(),
      STRATA_AUTH_SECRET: randomBytes(32).toString('hex'),
      STRATA_SNAPSHOT_EVERY: String(SNAPSHOT_EVERY),
      PORT: '0',
      LOG_LEVEL: 'silent',
      // Measures throughput, not the per-caller limit (DATABASE_URL means production mode).
      STRATA_MUTATIONS_PER_MINUTE: '0',
    });
    app = await buildApp(config);
    const http = client(await app.start());
    const settings = (
      await app.db.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync') ORDER BY name`,
      )
    ).rows;
    const s = Object.fromEntries(settings.map((r) => [r.name, r.setting]));
    console.log(
      `Strata command benchmark — PostgreSQL ${s.server_version} at ${u.host}, database ${name} (fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit})`,
    );
    console.log(
      `server ${http.url}; createOrder and baseline ${SECONDS} s each after ${WARMUP_MS} ms warm-up; ${CUSTOMERS} customers, ${PRODUCTS} products`,
    );

    const { products, customers } = await setUp(app, http);
    const store = app.store;
    const run = `${process.pid}-${Date.now().toString(36)}`;

    // 1. createOrder through HTTP vs raw appends; and, to show where the time goes, the
    //    same command through the CommandHandler alone (no HTTP, no read-your-writes wait).
    const handler = app.services.commands;
    const rows: { concurrency: number; orders: Rate; command: Rate; baseline: Rate }[] = [];
    const failures: string[] = [];
    for (const concurrency of CONCURRENCY) {
      const orders = await measure(concurrency, SECONDS, async (worker, i) => {
        const customer = customers[worker % customers.length]!;
        const r = await http.post(
          CREATE_ORDER,
          {
            i: {
              commandId: randomUUID(),
              customerId: customer.id,
              items: itemsFor(i, products),
              shippingAddress: ADDRESS,
            },
          },
          customer.token,
        );
        const good =
          r.status === 200 && r.body.data?.createOrder?.__typename === 'CreateOrderSuccess';
        if (!good && failures.length < 3) failures.push(JSON.stringify(r.body).slice(0, 300));
        return good;
      });
      const command = await measure(concurrency, SECONDS / 2, async (worker, i) => {
        // What the createOrder resolver does before it waits for the read models.
        const customer = customers[worker % customers.length]!;
        const items = itemsFor(i, products);
        const catalogue = Object.fromEntries(
          await Promise.all(
            [...new Set(items.map((x) => x.productId))].map(
              async (id) =>
                [
                  id,
                  productInfo((await handler.load(productDecider, productStreamId(id))).state),
                ] as const,
            ),
          ),
        );
        const customerExists = (await store.streamVersion(customerStreamId(customer.id))) > 0;
        const orderId = randomUUID();
        const commandId = randomUUID();
        await handler.execute(
          orderDecider,
          orderStreamId(orderId),
          {
            type: 'CreateOrder',
            data: {
              orderId,
              customerId: customer.id,
              customerExists,
              items,
              products: catalogue,
              shippingAddress: ADDRESS,
              now: new Date().toISOString(),
            },
          },
          {
            commandId,
            principal: customer.principal,
            correlationId: commandId,
            operation: 'createOrder',
            input: { id: orderId, customerId: customer.id, items, shippingAddress: ADDRESS },
          },
        );
        return true;
      });
      const baseline = await measure(concurrency, SECONDS, async (w, i) => {
        await store.append(`bench-${run}-c${concurrency}-${w}-${i}`, 'bench', [baselineEvent(i)], {
          expected: 'noStream',
          commandId: randomUUID(),
          metadata: BENCH_METADATA,
        });
        return true;
      });
      rows.push({ concurrency, orders, command, baseline });
      console.log(
        `  c=${concurrency}: createOrder via HTTP ${fmt(orders.perSecond)}/s (p50 ${fmt(orders.p50, 1)} ms, p99 ${fmt(orders.p99, 1)} ms${orders.failures ? `, ${orders.failures} FAILED` : ''}); command alone ${fmt(command.perSecond)}/s (p50 ${fmt(command.p50, 1)} ms); baseline append ${fmt(baseline.perSecond)}/s (p50 ${fmt(baseline.p50, 1)} ms)`,
      );
    }
    for (const f of failures) console.log(`  failure: ${f}`);

    // 2. Loading a 1,000-event order with and without snapshots.
    const withSnapshots = app.services.commands;
    const withoutSnapshots = new CommandHandler(store, new SnapshotStore(app.db), {
      db: app.db,
      snapshotEvery: Number.MAX_SAFE_INTEGER,
    });
    // Both built at once (each one sequentially): the two timings overlap.
    const t0 = performance.now();
    const timed = async (handler: CommandHandler) => {
      const streamId = await longOrder(app!, handler, products);
      return { streamId, seconds: (performance.now() - t0) / 1000 };
    };
    const [snap, plain] = await Promise.all([timed(withSnapshots), timed(withoutSnapshots)]);
    const [snapStream, plainStream] = [snap.streamId, plain.streamId];
    const snapCount = async (streamId: string) =>
      (
        await app!.db.query<{ n: number; newest: number | null }>(
          'SELECT count(*)::int AS n, max(version) AS newest FROM snapshots WHERE stream_id = $1',
          [streamId],
        )
      ).rows[0]!;
    const [sc, pc] = [await snapCount(snapStream), await snapCount(plainStream)];
    console.log(
      `  built two ${fmt(LONG_STREAM)}-event orders through CommandHandler, side by side: ${fmt(snap.seconds, 1)} s with snapshots (${sc.n} snapshots, newest at v${sc.newest ?? '-'}), ${fmt(plain.seconds, 1)} s without (${pc.n} snapshots)`,
    );
    const a = await timeLoads(withSnapshots, snapStream);
    const b = await timeLoads(withSnapshots, plainStream);
    const [sa, sb] = [
      await withSnapshots.load(orderDecider, snapStream),
      await withSnapshots.load(orderDecider, plainStream),
    ];
    // Equal but for ids and times (key order may differ: a snapshot comes back from jsonb).
    const comparable = (state: object) =>
      canonicalJson({ ...state, orderId: '', customerId: '', createdAt: '', updatedAt: '' });
    const same =
      sa.version === LONG_STREAM &&
      sb.version === LONG_STREAM &&
      comparable(sa.state) === comparable(sb.state);

    // Report.
    console.log(`\nResults`);
    const header = [
      'createOrder via HTTP',
      'orders/s',
      'command alone/s',
      'baseline appends/s',
      'ratio',
      'target',
      '',
    ];
    const body = rows.map((r) => {
      const ratio = r.orders.perSecond / r.baseline.perSecond;
      const target = r.concurrency === 16 ? TARGET_AT_16 : undefined;
      return [
        `concurrency ${r.concurrency}`,
        fmt(r.orders.perSecond),
        fmt(r.command.perSecond),
        fmt(r.baseline.perSecond),
        fmt(ratio, 2),
        target === undefined ? '-' : `≥ ${fmt(target, 2)}`,
        target === undefined ? '' : ratio >= target ? 'ok' : 'BELOW',
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd();
    console.log(line(header));
    console.log(widths.map((w) => '─'.repeat(w)).join('  '));
    for (const b of body) console.log(line(b));
    console.log(
      '(ratio = orders/s ÷ baseline appends/s; "command alone" skips HTTP and the read-your-writes wait)',
    );
    console.log(
      `\nload of an order with ${fmt(LONG_STREAM)} events (CommandHandler.load, mean of ${a.loads} and ${b.loads} loads):`,
    );
    console.log(
      `  snapshots every ${SNAPSHOT_EVERY}: ${fmt(a.ms, 2)} ms per load (version ${a.version})`,
    );
    console.log(`  no snapshot:        ${fmt(b.ms, 2)} ms per load (version ${b.version})`);
    console.log(
      `  speed-up ${fmt(b.ms / a.ms, 1)}×; both fold to the same state: ${same ? 'yes' : 'NO'}`,
    );
    console.log(`\ntotal run time ${fmt((performance.now() - started) / 1000, 1)} s`);
    if (!same) process.exitCode = 1;
  } finally {
    await app?.stop().catch((err: unknown) => console.error('stop failed', err));
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
