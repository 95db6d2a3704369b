// Child process of the benchmarks: an HTTP load generator for a GraphQL endpoint, kept out
// of the server's process so that the server under test has the bench process's event loop
// to itself. Reads jobs (LoadJob, one JSON object a line) on stdin; for each, runs
// `concurrency` closed-loop workers with fetch (keep-alive: the connections stay open from
// one job to the next) for a warm-up and then `seconds`, and answers with one JSON line
// (LoadReport). Exits when stdin ends. Started through `startLoadGenerator()` below.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { closedLoop, type LoopResult } from './support.js';

/**
 * One measurement. The variables of each request are `variables` with these strings
 * replaced: "$uuid" by a new uuid; "$w:KEY" by `workers[w % workers.length][KEY]` of the
 * sending worker w; "$i:LIST:K" by `lists[LIST][(i + K) % length]`, i counting requests.
 */
export interface LoadJob {
  /** The GraphQL endpoint. */
  url: string;
  query: string;
  variables: unknown;
  concurrency: number;
  seconds: number;
  warmupMs: number;
  /** Bearer tokens: worker w sends `tokens[w % tokens.length]`; none, no authorization. */
  tokens?: string[];
  workers?: Record<string, unknown>[];
  lists?: Record<string, unknown[]>;
  /** A request succeeded when it answered 200 with `data[field]` (of this __typename, if given). */
  expect: { field: string; typename?: string };
}

export interface LoadReport extends LoopResult {
  /** Successful measured requests per second. */
  rate: number;
  p50: number;
  p99: number;
  /** The first few failed answers: status and the start of the body. */
  failureSamples: string[];
}

function fill(template: unknown, worker: number, i: number, job: LoadJob): unknown {
  if (typeof template === 'string') {
    if (template === '$uuid') return randomUUID();
    if (template.startsWith('$w:')) {
      const w = job.workers![worker % job.workers!.length]!;
      return w[template.slice(3)];
    }
    if (template.startsWith('$i:')) {
      const [, list, k] = template.split(':') as [string, string, string];
      const xs = job.lists![list]!;
      return xs[(i + Number(k)) % xs.length];
    }
    return template;
  }
  if (Array.isArray(template)) return template.map((t) => fill(t, worker, i, job));
  if (template && typeof template === 'object') {
    return Object.fromEntries(
      Object.entries(template).map(([k, v]) => [k, fill(v, worker, i, job)]),
    );
  }
  return template;
}

async function run(job: LoadJob): Promise<LoadReport> {
  const failureSamples: string[] = [];
  const op = async (worker: number, i: number) => {
    const token = job.tokens?.length ? job.tokens[worker % job.tokens.length] : undefined;
    const res = await fetch(job.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: job.query, variables: fill(job.variables, worker, i, job) }),
    });
    const text = await res.text();
    let good = res.status === 200;
    if (good) {
      try {
        const v = (JSON.parse(text) as { data?: Record<string, any> }).data?.[job.expect.field];
        good =
          v != null && (job.expect.typename === undefined || v.__typename === job.expect.typename);
      } catch {
        good = false;
      }
    }
    if (!good && failureSamples.length < 3)
      failureSamples.push(`${res.status} ${text.slice(0, 300)}`);
    return good;
  };
  const r = await closedLoop(job.concurrency, job.seconds, job.warmupMs, op);
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    ...r,
    rate: (r.ops - r.failures) / r.seconds,
    p50: at(0.5),
    p99: at(0.99),
    failureSamples,
  };
}

/** The parent's handle on a load generator child. */
export interface LoadGenerator {
  run(job: LoadJob): Promise<LoadReport>;
  /** Ends the child (closing its stdin) and waits for it to exit. */
  close(): Promise<void>;
}

/** Starts bench/http-load.ts in a child process (node --import tsx). */
export function startLoadGenerator(): LoadGenerator {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiting: { resolve(r: LoadReport): void; reject(e: Error): void }[] = [];
  let gone: Error | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    const answer = JSON.parse(line) as LoadReport | { error: string };
    if (!w) return;
    if ('error' in answer) w.reject(new Error(`load generator: ${answer.error}`));
    else w.resolve(answer);
  });
  child.once('exit', (code, signal) => {
    gone = new Error(`the load generator exited (${signal ?? code})`);
    for (const w of waiting.splice(0)) w.reject(gone);
  });
  return {
    run(job) {
      if (gone) return Promise.reject(gone);
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin!.write(JSON.stringify(job) + '\n');
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin!.end();
        const timer = setTimeout(() => child.kill(), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

// As the child: one job a line, one report a line, in order.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // SIGINT reaches the whole process group: the parent finishes and ends this child.
  process.on('SIGINT', () => undefined);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      process.stdout.write(JSON.stringify(await run(JSON.parse(line) as LoadJob)) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ error: String(err) }) + '\n');
    }
  }
  process.exit(0);
}
