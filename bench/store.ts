/**
 * Event store benchmark: `npm run bench:store`.
 *
 * DATABASE_URL set → PostgreSQL: a scratch database `strata_bench_<pid>` is created on that
 * server and dropped at the end. Otherwise PGlite in memory.
 *
 * Each measurement runs the store and, in the same run, a raw baseline on a scratch table
 * of the same shape as `events` (same columns and indexes; no function, no trigger):
 *   - append: one ~300-byte event per command to a new stream (expected 'noStream', with a
 *     command id) at concurrency 1 and 16; baseline: BEGIN; INSERT of the event row;
 *     COMMIT on one node-pg client (the transaction every append needs). Targets on
 *     PostgreSQL: ≥ 0.7 of it at concurrency 1, ≥ 0.8 at 16. The earlier baseline, one
 *     autocommit INSERT, is printed beside it.
 *   - readStream of a 50-event stream; baseline: SELECT … WHERE stream_id ORDER BY version.
 *   - readAll in batches of 1,000 over 100k events; baseline: SELECT … WHERE position > $1
 *     ORDER BY position LIMIT 1000.
 *
 * BENCH_SECONDS (default 5) sets the length of each append measurement; reads take 3/5 of it.
 * BENCH_DIAGNOSE=1 (PostgreSQL) adds variants that explain the append ratio.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { openPglite } from '../src/db/pglite.js';
import { openPostgres } from '../src/db/postgres.js';
import type { Db, Queryable } from '../src/db/types.js';
import { EventStore, type NewEvent } from '../src/eventstore/index.js';
import { EVENTS_CHANNEL, Notifier } from '../src/eventstore/notifier.js';
import pino from 'pino';
import {
  BENCH_METADATA,
  fmt,
  orderPayload,
  memoryLine,
  memoryNow,
  pgTx,
  RAW_INSERT,
  RAW_TABLE,
  rawInsertParams,
  printColumns,
} from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const READ_SECONDS = Math.max(1, (SECONDS * 3) / 5);
const WARMUP_MS = 300;
const READ_ALL_EVENTS = 100_000;
const READ_ALL_BATCH = 1_000;
const STREAM_LENGTH = 50;
const DIAGNOSE = process.env.BENCH_DIAGNOSE === '1';

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
  console.error('\ninterrupted: finishing the current measurement and cleaning up');
});

// ---------------------------------------------------------------------------------------
// Engines

interface Engine {
  label: string;
  /** The store's database handle. */
  db: Db;
  /** Raw access for baselines: plain `pg` pool on PostgreSQL, `pglite.query` on PGlite. */
  raw: Queryable;
  /**
   * The transaction every append needs, by hand: BEGIN; one statement; COMMIT on one
   * client (node-pg), the physical floor of an append.
   */
  rawTx(sql: string, params: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

async function openEngine(): Promise<Engine> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = await openPglite();
    await migrate(db);
    const version = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]!.v;
    const raw: Queryable = {
      async query<R>(sql: string, params?: readonly unknown[]) {
        const r = await db.pglite.query<R>(sql, params as unknown[] | undefined);
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
      },
    };
    const rawTx = (sql: string, params: unknown[]) =>
      db.pglite.transaction((tx) => tx.query(sql, params));
    return { label: `PGlite ${version} (in memory)`, db, raw, rawTx, close: () => db.close() };
  }
  const name = `strata_bench_${process.pid}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name}`);
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const db = openPostgres({
    connectionString: u.toString(),
    max: 18,
    applicationName: 'strata-bench',
  });
  const pool = new pg.Pool({
    connectionString: u.toString(),
    max: 18,
    application_name: 'strata-bench-raw',
  });
  // DROP DATABASE … WITH (FORCE) at the end ends its idle sessions: not an error here.
  pool.on('error', () => undefined);
  const close = async () => {
    await db.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  try {
    await migrate(db);
    const settings = (
      await db.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync') ORDER BY name`,
      )
    ).rows;
    const s = Object.fromEntries(settings.map((r) => [r.name, r.setting]));
    const raw: Queryable = {
      async query<R>(sql: string, params?: readonly unknown[]) {
        const r = await pool.query(sql, params as unknown[] | undefined);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
    };
    const rawTx = (sql: string, params: unknown[]) => pgTx(pool, sql, params);
    return {
      label: `PostgreSQL ${s.server_version} at ${u.host}, database ${name} (fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit})`,
      db,
      raw,
      rawTx,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Workload

function event(i: number): NewEvent {
  return { type: 'OrderPlaced', data: orderPayload(i) };
}

const RAW_COLUMNS = `event_id, stream_id, stream_type, event_type, schema_version, stream_version,
  global_position, transaction_id::text AS transaction_id, recorded_at, data, metadata, correlation_id, causation_id`;

// ---------------------------------------------------------------------------------------
// Measurement

interface Rate {
  ops: number;
  seconds: number;
  perSecond: number;
}

let counter = 0;
async function run(
  concurrency: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<unknown>,
): Promise<Rate> {
  const started = performance.now();
  const until = started + seconds * 1000;
  const loop = async (worker: number) => {
    let ops = 0;
    while (performance.now() < until && !stopping) {
      await op(worker, counter++);
      ops += 1;
    }
    return ops;
  };
  const ops = (await Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w)))).reduce(
    (a, b) => a + b,
    0,
  );
  const elapsed = (performance.now() - started) / 1000;
  return { ops, seconds: elapsed, perSecond: ops / elapsed };
}

