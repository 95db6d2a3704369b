/**
 * Fulfillment benchmark: `npm run bench:fulfillment`.
 *
 * DATABASE_URL (or BENCH_DATABASE_URL) set → PostgreSQL: one scratch database per phase,
 * `strata_bench_ful_<pid>_<phase>`, created on that server and dropped at the end.
 * Otherwise PGlite in memory, one per phase. Each phase runs the real server (buildApp)
 * on a free port in this process; the clients run in a child process
 * (bench/fulfillment-client.ts) and send real tokens over HTTP and graphql-ws.
 *
 *   1. Baseline: the app with the fulfillment process off; 16 concurrent payers send
 *      payOrder for BENCH_ORDERS orders: paid orders per second.
 *   2. Fulfillment: the same with the process on. An admin follows the log over graphql-ws
 *      (`events(eventTypes: ["ShipmentCreated"])`, the milestone the order's timeline
 *      shows) and notes when each order's shipment arrives. Reported: orders carried to
 *      "shipment created" per second (orders ÷ time from the first payment sent to the last
 *      shipment received), and per order the latency from its payOrder response (and from
 *      its request) to its ShipmentCreated at the subscriber, p50/p99; ratio to the
 *      baseline. The latency of a burst is mostly queueing behind the orders paid before;
 *      for scale, a few orders are then paid one at a time, each once the previous one's
 *      shipment arrived.
 * Both phases pay a warm-up batch first (not measured), on fresh orders of 1–3 lines of
 * plentiful products, so no order is short. BENCH_ORDERS sets the batch: 400 on
 * PostgreSQL, 120 on PGlite by default (one session: the process manager and the
 * projections take turns with the payments, so a larger batch would not end in 3 min).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildApp, type App } from '../src/server/app.js';
import { loadConfig } from '../src/config/config.js';
import { openPglite } from '../src/db/pglite.js';
import { openPostgres } from '../src/db/postgres.js';
import type { Db } from '../src/db/types.js';
import type { Job, Report, Timing } from './fulfillment-client.js';
import {
  admin as adminQuery,
  fmt,
  memoryLine,
  memoryNow,
  pct,
  type MemorySample,
} from './support.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
const ORDERS = Number(process.env.BENCH_ORDERS ?? (DATABASE_URL ? 400 : 120));
const WARMUP = Math.max(16, Math.round(ORDERS / 10));
/** Orders paid one at a time after the burst: the latency without a queue. */
const SINGLES = 10;
const PAYERS = 16;
const CUSTOMERS = 16;
const PRODUCTS = 20;
/** Ceiling on waiting for shipments: a stuck process fails the run instead of hanging. */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 150_000);
const CLIENT = fileURLToPath(new URL('./fulfillment-client.ts', import.meta.url));

const ms = (xs: readonly number[]) =>
  `p50 ${fmt(pct(xs, 0.5), 1)} ms, p99 ${fmt(pct(xs, 0.99), 1)} ms, max ${fmt(xs[xs.length - 1] ?? NaN, 1)} ms`;

// ---------------------------------------------------------------------------------------
// Engines

interface Engine {
  label: string;
  /** A fresh, empty database for one phase. */
  open(phase: string): Promise<{ db: Db; databaseUrl?: string; drop(): Promise<void> }>;
}

