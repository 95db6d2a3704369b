import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import pg from 'pg';

/** Helpers every benchmark shares: number formats, percentiles, scratch databases, payloads. */

/** A number as a person reads it: thousands separated, `digits` decimals. */
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The `q` quantile (0–1) of ascending `sorted` samples; NaN for none. */
export const pct = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Runs one statement on its own connection (CREATE/DROP DATABASE cannot share a pool). */
export async function admin(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** About 300 bytes of JSON, like an order's first event: the payload of raw appends. */
export function orderPayload(i: number) {
  return {
    orderId: `ord-${i.toString().padStart(10, '0')}`,
    customerId: 'cus-000000042',
    currency: 'EUR',
    lines: [
      { sku: 'SKU-RED-SHIRT-M', quantity: 2, unitPrice: 1999 },
      { sku: 'SKU-BLUE-JEANS-32', quantity: 1, unitPrice: 5999 },
      { sku: 'SKU-SOCKS-3PK', quantity: 3, unitPrice: 899 },
    ],
    shippingAddress: {
      line1: '12 Example Street',
      city: 'Springfield',
      postcode: '12345',
      country: 'DE',
    },
    total: 12694,
  };
}

/** The metadata of raw appends. */
export const BENCH_METADATA = {
  userId: 'usr-000000042',
  role: 'customer',
  correlationId: 'corr-bench',
};

/** A process's memory as a benchmark reports it (MB). */
export interface MemorySample {
  rssMb: number;
  heapMb: number;
}

/** Memory now, after a full collection when node runs with --expose-gc (the bench scripts do). */
export const memoryNow = (): MemorySample => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 };
};

// ---------------------------------------------------------------------------------------
// CPU time, to say where an operation's cost goes (Linux /proc; null elsewhere)

