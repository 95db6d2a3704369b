/**
 * Command-side benchmark: `npm run bench:commands` (PostgreSQL only: DATABASE_URL required).
 *
 * A scratch database `strata_bench_cmd_<pid>` is created on the DATABASE_URL server,
 * migrated by the app itself (buildApp), and dropped at the end. The real server runs in
 * this process on a free port with a random secret. The HTTP load comes from a child
 * process (bench/http-load.ts: closed-loop workers with keep-alive fetch), so the servers
 * under test have this process's event loop to themselves. The machine is shared and
 * noisy: every figure is measured beside its baseline in the same run, in alternating
 * slices (createOrder, raw, floor, old baseline; BENCH_SECONDS each in all, default 5, after
 * a warm-up), and printed with that baseline and the ratio.
 *
 *   0. Warm-up: createOrder and the floor server at c=16 for BENCH_WARMUP_SECONDS each
 *      (default 5), not measured, so that both run compiled code (steady state).
 *   1. createOrder through HTTP with real tokens (one customer token per worker), exactly 2
 *      items per order, selecting `cursor version order { id total { amount } }`, at
 *      concurrency 1 and 16. Beside it, at the same concurrency:
 *      - Baseline A, "raw": node-pg `BEGIN; INSERT one ~300-byte event row; COMMIT` on one
 *        client into `bench_raw_events` (LIKE events INCLUDING ALL). Targets: createOrder at
 *        c=16 ≥ 0.15 of it and p99 ≤ 80 ms; at c=1 p50 ≤ 6 ms. The old baseline,
 *        EventStore.append of one event with a command id, is printed beside it.
 *      - Baseline B, the floor of any GraphQL command API in this stack: a bare graphql-yoga
 *        server (bench/graphql-floor.ts: SDL, no auth, no Pothos) on another free port in
 *        this process, whose createOrder(customerId, items) runs one batched
 *        `SELECT … WHERE id = ANY($1)` of the prices and one autocommit INSERT of the order,
 *        driven by the same load generator. Target: createOrder at c=16 ≥ 0.6 of it.
 *      Each slice starts once the server's projections have applied the whole log (the
 *      old baseline appends to the server's own log; createOrder leaves projection work).
 *      - Memory of this (the server's) process, RSS and heap, at the start and the end of
 *        the createOrder load (section 1, baselines' slices included: the floor server and
 *        the raw clients live here too): ok when neither grows more than 20%.
 *      - Statements per createOrder at c=16, when `CREATE EXTENSION pg_stat_statements`
 *        works in the scratch database: reset before, then counted over the createOrder
 *        slices only (the differences across each), top 12 by calls per order with their
 *        mean time, and the total calls per order; otherwise reported as skipped.
 *      - Beside them at c=16, createOrder's use case called in this process (no HTTP,
 *        GraphQL or token), and the CPU per operation of createOrder, the floor and the use
 *        case: this process, PostgreSQL's processes, the machine (Linux /proc): where an
 *        order's cost goes, and what 0.6 of the floor would leave for Strata's HTTP layer.
 *      - BENCH_CPU_PROFILE=<folder>: a CPU profile of the server's process during each
 *        createOrder slice at c=16 (one file per slice; the baselines' slices are left out).
 *   2. Loading an order with 1,000 events: one stream written through a CommandHandler
 *      that snapshots every 50 events (STRATA_SNAPSHOT_EVERY=50), one through a handler
 *      whose snapshotEvery is huge (so it has no snapshot); then `commands.load` of each,
 *      averaged over many loads.
 *   3. createOrder at c=16 for BENCH_SECONDS while the server rebuilds the `orders`
 *      projection (`app.projections.rebuild('orders')`, what `npm run projections --
 *      rebuild orders` asks for) over the whole log: the p99 of the requests that overlapped
 *      the rebuild against the c=16 p99 of section 1, and whether the rebuild was still
 *      running at the end of the load (if it ended sooner, what overlapped is reported).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { buildApp, type App } from '../src/server/app.js';
import type { Principal } from '../src/auth/principal.js';
import { productInfo, productDecider, productStreamId } from '../src/catalog/decider.js';
import { CommandHandler, type CommandEnvelope } from '../src/commands/handler.js';
import { loadConfig } from '../src/config/config.js';
import { SnapshotStore } from '../src/eventstore/snapshots.js';
import type { NewEvent } from '../src/eventstore/types.js';
import type { OrderCommand } from '../src/orders/commands.js';
import { orderDecider, orderStreamId } from '../src/orders/decider.js';
import { createOrder as createOrderUseCase } from '../src/orders/use-cases.js';
import { canonicalJson } from '../src/shared/hash.js';
import { FLOOR_CREATE_ORDER, setUpFloor, startFloor } from './graphql-floor.js';
import { startLoadGenerator, type LoadGenerator, type LoadJob } from './http-load.js';
import {
  admin,
  BENCH_METADATA,
  closedLoop,
  cpuAdd,
  cpuNow,
  cpuSince,
  startProfile,
  fmt,
  NO_CPU,
  type CpuSample,
  memoryLine,
  memoryNow,
  orderPayload,
  pct,
  pgTx,
  RAW_INSERT,
  RAW_TABLE,
  rawInsertParams,
  summarize,
  type LoopResult,
  type Summary,
  printColumns,
} from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/**
 * Before any measurement, createOrder and the floor server each run this long at c=16,
 * unmeasured: a server that has run for a few seconds has its hot code compiled by V8's
 * optimising tier, as a server in service has; without it the first slices measure the
 * interpreter (the first 4 s of createOrder ran at 0.7 of the rate of the next 4 s).
 */