function engine(): Engine {
  const url = DATABASE_URL;
  if (!url) {
    return {
      label: 'PGlite (in memory)',
      async open() {
        const db = await openPglite();
        return { db, drop: () => db.close() };
      },
    };
  }
  const admin = (sql: string) => adminQuery(url, sql);
  return {
    label: `PostgreSQL at ${new URL(url).host}`,
    async open(phase) {
      const name = `strata_bench_ful_${process.pid}_${phase}`;
      await admin(`DROP DATABASE IF EXISTS ${name}`);
      await admin(`CREATE DATABASE ${name}`);
      const u = new URL(url);
      u.pathname = `/${name}`;
      const db = openPostgres({ connectionString: u.toString() });
      return {
        db,
        databaseUrl: u.toString(),
        async drop() {
          await db.close();
          await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// Phases

/** What the server's process went through during the measured load. */
interface ServerSide {
  memory: { start: MemorySample; end: MemorySample };
  /** Event-loop delay during the measured load (ms): p50, p99, max. */
  loopDelay: { p50: number; p99: number; max: number };
}

/**
 * Runs the clients in a child process; resolves with their report. When the child says
 * the measured load starts (after its warm-up), the server's memory is sampled and the
 * event-loop delay measured from then; memory is sampled again when the load has ended.
 */
function runClients(job: Job): Promise<Report & { server: ServerSide }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let start: MemorySample | undefined;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    child.on('message', (what) => {
      if (what === 'loaded') {
        start = memoryNow();
        delay.enable();
      }
      child.send('go');
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      delay.disable();
      if (code !== 0) return reject(new Error(`the bench clients exited with ${code}`));
      const end = memoryNow();
      const loopDelay = {
        p50: delay.percentile(50) / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
      };
      resolve({
        ...(JSON.parse(out) as Report),
        server: { memory: { start: start ?? end, end }, loopDelay },
      });
    });
  });
}

async function phase(
  eng: Engine,
  name: string,
  fulfillment: boolean,
): Promise<Report & { server: ServerSide }> {
  const { db, databaseUrl, drop } = await eng.open(name);
  let app: App | undefined;
  try {
    const config = {
      ...loadConfig({
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        STRATA_AUTH_SECRET: randomBytes(32).toString('hex'),
        STRATA_MUTATIONS_PER_MINUTE: '0',
        STRATA_READ_COST_PER_MINUTE: '0',
        PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      engine: db.engine,
    };
    app = await buildApp(config, { db, fulfillment });
    const url = await app.start();
    const customers = await Promise.all(
      Array.from({ length: CUSTOMERS }, async (_, n) => {
        const id = randomUUID();
        const principal = { userId: `bench-user-${n}`, role: 'customer' as const, customerId: id };
        return { id, token: await app!.tokens.mint(principal, 3600) };
      }),
    );
    return await runClients({
      url,
      adminToken: await app.tokens.mint({ userId: 'bench-admin', role: 'admin' }, 3600),
      customers,
      products: PRODUCTS,
      warmup: WARMUP,
      orders: ORDERS,
      singles: SINGLES,
      payers: PAYERS,
      follow: fulfillment,
      timeoutMs: TIMEOUT_MS,
    });
  } finally {
    await app?.stop().catch((err: unknown) => console.error('stop failed', err));
    await drop();
  }
}

// ---------------------------------------------------------------------------------------

/** Latencies to the shipment, sorted: from the payOrder response, and from its request. */
function latencies(timings: readonly Timing[]) {
  const sorted = (f: (t: Timing) => number) => timings.map(f).sort((a, b) => a - b);
  return {
    // Negative when the shipment reached the subscriber before the payOrder response
    // reached the payer (the response waits for the read models).
    fromAnswer: sorted((t) => t.shipped! - t.answered),
    fromSent: sorted((t) => t.shipped! - t.sent),
  };
}

const serverLine = (label: string, s: ServerSide) =>
  `server during the load (${label}): event-loop delay p50 ${fmt(s.loopDelay.p50, 1)} ms, p99 ${fmt(s.loopDelay.p99, 1)} ms, max ${fmt(s.loopDelay.max, 1)} ms`;

async function main() {
  const eng = engine();
  const t0 = performance.now();
  console.log(
    `Strata fulfillment benchmark — ${eng.label}; ${ORDERS} orders per phase after ${WARMUP} warm-up, ${PAYERS} concurrent payers over HTTP (clients in a child process)`,
  );
  const base = await phase(eng, 'base', false);
  const baseRate = ORDERS / ((base.paid - base.started) / 1000);
  console.log(
    `  baseline: payOrder alone (fulfillment off) ${fmt(baseRate, 1)} orders/s (${fmt((base.paid - base.started) / 1000, 1)} s)`,
  );

  console.log(`  ${serverLine('baseline', base.server)}`);

  const ful = await phase(eng, 'ful', true);
  const payRate = ORDERS / ((ful.paid - ful.started) / 1000);
  const lastShipped = Math.max(...ful.burst.map((t) => t.shipped!));
  const carriedIn = (lastShipped - ful.started) / 1000;
  const carriedRate = ORDERS / carriedIn;
  const burst = latencies(ful.burst);
  const alone = latencies(ful.singles);
  const early = burst.fromAnswer.filter((x) => x < 0).length;
  console.log(
    `  fulfillment on: payOrder ${fmt(payRate, 1)} orders/s; carried to ShipmentCreated ${fmt(carriedRate, 1)} orders/s (${fmt(carriedIn, 1)} s)`,
  );
  console.log(`  latency to ShipmentCreated at the subscriber, ${PAYERS} payers:`);
  console.log(
    `    from the payOrder response  ${ms(burst.fromAnswer)}${early ? ` (${early} of ${ORDERS} arrived before the response)` : ''}`,
  );
  console.log(`    from the payOrder request   ${ms(burst.fromSent)}`);
  console.log(`  ${serverLine('fulfillment on', ful.server)}`);
  console.log(`  the same, ${SINGLES} orders paid one at a time:`);
  console.log(`    from the payOrder response  ${ms(alone.fromAnswer)}`);
  console.log(`    from the payOrder request   ${ms(alone.fromSent)}`);

  console.log(`\nResults (${eng.label})`);
  const rows = [
    ['measure', 'orders/s', 'ratio to baseline'],
    ['payOrder alone (baseline)', fmt(baseRate, 1), '1.00'],
    ['payOrder, fulfillment on', fmt(payRate, 1), fmt(payRate / baseRate, 2)],
    ['paid → shipment created', fmt(carriedRate, 1), fmt(carriedRate / baseRate, 2)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [n, r] of rows.entries()) {
    console.log(
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
    );
    if (n === 0) console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  }
  console.log(
    `latency payOrder response → ShipmentCreated, ${PAYERS} payers: p50 ${fmt(pct(burst.fromAnswer, 0.5), 1)} ms, p99 ${fmt(pct(burst.fromAnswer, 0.99), 1)} ms; one order at a time: p50 ${fmt(pct(alone.fromAnswer, 0.5), 1)} ms`,
  );
  console.log(
    memoryLine(
      'server memory across the load, fulfillment on',
      ful.server.memory.start,
      ful.server.memory.end,
    ),
  );
  console.log(
    memoryLine(
      'server memory across the load, baseline',
      base.server.memory.start,
      base.server.memory.end,
    ),
  );
  console.log(
    `server event-loop delay under load, fulfillment on: p99 ${fmt(ful.server.loopDelay.p99, 1)} ms, max ${fmt(ful.server.loopDelay.max, 1)} ms`,
  );
  console.log(`\ntotal run time ${fmt((performance.now() - t0) / 1000, 1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
