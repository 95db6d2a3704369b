import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort } from '../support/cli.js';
import { engine, useTestDatabase } from '../support/db.js';

/*
 * Every command in the README's `sh` blocks, run as written where it can run here: the
 * GraphQL tour is tested in readme.test.ts, the shell in this file. Each command is listed
 * below with what this test does with it — run it, or why not here — so a command added to
 * the README fails this test until someone has decided. Blocks run in order with the
 * variables their `export` lines set, in a fresh embedded data folder (STRATA_DATA_DIR) on
 * PGlite, and with the README's example database URL pointed at a test database on
 * PostgreSQL (the one substitution: the README's `strata` database may be someone's own).
 */

const README = await readFile('README.md', 'utf8');
const ROOT = process.cwd();
const README_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/strata';

/** The commands of the `sh` blocks: continuation lines joined, comments and blanks dropped. */
function readmeCommands(): { block: number; command: string }[] {
  const out: { block: number; command: string }[] = [];
  [...README.matchAll(/```sh\n([\s\S]*?)```/g)].forEach((m, block) => {
    const joined = m[1]!.replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) {
      // A comment starts at a # after whitespace (none of the commands quotes one).
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command !== '' && !command.startsWith('#')) out.push({ block, command });
    }
  });
  return out;
}

type Plan =
  /** Runs to completion on that engine's pass; must exit 0 (a check may look at its output). */
  | { run: 'pglite' | 'postgres' | 'any'; check?: (out: string) => void }
  /** A server: started, awaited until its banner, then stopped with SIGTERM to npm. */
  | { serve: 'pglite' | 'postgres' }
  /** Not run by this test, and why. */
  | { elsewhere: string };

const RUN_BY_CI = 'run by .ci/run itself, before and around this suite';
const NO_DOCKER = 'Docker has no daemon on this machine';
const IMAGE =
  "test/server/image.test.ts assembles the image's files without Docker and starts the server there";
const plans: Record<string, Plan> = {
  'npm ci && npm start': { serve: 'pglite' },
  'npm test': { elsewhere: `the suite this test is part of; ${RUN_BY_CI}` },
  'createdb -h 127.0.0.1 -U postgres strata_test': {
    elsewhere: `${RUN_BY_CI} (with a database of its own)`,
  },
  'TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/strata_test npm test': {
    elsewhere: `the suite this test is part of, on PostgreSQL; ${RUN_BY_CI}`,
  },
  'npm run seed': {
    elsewhere:
      'the same command with its default size (300 orders, minutes here); the smaller one below runs, and test/cli/seed.test.ts checks what the seed makes',
  },
  'npm run seed -- --orders 50 --customers 5': {
    run: 'pglite',
    check: (out) => expect(out).toMatch(/Done in .* 5 customers, 15 products, 50 orders/),
  },
  // Also in "On PostgreSQL", with that block's secret.
  'npm run -s token -- --role admin': { run: 'any', check: expectToken },
  'npm run -s token -- --role customer --customer 00000000-0000-4000-8000-000000000001 --ttl 86400':
    { run: 'pglite', check: expectToken },
  'npm run -s token -- --role service --sub warehouse': { run: 'pglite', check: expectToken },
  'export DATABASE_URL=postgres://postgres@127.0.0.1:5432/strata': { run: 'postgres' },
  'export STRATA_AUTH_SECRET=$(openssl rand -hex 32)': { run: 'postgres' },
  'npm run migrate': { run: 'postgres', check: (out) => expect(out).toMatch(/PostgreSQL/) },
  'npm start': { serve: 'postgres' },
  'docker compose up --build': { elsewhere: NO_DOCKER },
  'docker build -t strata .': { elsewhere: `${NO_DOCKER}; ${IMAGE}` },
  "docker run --rm strata sh -c 'node --version && test -f dist/main.js && test ! -e node_modules/tsx && test ! -e node_modules/typescript && echo ok'":
    { elsewhere: `${NO_DOCKER}; ${IMAGE}` },
  'docker run --rm -p 4000:4000 -e STRATA_AUTH_SECRET=$(openssl rand -hex 32) strata': {
    elsewhere: `${NO_DOCKER}; ${IMAGE}`,
  },
  'curl -s http://localhost:4000/health': {
    elsewhere:
      'asks the container above; test/server/server.test.ts asks /health of a running server',
  },
  'docker compose exec app npm run -s token -- --role admin': { elsewhere: NO_DOCKER },
  'docker compose exec app npm run seed': { elsewhere: NO_DOCKER },
  'export DATABASE_URL=postgres://postgres@127.0.0.1:5432/strata STRATA_AUTH_SECRET=…': {
    elsewhere:
      'the secret is a placeholder (…) for the one made in "On PostgreSQL"; several processes on one database are tested in test/server/failover.pg.test.ts (three real servers, one killed, a rolling restart), test/projections/two-processes.pg.test.ts and test/live/resilience.pg.test.ts',
  },
  'PORT=4000 npm start &': { elsewhere: 'follows the placeholder line above' },
  'PORT=4001 npm start &': { elsewhere: 'follows the placeholder line above' },
  'npm run projections -- list': {
    run: 'pglite',
    check: (out) => expect(out).toMatch(/orders/),
  },
  'npm run projections -- status': { run: 'pglite' },
  'npm run projections -- rebuild orders': { run: 'pglite' },
  'npm run projections -- pause orders': { run: 'pglite' },
  'npm run projections -- resume orders': { run: 'pglite' },
  'npm run dev': { serve: 'pglite' },
  'npm run build': { run: 'pglite', check: () => undefined },
  'npm run typecheck': { elsewhere: RUN_BY_CI },
  'npm run lint': { elsewhere: RUN_BY_CI },
  'npm run schema:print': { run: 'pglite' },
  'npx vitest run test/e2e/browser.test.ts': { elsewhere: 'a file of this suite' },
};
const BENCH =
  'a benchmark: minutes of both CPUs, meant for an otherwise idle machine (docs/adr/0013, the closing notes)';

