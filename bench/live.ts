// npm run bench:live — append→delivery latency at the client for 1, 100 and 1,000
// graphql-ws subscribers on one server process, while 200 events/s are appended; the
// baseline is a raw pg NOTIFY round trip measured in the same run. Needs DATABASE_URL
// (PostgreSQL): a scratch database is created there and dropped at the end.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/config/config.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../src/orders/decider.js';
import { OrderEvents } from '../src/orders/events.js';
import { memoryLine, memoryNow, type MemorySample } from './support.js';

const given = process.env.DATABASE_URL;
if (!given) {
  console.error(
    'bench:live needs DATABASE_URL (PostgreSQL), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres',
  );
  process.exit(2);
}
const base: string = given;
const RATE = 200;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const dbName = `strata_bench_live_${process.pid}`;
const url = new URL(base);
url.pathname = `/${dbName}`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const fmt = (n: number) => n.toFixed(2).padStart(8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function notifyBaseline(connectionString: string, rounds = 300) {
  const listener = new pg.Client({ connectionString });
  const sender = new pg.Client({ connectionString });
  await listener.connect();
  await sender.connect();
  await listener.query('LISTEN bench_rt');
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const got = new Promise<void>((resolve) => listener.once('notification', () => resolve()));
    await sender.query(`NOTIFY bench_rt, '${i}'`);
    await got;
    samples.push(performance.now() - t0);
    await sleep(2);
  }
  await listener.end();
  await sender.end();
  return samples;
}

async function main() {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const baseline = await notifyBaseline(url.toString());
    const app = await buildApp({
      ...loadConfig({
        DATABASE_URL: url.toString(),
        STRATA_AUTH_SECRET: 'b'.repeat(40),
        PORT: '0',
        LOG_LEVEL: 'silent',
        // Measures delivery, not the per-caller limits: one admin token holds every feed.
        STRATA_MUTATIONS_PER_MINUTE: '0',
        STRATA_READ_COST_PER_MINUTE: '0',
        STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '1000000',
      }),
    });
    const httpUrl = await app.start();
    const token = await app.tokens.mint({ userId: 'bench', role: 'admin' }, 3600);
    console.log(
      `\nbench:live — ${RATE} events/s for ${SECONDS} s per run, PostgreSQL ${new URL(base).host}\n`,
    );
    console.log(
      `baseline: raw pg NOTIFY round trip   p50 ${fmt(pct(baseline, 50))} ms  p99 ${fmt(pct(baseline, 99))} ms  max ${fmt(Math.max(...baseline))} ms\n`,
    );
    console.log(
      'subscribers | delivered | p50 ms   | p99 ms   | max ms   | p99 / NOTIFY p99 | store reads per 1,000 events',
    );
    const memory: {
      n: number;
      idle: MemorySample;
      connected: MemorySample;
      loaded: MemorySample;
    }[] = [];
    for (const n of [1, 100, 1000]) {
      const orderIds = Array.from({ length: n }, () => randomUUID());
      for (const id of orderIds) {
        await app.store.append(orderStreamId(id), ORDER_STREAM_TYPE, [
          OrderEvents.OrderCreated({
            orderId: id,
            customerId: randomUUID(),
            items: [],
            shippingAddress: {
              line1: '1 Bench Street',
              city: 'Leeds',
              postalCode: 'LS1 1AA',
              country: 'GB',
            },
            billingAddress: {
              line1: '1 Bench Street',
              city: 'Leeds',
              postalCode: 'LS1 1AA',
              country: 'GB',
            },
            shippingMethod: 'STANDARD',
            total: { amount: 0, currency: 'EUR' },
            createdAt: new Date().toISOString(),
          }),
        ]);
      }
      const idle = memoryNow();
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/live-client.ts',
          `${httpUrl.replace('http', 'ws')}/graphql`,
          token,
          JSON.stringify(orderIds),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout! });
      const next = () =>
        new Promise<any>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l))));
      await next(); // every subscriber has its replayed first event
      const connected = memoryNow();
      const hub = app.services.live;
      const [calls0, delivered0] = [hub.readCalls, hub.delivered];
      const total = RATE * SECONDS;
      const started = performance.now();
      for (let i = 0; i < total; i++) {
        const id = orderIds[i % n]!;
        await app.store.append(
          orderStreamId(id),
          ORDER_STREAM_TYPE,
          [
            OrderEvents.OrderItemRemoved({
              orderId: id,
              productId: randomUUID(),
              productName: 'x',
              total: { amount: 0, currency: 'EUR' },
              removedAt: new Date().toISOString(),
            }),
          ],
          {
            metadata: { sentAt: performance.timeOrigin + performance.now() },
          },
        );
        const due = started + ((i + 1) * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await sleep(500);
      const loaded = memoryNow();
      child.stdin!.write('done\n');
      const { latencies } = (await next()) as { latencies: number[] };
      const reads = hub.readCalls - calls0;
      console.log(
        `${String(n).padStart(11)} | ${String(latencies.length).padStart(9)} | ${fmt(pct(latencies, 50))} | ${fmt(pct(latencies, 99))} | ${fmt(Math.max(...latencies))} | ${(pct(latencies, 99) / pct(baseline, 99)).toFixed(1).padStart(16)} | ${((reads / total) * 1000).toFixed(0).padStart(5)} (${hub.delivered - delivered0} deliveries)`,
      );
      await new Promise((r) => child.once('exit', r));
      memory.push({ n, idle, connected, loaded });
    }
    console.log('\nmemory of the server process (--expose-gc: after a full collection):');
    for (const m of memory) {
      // Per subscriber only where there are enough of them to rise above the noise of RSS.
      const perSubscriber =
        m.n >= 1000
          ? `: ${fmt(((m.connected.rssMb - m.idle.rssMb) * 1024) / m.n).trim()} KB per subscriber`
          : '';
      console.log(
        `  ${String(m.n).padStart(4)} subscribers: RSS ${m.idle.rssMb.toFixed(0)} MB with none, ${m.connected.rssMb.toFixed(0)} MB with them connected${perSubscriber}`,
      );
      console.log(
        `  ${memoryLine(`${String(m.n).padStart(4)} subscribers, across the load`, m.connected, m.loaded)}`,
      );
    }
    await app.stop();
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