/** CPU seconds used so far: this process, the PostgreSQL server's processes, the machine. */
export interface CpuSample {
  process: number;
  postgres: number | null;
  machine: number | null;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of every process whose name is `postgres` (a server on this machine). */
function postgresSeconds(): number | null {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // it ended meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    }
    return ticks / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine, all CPUs (user, nice, system, irq, softirq). */
function machineSeconds(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    const [user, nice, system, , , irq, softirq] = f.map(Number);
    return (user! + nice! + system! + irq! + softirq!) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

export function cpuNow(): CpuSample {
  const u = process.cpuUsage();
  return {
    process: (u.user + u.system) / 1e6,
    postgres: postgresSeconds(),
    machine: machineSeconds(),
  };
}

/** CPU seconds between two samples. */
export function cpuSince(start: CpuSample, end: CpuSample = cpuNow()): CpuSample {
  // A process that ended meanwhile takes its CPU time with it: a negative sum is unknown.
  const d = (a: number | null, b: number | null) =>
    a === null || b === null || b < a ? null : b - a;
  return {
    process: end.process - start.process,
    postgres: d(start.postgres, end.postgres),
    machine: d(start.machine, end.machine),
  };
}

/** Adds `b` to `a` (null stays null). */
export function cpuAdd(a: CpuSample, b: CpuSample): CpuSample {
  return {
    process: a.process + b.process,
    postgres: a.postgres === null || b.postgres === null ? null : a.postgres + b.postgres,
    machine: a.machine === null || b.machine === null ? null : a.machine + b.machine,
  };
}

export const NO_CPU: CpuSample = { process: 0, postgres: 0, machine: 0 };

/**
 * "RSS 120 → 131 MB (+9%), heap 40 → 44 MB (+10%)": memory at the start and the end of a
 * load, with the growth that the benchmarks bound at 20%.
 */
export function memoryLine(label: string, start: MemorySample, end: MemorySample): string {
  const growth = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt(((b - a) / a) * 100)}%`;
  const worst = Math.max(
    (end.rssMb - start.rssMb) / start.rssMb,
    (end.heapMb - start.heapMb) / start.heapMb,
  );
  return `${label}: RSS ${fmt(start.rssMb)} → ${fmt(end.rssMb)} MB (${growth(start.rssMb, end.rssMb)}), heap ${fmt(start.heapMb)} → ${fmt(end.heapMb)} MB (${growth(start.heapMb, end.heapMb)}) ${worst <= 0.2 ? 'ok (≤ +20%)' : 'ABOVE +20%'}`;
}

// ---------------------------------------------------------------------------------------
// Raw event rows: the physical floor of an append (bench/store.ts, bench/commands.ts)

/** A scratch table of the same shape as `events`: `CREATE TABLE … (LIKE events INCLUDING ALL)`. */
export const RAW_TABLE = 'bench_raw_events';
export const RAW_INSERT = `INSERT INTO ${RAW_TABLE} (event_id, stream_id, stream_type, event_type, schema_version,
  stream_version, data, metadata, correlation_id, causation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;

/** The parameters of {@link RAW_INSERT}: one ~300-byte event row of a new stream. */
export function rawInsertParams(i: number, streamId: string): unknown[] {
  return [
    randomUUID(),
    streamId,
    'order',
    'OrderPlaced',
    1,
    1,
    JSON.stringify(orderPayload(i)),
    JSON.stringify(BENCH_METADATA),
    BENCH_METADATA.correlationId,
    null,
  ];
}

/**
 * The transaction every append needs, by hand: BEGIN; one statement; COMMIT on one client
 * of `pool` (node-pg).
 */
export async function pgTx(pool: pg.Pool, sql: string, params: unknown[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql, params);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------------------
// Closed-loop measurement (in process, and in bench/http-load.ts)

/** What one closed-loop run measured. */
export interface LoopResult {
  /** Measured operations (after the warm-up), failures included. */
  ops: number;
  failures: number;
  /** Operations during the warm-up (not measured). */
  warmupOps: number;
  seconds: number;
  /** Latency in ms of each measured operation, in completion order. */
  latencies: number[];
  /** When each measured operation started (ms since the epoch), in the same order. */
  starts: number[];
}

/**
 * Runs `op` from `concurrency` loops, each starting the next operation when its previous
 * one ended: `warmupMs` unmeasured, then `seconds` measured. `op` resolves false on a
 * failure; `stop` ends the run early.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  warmupMs: number,
  op: (worker: number, i: number) => Promise<boolean>,
  stop: () => boolean = () => false,
): Promise<LoopResult> {
  let counter = 0;
  const r: LoopResult = {
    ops: 0,
    failures: 0,
    warmupOps: 0,
    seconds: 0,
    latencies: [],
    starts: [],
  };
  const loop = async (worker: number, until: number, record: boolean) => {
    while (performance.now() < until && !stop()) {
      const t0 = performance.now();
      const good = await op(worker, counter++);
      if (!record) {
        r.warmupOps += 1;
        continue;
      }
      r.latencies.push(performance.now() - t0);
      r.starts.push(performance.timeOrigin + t0);
      r.ops += 1;
      if (!good) r.failures += 1;
    }
  };
  const warmUntil = performance.now() + warmupMs;
  await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w, warmUntil, false)));
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w, until, true)));
  r.seconds = (performance.now() - started) / 1000;
  return r;
}

/** Rates and latencies of one or more runs of the same thing, taken together. */
export interface Summary {
  ops: number;
  failures: number;
  seconds: number;
  /** Successful operations per second. */
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(runs: readonly LoopResult[]): Summary {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ops = runs.reduce((a, r) => a + r.ops, 0);
  const failures = runs.reduce((a, r) => a + r.failures, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  return {
    ops,
    failures,
    seconds,
    perSecond: seconds > 0 ? (ops - failures) / seconds : NaN,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? NaN,
  };
}

/** Prints a results table: the first column left-aligned, the others right-aligned. */
export function printColumns(
  header: readonly string[],
  body: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

/**
 * BENCH_CPU_PROFILE=<folder>: a CPU profile of this process (the server under test) over
 * one part of a benchmark, written as `<name>.cpuprofile`, for `node --cpu-prof`-style
 * analysis without the baselines and the set-up mixed in. Undefined when not asked for.
 */
export async function startProfile(): Promise<{ stop(name: string): Promise<void> } | undefined> {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(name) {
      const { profile } = await session.post('Profiler.stop');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}