function expectToken(out: string): void {
  expect(out.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
}

function planOf(command: string): Plan | undefined {
  if (/^npm run bench:[a-z]+$/.test(command)) return { elsewhere: BENCH };
  return plans[command];
}

/** The environment of a command: the test's, less Strata's own variables, plus `env`. */
function baseEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(STRATA_|DATABASE_URL$|TEST_DATABASE_URL$|NODE_ENV$|PORT$|LOG_LEVEL$|VITEST)/.test(k))
      base[k] = v;
  return { ...base, ...env };
}

/** A process group of its own, so that nothing it started can outlive the test. */
function shell(command: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('bash', ['-c', command], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function runToEnd(command: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const child = shell(command, env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  killGroup(child);
  return { code, out };
}

/**
 * Starts a server command, waits for its banner, and stops it with SIGTERM to npm alone, as a
 * process manager would: the port must be free once npm has exited.
 */
async function serve(command: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  // `exec`, so that the signal goes to npm itself, as a process manager's would.
  const child = shell(`exec ${command}`, env);
  let out = '';
  const up = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no banner within ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const seen = (d: Buffer) => {
      out += d.toString();
      if (/Strata is up/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`exited (${code}) before its banner:\n${out}`)));
  });
  try {
    await up;
  } finally {
    const exited = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.on('exit', resolve);
    });
    child.kill('SIGTERM');
    const timer = setTimeout(() => killGroup(child), 30_000);
    await exited;
    clearTimeout(timer);
    // npm has exited; a server that is not its direct child (tsx watch's) may still be
    // finishing its graceful shutdown: a few seconds, no more.
    let stillServing = await listening(Number(env.PORT));
    for (let i = 0; stillServing && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      stillServing = await listening(Number(env.PORT));
    }
    killGroup(child);
    expect(stillServing, `${command}: the server outlived npm`).toBe(false);
  }
  return out;
}

describe('the README’s shell commands', () => {
  it('are each either run below or say why not here', () => {
    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThan(20);
    const undecided = commands.filter((c) => planOf(c.command) === undefined);
    expect(undecided.map((c) => c.command)).toEqual([]);
    const gone = Object.keys(plans).filter((p) => !commands.some((c) => c.command === p));
    expect(gone, 'plans for commands the README no longer has').toEqual([]);
  });
});

describe(`the README’s shell commands, as written, on ${engine}`, () => {
  const t = useTestDatabase();
  const folders: string[] = [];
  afterAll(async () => {
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  it('run in order, each block with what its exports set', async () => {
    const data = await mkdtemp(path.join(tmpdir(), 'strata-readme-'));
    folders.push(data);
    const port = String(await closedPort());
    const schemaBefore = await readFile('schema.graphql', 'utf8');
    const blocks = new Map<number, string[]>();
    for (const c of readmeCommands())
      blocks.set(c.block, [...(blocks.get(c.block) ?? []), c.command]);
    let ran = 0;
    for (const commands of blocks.values()) {
      let env = baseEnv({ STRATA_DATA_DIR: data, PORT: port });
      for (const written of commands) {
        const plan = planOf(written)!;
        if ('elsewhere' in plan) continue;
        const where = 'run' in plan ? plan.run : plan.serve;
        if (where !== engine && where !== 'any') continue;
        // The one substitution: the README's example database is this test's.
        const command =
          engine === 'postgres' ? written.replace(README_DATABASE_URL, t.url!) : written;
        if (command.startsWith('export ')) {
          const r = await runToEnd(`${command} && env -0`, env, 10_000);
          expect(r.code, `${written}\n${r.out}`).toBe(0);
          env = Object.fromEntries(
            r.out
              .split('\0')
              .filter((kv) => kv.includes('='))
              .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
          );
        } else if ('serve' in plan) {
          // `npm ci &&` is CI's own first step (it would replace the node_modules this runs from).
          const out = await serve(command.replace(/^npm ci && /, ''), env, 120_000);
          expect(out, written).toMatch(/Strata is up/);
        } else {
          const r = await runToEnd(command, env, 180_000);
          expect(r.code, `${written}\n${r.out}`).toBe(0);
          plan.check?.(r.out);
        }
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(engine === 'postgres' ? 3 : 10);
    // schema:print rewrites the committed file: with nothing changed, to the same text.
    expect(await readFile('schema.graphql', 'utf8')).toBe(schemaBefore);
  }, 900_000);
});