const JIT_WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const WARMUP_MS = 300;
/** Warm-up of the later slices of a measurement (connections and code are warm by then). */
const SLICE_WARMUP_MS = 100;
/** Each measurement runs in this many slices, alternating with its baselines. */
const ROUNDS = Math.max(1, Math.round(SECONDS / 1.5));
const CONCURRENCY = [1, 16] as const;
const TARGET = { rawAt16: 0.15, p99At16Ms: 80, p50At1Ms: 6, floorAt16: 0.6, memory: 0.2 };
const ITEMS_PER_ORDER = 2;
const CUSTOMERS = 16;
const PRODUCTS = 10;
const LONG_STREAM = 1_000;
const SNAPSHOT_EVERY = 50;
const LOAD_SECONDS = Math.max(1, SECONDS / 2);
/** How long to wait for the rebuild to end after its load, before stopping it at a checkpoint. */
const REBUILD_WAIT_MS = 120_000;
const TOP_STATEMENTS = 12;

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
  console.error('\ninterrupted: finishing the current measurement and cleaning up');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Workload

const baselineEvent = (i: number): NewEvent => ({ type: 'OrderPlaced', data: orderPayload(i) });

const ADDRESS = { line1: '1 Bench Road', city: 'Berlin', postalCode: '10115', country: 'DE' };

