import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTokenService } from '../../src/auth/tokens.js';
import { TEST_AUTH_SECRET, type TestApp } from './app.js';

/*
 * Strata servers as real child processes on one PostgreSQL database (npm start's entry
 * point, run from the sources): for tests that signal or kill a process.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerChild {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string | null>;
  output(): string;
}

export function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      STRATA_AUTH_SECRET: TEST_AUTH_SECRET,
      PORT: '0',
      LOG_LEVEL: 'info',
      STRATA_MUTATIONS_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // The Health line has the URL in every mode (GraphiQL's is off in production mode).
      const m = /Health:\s+(http:\/\/\S+)\/health/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child, exited, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before it listened:\n${out}`));
    });
  });
}

/** The parts of TestApp that the seed helpers use, against a server in another process. */
export function remote(url: string): TestApp {
  const tokens = createTokenService({ secret: TEST_AUTH_SECRET });
  const api: Pick<TestApp, 'url' | 'graphql' | 'auth'> = {
    url,
    async graphql(query, variables, headers = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as never };
    },
    async auth(principal, ttlSeconds) {
      const token = await tokens.mint(
        { userId: principal.userId ?? `test-${principal.role}`, ...principal },
        ttlSeconds,
      );
      return { authorization: `Bearer ${token}` };
    },
  };
  return api as TestApp;
}
