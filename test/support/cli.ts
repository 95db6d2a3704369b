import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** Running a CLI as a user does: a child process, with only the environment given. */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli/<script>.ts …`, with no Strata variable but those in `env`. */
export function runCli(
  script: 'migrate' | 'projections' | 'seed' | 'token' | 'print-schema',
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliRun> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(STRATA_|DATABASE_URL$|NODE_ENV$|PORT$|LOG_LEVEL$)/.test(k)) base[k] = v;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `src/cli/${script}.ts`, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A failure as the CLIs promise it: a non-zero exit and one line on stderr,
 * `<cli>: <message>`, no stack trace.
 */
export function expectOneLineFailure(r: CliRun, cli: string, message: RegExp): void {
  const shown = JSON.stringify(r);
  expect(r.code, shown).toBeGreaterThan(0);
  expect(r.stderr.endsWith('\n'), shown).toBe(true);
  expect(r.stderr.trimEnd().split('\n'), shown).toHaveLength(1);
  expect(r.stderr.startsWith(`${cli}: `), shown).toBe(true);
  expect(r.stderr, shown).not.toMatch(/\bat .*:\d+:\d+/);
  expect(r.stderr, shown).toMatch(message);
}

/** A port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How the CLIs name a database, computed here from the settings. */
export function databaseName(env: { DATABASE_URL?: string; STRATA_DATA_DIR?: string }): string {
  if (!env.DATABASE_URL) return `the embedded database in ${env.STRATA_DATA_DIR}`;
  const u = new URL(env.DATABASE_URL);
  return `PostgreSQL ${u.hostname}:${u.port || '5432'}${u.pathname}`;
}