/**
 * Store and baselines in alternating one-second slices (after a warm-up of each), so that
 * load from elsewhere on the machine falls on all of them alike.
 */
async function compareAll<K extends string>(
  concurrency: number,
  seconds: number,
  ops: Record<K, (worker: number, i: number) => Promise<unknown>>,
): Promise<Record<K, Rate>> {
  const entries = Object.entries(ops) as [K, (worker: number, i: number) => Promise<unknown>][];
  for (const [, op] of entries) await run(concurrency, WARMUP_MS / 1000, op);
  const total = Object.fromEntries(
    entries.map(([k]) => [k, { ops: 0, seconds: 0, perSecond: 0 }]),
  ) as Record<K, Rate>;
  const slices = Math.max(1, Math.round(seconds));
  for (let i = 0; i < slices && !stopping; i++) {
    for (const [key, op] of entries) {
      const r = await run(concurrency, seconds / slices, op);
      total[key].ops += r.ops;
      total[key].seconds += r.seconds;
    }
  }
  for (const r of Object.values<Rate>(total)) r.perSecond = r.ops / r.seconds;
  return total;
}

/** The store against one baseline, alternating. */
const compare = (
  concurrency: number,
  seconds: number,
  storeOp: (worker: number, i: number) => Promise<unknown>,
  rawOp: (worker: number, i: number) => Promise<unknown>,
): Promise<{ store: Rate; raw: Rate }> =>
  compareAll(concurrency, seconds, { store: storeOp, raw: rawOp });

interface Row {
  name: string;
  unit: string;
  store: Rate;
  raw: Rate;
  target?: number;
}

const rows: Row[] = [];
const notes: string[] = [];

function printTable(title: string) {
  const header = ['measurement', 'store', 'raw baseline', 'ratio', 'target', ''];
  const body = rows.map((r) => {
    const ratio = r.store.perSecond / r.raw.perSecond;
    const verdict = r.target === undefined ? '' : ratio >= r.target ? 'ok' : 'BELOW';
    return [
      r.name,
      `${fmt(r.store.perSecond)} ${r.unit}`,
      `${fmt(r.raw.perSecond)} ${r.unit}`,
      fmt(ratio, 2),
      r.target === undefined ? '-' : `≥ ${fmt(r.target, 2)}`,
      verdict,
    ];
  });
  console.log(`\n${title}`);
  printColumns(header, body);
  for (const n of notes) console.log(n);
}