const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) {
  __typename ... on CreateOrderSuccess { cursor version order { id total { amount } } }
  ... on Error { code message } } }`;

/** Exactly ITEMS_PER_ORDER distinct bench products per order, varying with the request. */
const ITEMS = Array.from({ length: ITEMS_PER_ORDER }, (_, k) => ({
  productId: `$i:products:${k}`,
  quantity: 1 + k,
}));

interface Customer {
  id: string;
  token: string;
  principal: Principal;
}

/** createOrder through Strata's HTTP API: worker w sends as customer w (its own token). */
function createOrderJob(
  url: string,
  customers: readonly Customer[],
  products: readonly string[],
  concurrency: number,
  seconds: number,
  warmupMs: number,
): LoadJob {
  return {
    url: `${url}/graphql`,
    query: CREATE_ORDER,
    variables: {
      i: {
        commandId: '$uuid',
        customerId: '$w:customerId',
        items: ITEMS,
        shippingAddress: ADDRESS,
      },
    },
    concurrency,
    seconds,
    warmupMs,
    tokens: customers.map((c) => c.token),
    workers: customers.map((c) => ({ customerId: c.id })),
    lists: { products: [...products] },
    expect: { field: 'createOrder', typename: 'CreateOrderSuccess' },
  };
}

/** The same order through the floor server (baseline B): no token. */
function floorJob(
  url: string,
  customers: readonly Customer[],
  products: readonly string[],
  concurrency: number,
  seconds: number,
  warmupMs: number,
): LoadJob {
  return {
    url,
    query: FLOOR_CREATE_ORDER,
    variables: { c: '$w:customerId', items: ITEMS },
    concurrency,
    seconds,
    warmupMs,
    workers: customers.map((c) => ({ customerId: c.id })),
    lists: { products: [...products] },
    expect: { field: 'createOrder' },
  };
}

interface Client {
  url: string;
  post(query: string, variables: unknown, token: string): Promise<any>;
}

/** For the set-up only (the measured load comes from the child process). */
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
// pg_stat_statements

interface Statement {
  query: string;
  toplevel: boolean;
  calls: number;
  ms: number;
}

/** The statements of the scratch database so far, by queryid and level. */
async function statements(pool: pg.Pool): Promise<Map<string, Statement>> {
  const r = await pool.query<{
    id: string;
    toplevel: boolean;
    query: string;
    calls: number;
    ms: number;
  }>(
    `SELECT coalesce(queryid::text, query) AS id, toplevel, query, calls::float8 AS calls,
            total_exec_time AS ms
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query NOT ILIKE '%pg_stat_statements%'`,
  );
  const m = new Map<string, Statement>();
  for (const s of r.rows) {
    const key = `${s.id}/${s.toplevel}`;
    const had = m.get(key);
    if (had) {
      had.calls += s.calls;
      had.ms += s.ms;
    } else m.set(key, { query: s.query, toplevel: s.toplevel, calls: s.calls, ms: s.ms });
  }
  return m;
}

/** Adds what ran between `before` and `after` to `into`. */
function addDelta(
  into: Map<string, Statement>,
  before: Map<string, Statement>,
  after: Map<string, Statement>,
) {
  for (const [key, s] of after) {
    const b = before.get(key);
    const calls = s.calls - (b?.calls ?? 0);
    if (calls <= 0) continue;
    const ms = s.ms - (b?.ms ?? 0);
    const had = into.get(key);
    if (had) {
      had.calls += calls;
      had.ms += ms;
    } else into.set(key, { query: s.query, toplevel: s.toplevel, calls, ms });
  }
}

// ---------------------------------------------------------------------------------------
// Report

/** A statement on one line, a long select list elided: `SELECT … FROM events WHERE …`. */
const brief = (query: string) =>
  query
    .replace(/\s+/g, ' ')
    .replace(/^(SELECT )(.+?)( FROM )/i, (all, a: string, list: string, b: string) =>
      list.length > 30 ? `${a}…${b}` : all,
    )
    .slice(0, 130);

const ms = (x: number) => `${fmt(x, 1)} ms`;
const rates = (s: Summary) =>
  `${fmt(s.perSecond)}/s (p50 ${ms(s.p50)}, p99 ${ms(s.p99)}${s.failures ? `, ${s.failures} FAILED` : ''})`;

interface Row {
  measure: string;
  strata: string;
  baseline: string;
  ratio: number;
  target?: string;
  ok?: boolean;
}

function printTable(rows: readonly Row[]) {
  const header = ['measure', 'Strata', 'baseline', 'ratio', 'target', ''];
  const body = rows.map((r) => [
    r.measure,
    r.strata,
    r.baseline,
    fmt(r.ratio, 2),
    r.target ?? '-',
    r.ok === undefined ? '' : r.ok ? 'ok' : 'BELOW',
  ]);
  printColumns(header, body);
}

// ---------------------------------------------------------------------------------------

/** One createOrder through the use case, as customer `c` (the same input as over HTTP). */
async function useCaseOrder(
  app: App,
  c: Customer,
  products: readonly string[],
  i: number,
): Promise<boolean> {
  await createOrderUseCase(
    app.services,
    {
      customerId: c.id,
      items: ITEMS.map((item, k) => ({
        productId: products[(i + k) % products.length]!,
        quantity: item.quantity,
      })),
      shippingAddress: ADDRESS,
    },
    {
      commandId: randomUUID(),
      principal: c.principal,
      correlationId: randomUUID(),
      operation: 'createOrder',
      input: { i },
    },
  );
  return true;
}

type Metered = Record<'orders' | 'floor' | 'usecase', { used: CpuSample; ops: number }>;

/**
 * Where one operation's CPU goes at c=16, from the slices' CPU time: this process (the
 * server under test; during the floor's slices the floor server, Strata idle), the
 * PostgreSQL server's processes, and the whole machine; the rest of the machine's time is
 * the load generator, the kernel and whatever else runs. The use case's line shows what the
 * command costs before any HTTP; then what 0.6 of the floor's rate allows per order, and
 * where createOrder over HTTP spends more than its use case.
 */
function printCpu(
  cpu: Metered,
  usecase: Summary | undefined,
  c16: { orders: Summary; floor: Summary } | undefined,
) {
  const per = (x: number | null, ops: number) => (x === null || ops === 0 ? NaN : (x * 1000) / ops);
  const line = (k: keyof Metered) => {
    const { used, ops } = cpu[k];
    const proc = per(used.process, ops);
    const pg = per(used.postgres, ops);
    const machine = per(used.machine, ops);
    return { proc, pg, machine, rest: machine - proc - pg };
  };
  const rows = (['orders', 'floor', 'usecase'] as const).filter((k) => cpu[k].ops > 0);
  if (!rows.length || cpu.orders.used.machine === null) return;
  console.log(
    '\nCPU per operation at c=16 (ms of CPU time, all slices of each kind, warm-ups included):',
  );
  const name = {
    orders: 'createOrder over HTTP',
    floor: 'floor server over HTTP',
    usecase: 'createOrder use case, in process',
  };
  printColumns(
    ['operation', 'this process', 'PostgreSQL', 'rest', 'machine'],
    rows.map((k) => {
      const l = line(k);
      return [name[k], fmt(l.proc, 3), fmt(l.pg, 3), fmt(l.rest, 3), fmt(l.machine, 3)];
    }),
  );
  if (!usecase || !c16 || cpu.usecase.ops === 0 || cpu.floor.ops === 0) return;
  const f = line('floor');
  const u = line('usecase');
  const o = line('orders');
  // At 0.6 of the floor's rate the machine has 1/0.6 of the floor's CPU per order.
  const budget = f.machine / TARGET.floorAt16;
  console.log(
    `  at ${fmt(TARGET.floorAt16, 2)} of the floor's rate an order may use ${fmt(budget, 3)} ms of the machine; createOrder over HTTP uses ${fmt(o.machine, 3)} ms, of which the use case alone (the command, its projections and readers) ${fmt(u.machine, 3)} ms = ${fmt(u.machine / f.machine, 2)} of the floor's whole request; over HTTP this process uses ${fmt(o.proc - u.proc, 3)} ms more than the use case (the floor's whole server: ${fmt(f.proc, 3)} ms), PostgreSQL ${fmt(o.pg - u.pg, 3)} ms more, the rest ${fmt(o.rest - u.rest, 3)} ms more (the floor's rest: ${fmt(f.rest, 3)} ms)`,
  );
}

/**
 * Waits until the server's projections have applied the whole log, so that a slice starts
 * on an idle server and no slice pays for the work another one left behind.
 */
async function settled(app: App): Promise<void> {
  const head = await app.store.head();
  if (head) await app.projections.waitFor(head.cursor, undefined, 60_000);
}

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
  let load: LoadGenerator | undefined;
  let floor: { url: string; stop(): Promise<void> } | undefined;
  // Baselines' connections (raw transactions, the floor server, pg_stat_statements).
  const rawPool = new pg.Pool({
    connectionString: u.toString(),
    max: 18,
    application_name: 'strata-bench-raw',
  });
  const floorPool = new pg.Pool({
    connectionString: u.toString(),
    max: 18,
    application_name: 'strata-bench-floor',
  });
  // DROP DATABASE … WITH (FORCE) at the end ends their idle sessions: not an error here.
  rawPool.on('error', () => undefined);
  floorPool.on('error', () => undefined);
  try {
    const config = loadConfig({
      DATABASE_URL: u.toString(),
      STRATA_AUTH_SECRET: randomBytes(32).toString('hex'),
      STRATA_SNAPSHOT_EVERY: String(SNAPSHOT_EVERY),
      PORT: '0',
      LOG_LEVEL: 'silent',
      // Measures throughput, not the per-caller limit (DATABASE_URL means production mode).
      STRATA_MUTATIONS_PER_MINUTE: '0',
      STRATA_READ_COST_PER_MINUTE: '0',
    });
    app = await buildApp(config);
    const http = client(await app.start());
    const settings = (
      await app.db.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync') ORDER BY name`,
      )
    ).rows;
    const s = Object.fromEntries(settings.map((r) => [r.name, r.setting]));
    const label = `PostgreSQL ${s.server_version} at ${u.host}, database ${name} (fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit})`;
    console.log(`Strata command benchmark — ${label}`);
    console.log(
      `server ${http.url}; HTTP load from a child process; each measurement ${SECONDS} s in ${ROUNDS} slices alternating with its baselines, after ${WARMUP_MS} ms warm-up (${SLICE_WARMUP_MS} ms per later slice); ${CUSTOMERS} customers, ${PRODUCTS} products, ${ITEMS_PER_ORDER} items per order`,
    );

    const { products, customers } = await setUp(app, http);
    const store = app.store;
    const run = `${process.pid}-${Date.now().toString(36)}`;
    await rawPool.query(`CREATE TABLE ${RAW_TABLE} (LIKE events INCLUDING ALL)`);
    await setUpFloor(floorPool, Object.fromEntries(products.map((id, i) => [id, 1000 + i * 100])));
    floor = await startFloor(floorPool);
    load = startLoadGenerator();
    let pss: string | undefined;
    try {
      await rawPool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await statements(rawPool);
    } catch (err) {
      pss = err instanceof Error ? err.message : String(err);
    }
    console.log(
      `floor server ${floor.url}; pg_stat_statements: ${pss === undefined ? 'available' : `skipped (${pss})`}`,
    );

    // 1. createOrder through HTTP, against the raw transaction, the floor server and the old
    //    baseline, in alternating slices.
    const generator = load;
    const floorUrl = floor.url;
    type Kind = 'orders' | 'raw' | 'floor' | 'append';
    /** CPU of the c=16 slices: createOrder over HTTP, the floor, and the use case in process. */
    const cpu = {
      orders: { used: NO_CPU, ops: 0 },
      floor: { used: NO_CPU, ops: 0 },
      usecase: { used: NO_CPU, ops: 0 },
    };
    const usecaseRuns: LoopResult[] = [];
    /** Runs `slice`, adding its CPU and operations to `into` when `counted`. */
    const metered = async <R extends LoopResult>(
      into: { used: CpuSample; ops: number },
      counted: boolean,
      slice: () => Promise<R>,
    ): Promise<R> => {
      const start = cpuNow();
      const r = await slice();
      if (counted) {
        into.used = cpuAdd(into.used, cpuSince(start));
        into.ops += r.ops + r.warmupOps;
      }
      return r;
    };
    const results = new Map<number, Record<Kind, Summary>>();
    const failures: string[] = [];
    const perOrder = new Map<string, Statement>();
    let ordersCounted = 0;
    if (JIT_WARMUP_SECONDS > 0) {
      const w = await load.run(
        createOrderJob(http.url, customers, products, 16, JIT_WARMUP_SECONDS, 0),
      );
      const f = await load.run(floorJob(floor.url, customers, products, 16, JIT_WARMUP_SECONDS, 0));
      console.log(
        `  warm-up (not measured): createOrder ${fmt(w.rate)}/s and floor ${fmt(f.rate)}/s at c=16 for ${JIT_WARMUP_SECONDS} s each`,
      );
    }
    const memoryAtStart = memoryNow();
    for (const concurrency of CONCURRENCY) {
      const runs: Record<Kind, LoopResult[]> = { orders: [], raw: [], floor: [], append: [] };
      const slice = SECONDS / ROUNDS;
      const counting = concurrency === 16 && pss === undefined;
      if (counting) await rawPool.query('SELECT pg_stat_statements_reset()');
      for (let round = 0; round < ROUNDS && !stopping; round++) {
        const warm = round === 0 ? WARMUP_MS : SLICE_WARMUP_MS;
        const before = counting ? await statements(rawPool) : undefined;
        const profiling = concurrency === 16 ? await startProfile() : undefined;
        const o = await metered(cpu.orders, concurrency === 16, () =>
          generator.run(createOrderJob(http.url, customers, products, concurrency, slice, warm)),
        );
        await profiling?.stop(`createOrder-c16-${round}`);
        await settled(app);
        if (before) {
          addDelta(perOrder, before, await statements(rawPool));
          ordersCounted += o.ops + o.warmupOps;
        }
        runs.orders.push(o);
        failures.push(...o.failureSamples.slice(0, 3 - failures.length));
        runs.raw.push(
          await closedLoop(
            concurrency,
            slice,
            warm,
            async (w, i) => {
              await pgTx(
                rawPool,
                RAW_INSERT,
                rawInsertParams(i, `raw-${run}-c${concurrency}-r${round}-${w}-${i}`),
              );
              return true;
            },
            () => stopping,
          ),
        );
        const f = await metered(cpu.floor, concurrency === 16, () =>
          generator.run(floorJob(floorUrl, customers, products, concurrency, slice, warm)),
        );
        runs.floor.push(f);
        failures.push(...f.failureSamples.slice(0, 3 - failures.length));
        runs.append.push(
          await closedLoop(
            concurrency,
            slice,
            warm,
            async (w, i) => {
              await store.append(
                `bench-${run}-c${concurrency}-r${round}-${w}-${i}`,
                'bench',
                [baselineEvent(i)],
                { expected: 'noStream', commandId: randomUUID(), metadata: BENCH_METADATA },
              );
              return true;
            },
            () => stopping,
          ),
        );
        // The old baseline appended thousands of events to the server's own log: let its
        // readers take them in now, not during the next createOrder slice.
        await settled(app);
        if (concurrency === 16) {
          // createOrder's use case in this process, without HTTP, GraphQL or tokens: what
          // the command itself costs, its projections included.
          usecaseRuns.push(
            await metered(cpu.usecase, true, () =>
              closedLoop(
                concurrency,
                slice,
                warm,
                (w, i) => useCaseOrder(app!, customers[w % customers.length]!, products, i),
                () => stopping,
              ),
            ),
          );
          await settled(app);
        }
      }
      const r = {
        orders: summarize(runs.orders),
        raw: summarize(runs.raw),
        floor: summarize(runs.floor),
        append: summarize(runs.append),
      };
      results.set(concurrency, r);
      console.log(`  c=${concurrency}: createOrder via HTTP ${rates(r.orders)}`);
      console.log(`        raw BEGIN/INSERT/COMMIT ${rates(r.raw)}`);
      console.log(`        GraphQL floor server ${rates(r.floor)}`);
      console.log(`        EventStore.append (old baseline) ${rates(r.append)}`);
      if (concurrency === 16 && usecaseRuns.length) {
        console.log(
          `        createOrder use case in process (no HTTP) ${rates(summarize(usecaseRuns))}`,
        );
      }
    }
    const memoryAtEnd = memoryNow();
    for (const f of failures) console.log(`  failure: ${f}`);

    // 2. Loading a 1,000-event order with and without snapshots.
    const withSnapshots = app.services.commands;
    const withoutSnapshots = new CommandHandler(store, new SnapshotStore(app.db), {
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

    // 3. createOrder at c=16 while the orders projection rebuilds from the start of the log.
    const logEvents = Number(
      (await rawPool.query<{ n: number }>('SELECT count(*)::float8 AS n FROM events')).rows[0]!.n,
    );
    const c16 = results.get(16);
    const rebuildStarted = Date.now();
    const generation = await app.projections.rebuild('orders');
    const rebuild = { ended: undefined as number | undefined, processed: 0, state: 'rebuilding' };
    let watching = true;
    // A cheap look at the generation's row (the admin status counts the lag: heavier).
    const watcher = (async () => {
      while (watching) {
        const row = (
          await rawPool.query<{ active: boolean; state: string; n: number }>(
            `SELECT active, state, events_processed::float8 AS n FROM projections WHERE name = 'orders' AND generation = $1`,
            [generation],
          )
        ).rows[0];
        if (row) Object.assign(rebuild, { processed: row.n, state: row.state });
        if (!row || row.active || row.state === 'stopped' || row.state === 'retired') {
          rebuild.ended = Date.now();
          return;
        }
        await sleep(50);
      }
    })();
    // No warm-up: the child's connections and the server are warm from section 1.
    const during = await load.run(createOrderJob(http.url, customers, products, 16, SECONDS, 0));
    const stillRunning = rebuild.ended === undefined;
    const processedAtLoadEnd = rebuild.processed;
    const waitUntil = Date.now() + REBUILD_WAIT_MS;
    while (rebuild.ended === undefined && Date.now() < waitUntil && !stopping) await sleep(100);
    watching = false;
    await watcher;
    failures.push(...during.failureSamples.slice(0, 3 - failures.length));
    const ended = rebuild.ended ?? Infinity;
    const overlapped = during.latencies.filter((_, k) => during.starts[k]! < ended);
    const overlapSorted = [...overlapped].sort((a, b) => a - b);
    const loadStarted = Math.min(...during.starts);
    const rebuildSeconds = ((rebuild.ended ?? Date.now()) - rebuildStarted) / 1000;
    console.log(
      `  rebuild of orders (generation ${generation}) over a log of ${fmt(logEvents)} events: ${stillRunning ? `still running at the end of the ${fmt(SECONDS)} s load (${fmt(processedAtLoadEnd)} events applied by then)` : `ended ${fmt((ended - loadStarted) / 1000, 1)} s into the ${fmt(SECONDS)} s load`}; ${rebuild.ended === undefined ? `not done after a further ${fmt(REBUILD_WAIT_MS / 1000)} s (stopped at a checkpoint)` : `${rebuild.state === 'stopped' ? 'STOPPED ON ERROR' : rebuild.state === 'retired' ? 'RETIRED' : 'active'} after ${fmt(rebuildSeconds, 1)} s, ${fmt(rebuild.processed)} events applied`}`,
    );
    console.log(
      `  createOrder c=16 during it: ${fmt(during.rate)}/s (p50 ${ms(during.p50)}, p99 ${ms(during.p99)}${during.failures ? `, ${during.failures} FAILED` : ''}); ${overlapped.length} of ${during.ops} measured requests started while the rebuild ran${overlapped.length ? `: their p99 ${ms(pct(overlapSorted, 0.99))}` : ' (it finished too fast to overlap)'}`,
    );

    // Report.
    console.log(`\nResults (${label})`);
    const rows: Row[] = [];
    /** A throughput row: Strata's rate against one baseline's, with an optional floor on the ratio. */
    const rate = (measure: string, strata: Summary, baseline: Summary, atLeast?: number): Row => ({
      measure,
      strata: `${fmt(strata.perSecond)}/s`,
      baseline: `${fmt(baseline.perSecond)}/s`,
      ratio: strata.perSecond / baseline.perSecond,
      ...(atLeast === undefined
        ? {}
        : { target: `≥ ${fmt(atLeast, 2)}`, ok: strata.perSecond / baseline.perSecond >= atLeast }),
    });
    /** A latency row: Strata's quantile against the baseline's, with an optional ceiling in ms. */
    const latency = (
      measure: string,
      strata: number,
      baseline: number,
      atMostMs?: number,
    ): Row => ({
      measure,
      strata: ms(strata),
      baseline: ms(baseline),
      ratio: strata / baseline,
      ...(atMostMs === undefined ? {} : { target: `≤ ${atMostMs} ms`, ok: strata <= atMostMs }),
    });
    const c1 = results.get(1);
    if (c1) {
      rows.push(
        latency('c=1 createOrder p50 vs raw tx', c1.orders.p50, c1.raw.p50, TARGET.p50At1Ms),
        rate('c=1 createOrder/s vs raw tx', c1.orders, c1.raw),
        rate('c=1 createOrder/s vs floor', c1.orders, c1.floor),
        rate('c=1 createOrder/s vs append (old)', c1.orders, c1.append),
      );
    }
    if (c16) {
      rows.push(
        rate('c=16 createOrder/s vs raw tx', c16.orders, c16.raw, TARGET.rawAt16),
        latency('c=16 createOrder p99 vs raw tx', c16.orders.p99, c16.raw.p99, TARGET.p99At16Ms),
        rate('c=16 createOrder/s vs floor', c16.orders, c16.floor, TARGET.floorAt16),
        rate('c=16 createOrder/s vs append (old)', c16.orders, c16.append),
        {
          measure: 'c=16 createOrder p99, rebuilding',
          strata: overlapped.length ? ms(pct(overlapSorted, 0.99)) : 'no overlap',
          baseline: ms(c16.orders.p99),
          ratio: overlapped.length ? pct(overlapSorted, 0.99) / c16.orders.p99 : NaN,
        },
      );
    }
    printTable(rows);
    console.log(
      '(ratio = Strata ÷ baseline; raw tx = node-pg BEGIN; INSERT of one event row; COMMIT; floor = bare graphql-yoga createOrder: one SELECT … = ANY($1), one INSERT; append (old) = EventStore.append of one event with a command id; "rebuilding" = requests started while the orders projection rebuilt, against c=16 without a rebuild)',
    );
    console.log(
      `rebuild of orders during the c=16 load: ${stillRunning ? 'still running at the end of the load' : 'finished before the end of the load'}; ${overlapped.length} of ${during.ops} requests overlapped it`,
    );
    console.log(
      memoryLine(
        'memory of the server process (this one, which also hosts the floor server and the raw clients) across the createOrder load',
        memoryAtStart,
        memoryAtEnd,
      ),
    );

    printCpu(cpu, usecaseRuns.length ? summarize(usecaseRuns) : undefined, c16);

    if (pss !== undefined) {
      console.log(`\nstatements per createOrder: skipped (pg_stat_statements: ${pss})`);
    } else {
      const list = [...perOrder.values()].sort((a, b) => b.calls - a.calls);
      const top = list.filter((x) => x.toplevel).reduce((a, x) => a + x.calls, 0);
      const nested = list.filter((x) => !x.toplevel).reduce((a, x) => a + x.calls, 0);
      console.log(
        `\nstatements per createOrder at c=16 (pg_stat_statements of ${name}, over the createOrder slices only: ${fmt(ordersCounted)} requests, warm-up included; the server's database work during them, projection runners included), top ${TOP_STATEMENTS}:`,
      );
      console.log('  calls/order  mean ms  level   statement');
      for (const x of list.slice(0, TOP_STATEMENTS)) {
        console.log(
          `  ${fmt(x.calls / ordersCounted, 2).padStart(11)}  ${fmt(x.ms / x.calls, 3).padStart(7)}  ${(x.toplevel ? 'top' : 'nested').padEnd(6)}  ${brief(x.query)}`,
        );
      }
      console.log(
        `  total: ${fmt(top / ordersCounted, 2)} top-level statements per order (${list.filter((x) => x.toplevel).length} distinct)${nested ? `, and ${fmt(nested / ordersCounted, 2)} more run inside functions (track=all)` : ''}`,
      );
    }

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
    const failed = [...results.values()].some((r) => r.orders.failures || r.floor.failures);
    if (!same || failed || during.failures) process.exitCode = 1;
  } finally {
    await load?.close().catch((err: unknown) => console.error('load generator', err));
    await floor?.stop().catch((err: unknown) => console.error('floor stop failed', err));
    await app?.stop().catch((err: unknown) => console.error('stop failed', err));
    await rawPool.end().catch(() => undefined);
    await floorPool.end().catch(() => undefined);
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
