import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_AUTH_SECRET } from '../support/app.js';
import { createTestDatabase, engine } from '../support/db.js';
import {
  cleanEnv,
  exitWithin,
  refuses,
  runToEnd,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js';

/*
 * `npm start` runs the compiled server and stops with its npm process. A signal sent to
 * npm alone (`kill %1`, a process manager, a CI job's teardown) is forwarded by npm to its
 * script's shell; /bin/sh (dash) does not exec the last command of `sh -c`, so the script
 * `exec`s node itself: the server is that process, gets the signal, shuts down gracefully
 * and frees the port and the data folder's lock before npm exits.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOCK = '.strata.lock';

beforeAll(async () => {
  // Once, outside the bounded waits below: on a fresh clone the first build takes a while;
  // the starts' own `prestart` then finds dist/ up to date.
  const r = await runToEnd(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  expect(r.code, r.output).toBe(0);
}, 300_000);

/** Where the server keeps its data on the engine under test. */
async function database(): Promise<{
  env: Record<string, string>;
  dataDir: string | undefined;
  dispose(): Promise<void>;
}> {
  if (engine === 'pglite') {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'strata-npm-start-'));
    return {
      env: { STRATA_DATA_DIR: dataDir },
      dataDir,
      dispose: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const db = await createTestDatabase({ poolSize: 1 });
  return {
    env: { DATABASE_URL: db.url!, STRATA_AUTH_SECRET: TEST_AUTH_SECRET },
    dataDir: undefined,
    dispose: () => db.dispose(),
  };
}

/** `npm start`, then `signal` to the npm process only; resolves with npm's exit code. */
async function startAndSignal(
  env: Record<string, string>,
  signal: NodeJS.Signals,
  started: ServerProcess[],
) {
  const server = await startServerProcess('npm', ['start'], { cwd: ROOT, env: cleanEnv(env) });
  started.push(server);
  process.kill(server.child.pid!, signal);
  const code = await exitWithin(server, `npm start after ${signal}`, 30_000);
  return { server, code };
}

describe(`npm start on ${engine === 'pglite' ? 'the embedded engine' : 'PostgreSQL'}`, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops with its npm process on ${signal}: the port${engine === 'pglite' ? ' and the data folder are' : ' is'} free`, async () => {
      const db = await database();
      const started: ServerProcess[] = [];
      try {
        const first = await startAndSignal(db.env, signal, started);
        expect(await refuses(first.server.port), 'the port is free').toBe(true);
        if (db.dataDir) {
          expect(existsSync(path.join(db.dataDir, LOCK)), 'the lock is released').toBe(false);
          // The folder opens again at once (not after the 10 s a stale lock takes).
          const second = await startAndSignal(db.env, signal, started);
          expect(await refuses(second.server.port)).toBe(true);
          expect(existsSync(path.join(db.dataDir, LOCK))).toBe(false);
          expect(second.code, second.server.output()).toBe(0);
        }
        // The server shut down cleanly, and npm exited with it.
        expect(first.code, first.server.output()).toBe(0);
      } finally {
        for (const s of started) s.kill();
        await db.dispose();
      }
    }, 120_000);
  }
});