// ---------------------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  const engine = await openEngine();
  const { db, raw } = engine;
  const pgEngine = db.engine === 'postgres';
  console.log(`Strata event store benchmark — ${engine.label}`);
  console.log(
    `append measurements ${SECONDS} s each, reads ${READ_SECONDS} s each, after ${WARMUP_MS} ms warm-up`,
  );
  try {
    await db.query(`CREATE TABLE ${RAW_TABLE} (LIKE events INCLUDING ALL)`);
    // As the server runs it: readers are woken after commit, coalesced (docs/adr/0005).
    const notifier = new Notifier(db, pino({ level: 'silent' }));
    const store = new EventStore(db, { afterCommit: () => notifier.announce(EVENTS_CHANNEL) });
    const run = `${process.pid}-${Date.now().toString(36)}`;
    const memoryAtStart = memoryNow();

    // (a) appends to new streams. The baseline is the transaction an append needs (BEGIN,
    // one INSERT of the event row, COMMIT on one client); the single autocommit INSERT, the
    // earlier baseline, is printed beside it.
    for (const concurrency of [1, 16]) {
      const r = await compareAll(concurrency, SECONDS, {
        store: (w, i) =>
          store.append(`bench-${run}-c${concurrency}-${w}-${i}`, 'order', [event(i)], {
            expected: 'noStream',
            commandId: randomUUID(),
            metadata: BENCH_METADATA,
          }),
        tx: (w, i) =>
          engine.rawTx(RAW_INSERT, rawInsertParams(i, `rawtx-${run}-c${concurrency}-${w}-${i}`)),
        autocommit: (w, i) =>
          raw.query(RAW_INSERT, rawInsertParams(i, `raw-${run}-c${concurrency}-${w}-${i}`)),
      });
      console.log(
        `  append c=${concurrency}: store ${fmt(r.store.perSecond)}/s, BEGIN/INSERT/COMMIT ${fmt(r.tx.perSecond)}/s, autocommit INSERT ${fmt(r.autocommit.perSecond)}/s`,
      );
      rows.push({
        name: `append, new stream, concurrency ${concurrency}`,
        unit: 'appends/s',
        store: r.store,
        raw: r.tx,
        target: pgEngine ? (concurrency === 1 ? 0.7 : 0.8) : undefined,
      });
      notes.push(
        `append c=${concurrency} against the earlier baseline (one autocommit INSERT, ${fmt(r.autocommit.perSecond)}/s): ratio ${fmt(r.store.perSecond / r.autocommit.perSecond, 2)}`,
      );
    }

    // (b) readStream of a 50-event stream (several such streams, read in turn).
    const streams = Array.from({ length: 20 }, (_, k) => `long-${run}-${k}`);
    for (const streamId of streams) {
      await store.append(
        streamId,
        'order',
        Array.from({ length: STREAM_LENGTH }, (_, i) => event(i)),
        { expected: 'noStream', metadata: BENCH_METADATA },
      );
    }
    await db.query(
      `INSERT INTO ${RAW_TABLE} (event_id, stream_id, stream_type, event_type, schema_version, stream_version, data, metadata, correlation_id, causation_id)
       SELECT gen_random_uuid(), stream_id, stream_type, event_type, schema_version, stream_version, data, metadata, correlation_id, causation_id
       FROM events WHERE stream_id = ANY($1::text[]) ORDER BY global_position`,
      [streams],
    );
    await db.query(`ANALYZE events`);
    await db.query(`ANALYZE ${RAW_TABLE}`);
    const readConcurrency = [1, ...(pgEngine ? [16] : [])];
    for (const concurrency of readConcurrency) {
      const { store: s, raw: r } = await compare(
        concurrency,
        READ_SECONDS,
        async (_, i) => {
          const events = await store.readStream(streams[i % streams.length]!);
          if (events.length !== STREAM_LENGTH) throw new Error(`read ${events.length} events`);
        },
        async (_, i) => {
          const res = await raw.query(
            `SELECT ${RAW_COLUMNS} FROM ${RAW_TABLE} WHERE stream_id = $1 ORDER BY stream_version LIMIT 1000`,
            [streams[i % streams.length]!],
          );
          if (res.rows.length !== STREAM_LENGTH) throw new Error(`read ${res.rows.length} rows`);
        },
      );
      rows.push({
        name: `readStream, ${STREAM_LENGTH} events, concurrency ${concurrency}`,
        unit: 'reads/s',
        store: s,
        raw: r,
      });
      console.log(
        `  readStream c=${concurrency}: store ${fmt(s.perSecond)}/s, raw ${fmt(r.perSecond)}/s`,
      );
    }

    // (c) readAll over 100k events in batches of 1,000. Fill up to 100k events in the log
    // with multi-event appends (100 events each) from several writers, then copy the log
    // into the raw table so both read the same rows.
    const have = (await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM events')).rows[0]!
      .n;
    const missing = Math.max(0, READ_ALL_EVENTS - have);
    const batches = Math.ceil(missing / 100);
    let next = 0;
    await Promise.all(
      Array.from({ length: pgEngine ? 8 : 1 }, async () => {
        for (let b = next++; b < batches; b = next++) {
          await store.appendMany(
            Array.from({ length: 10 }, (_, k) => ({
              streamId: `fill-${run}-${b}-${k}`,
              streamType: 'order',
              expected: 'noStream' as const,
              events: Array.from({ length: 10 }, (_, i) => event(i)),
            })),
            { metadata: BENCH_METADATA },
          );
        }
      }),
    );
    await db.query(`TRUNCATE ${RAW_TABLE}`);
    await db.query(
      `INSERT INTO ${RAW_TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM events ORDER BY global_position`,
    );
    await db.query(
      `SELECT setval(pg_get_serial_sequence('${RAW_TABLE}', 'global_position'), (SELECT max(global_position) FROM ${RAW_TABLE}))`,
    );
    await db.query(`VACUUM ANALYZE events`);
    await db.query(`VACUUM ANALYZE ${RAW_TABLE}`);
    const total = (await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM events')).rows[0]!
      .n;

    const readAllPass = async () => {
      let after: string | null = null;
      let read = 0;
      while (read < READ_ALL_EVENTS) {
        const page = await store.readAll({ after, limit: READ_ALL_BATCH });
        if (page.length === 0) throw new Error(`log ended after ${read} events`);
        read += page.length;
        after = page[page.length - 1]!.cursor;
      }
      return read;
    };
    const rawPass = async () => {
      let last = 0;
      let read = 0;
      while (read < READ_ALL_EVENTS) {
        const res = await raw.query<{ global_position: number | string }>(
          `SELECT ${RAW_COLUMNS} FROM ${RAW_TABLE} WHERE global_position > $1 ORDER BY global_position LIMIT ${READ_ALL_BATCH}`,
          [last],
        );
        if (res.rows.length === 0) throw new Error(`raw log ended after ${read} rows`);
        read += res.rows.length;
        last = Number(res.rows[res.rows.length - 1]!.global_position);
      }
      return read;
    };
    // Whole passes of 100k events, alternating store and baseline, after one pass of each.
    await readAllPass();
    await rawPass();
    const s = { ops: 0, seconds: 0, perSecond: 0 };
    const r = { ops: 0, seconds: 0, perSecond: 0 };
    const t0 = performance.now();
    do {
      for (const [rate, pass] of [
        [s, readAllPass],
        [r, rawPass],
      ] as const) {
        const t = performance.now();
        rate.ops += await pass();
        rate.seconds += (performance.now() - t) / 1000;
      }
    } while (performance.now() - t0 < 2 * READ_SECONDS * 1000 && !stopping);
    s.perSecond = s.ops / s.seconds;
    r.perSecond = r.ops / r.seconds;
    rows.push({
      name: `readAll, batches of ${fmt(READ_ALL_BATCH)} over ${fmt(READ_ALL_EVENTS)} events`,
      unit: 'events/s',
      store: s,
      raw: r,
      target: 0.7,
    });
    console.log(
      `  readAll: store ${fmt(s.perSecond)} events/s, raw ${fmt(r.perSecond)} events/s (log holds ${fmt(total)} events)`,
    );

    notes.push(memoryLine('memory of this process across the load', memoryAtStart, memoryNow()));
    if (DIAGNOSE && pgEngine) await diagnose(engine, run);

    printTable(`Results (${engine.label})`);
    console.log(`\ntotal run time ${fmt((performance.now() - started) / 1000, 1)} s`);
  } finally {
    await engine.close();
  }
}

/**
 * PostgreSQL only: variants that isolate where the append time goes, each against the raw
 * baseline in alternating slices. They run in the scratch database and change nothing
 * outside it (the function is swapped there and restored).
 */
async function diagnose(engine: Engine, run: string) {
  const { db, raw } = engine;
  const store = new EventStore(db);
  const fn = (
    await db.query<{ def: string }>(`SELECT pg_get_functiondef('strata_append'::regproc) AS def`)
  ).rows[0]!.def;
  const withoutNotify = fn.replace(
    /PERFORM pg_notify\('strata_events', ''\);/,
    '-- (notify removed for the benchmark)',
  );
  if (withoutNotify === fn) throw new Error('could not find the NOTIFY in strata_append');
  const append = (tag: string) => (w: number, i: number) =>
    store.append(`${tag}-${run}-${w}-${i}`, 'order', [event(i)], {
      expected: 'noStream',
      commandId: randomUUID(),
      metadata: BENCH_METADATA,
    });
  const variants: [string, (w: number, i: number) => Promise<unknown>, string?][] = [
    [
      'raw INSERT + pg_notify, one statement',
      (w, i) =>
        raw.query(
          `WITH ins AS (${RAW_INSERT} RETURNING 1) SELECT pg_notify('strata_bench', '') FROM ins`,
          rawInsertParams(i, `rn-${run}-${w}-${i}`),
        ),
    ],
    [
      'raw 3 INSERTs (stream, command, event), one statement',
      (w, i) =>
        raw.query(
          `WITH s AS (INSERT INTO streams (stream_id, stream_type, version) VALUES ($2, $3, 1) RETURNING 1),
              c AS (INSERT INTO processed_commands (command_id, request_hash, result) VALUES ($11, 'h', '{}') RETURNING 1)
         ${RAW_INSERT}`,
          [...rawInsertParams(i, `r3-${run}-${w}-${i}`), randomUUID()],
        ),
    ],
    ['store append (as is)', append('d0')],
    ['store append, strata_append without pg_notify', append('d1'), withoutNotify],
    [
      'store append without pg_notify, then pg_notify on its own',
      async (w, i) => {
        await append('d2')(w, i);
        await db.query(`SELECT pg_notify('strata_events', '')`);
      },
      withoutNotify,
    ],
  ];
  console.log('  diagnostics (each against the raw single INSERT, alternating):');
  for (const c of [1, 16]) {
    for (const [name, op, def] of variants) {
      if (def) await db.query(def);
      try {
        const { store: v, raw: r } = await compare(c, SECONDS, op, (w, i) =>
          raw.query(RAW_INSERT, rawInsertParams(i, `rd-${run}-${c}-${w}-${i}`)),
        );
        console.log(
          `    c=${String(c).padStart(2)}  ${name.padEnd(58)} ${fmt(v.perSecond).padStart(6)}/s  raw ${fmt(r.perSecond).padStart(6)}/s  ratio ${fmt(v.perSecond / r.perSecond, 2)}`,
        );
      } finally {
        if (def) await db.query(fn);
      }
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
