import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSecret } from '../../src/auth/dev.js';
import { createTokenService } from '../../src/auth/tokens.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'cli-test-secret-0123456789-abcdefghijkl';
const CUSTOMER_ID = '3f9c1f5e-8d3a-4b7e-9a51-2c6d7e8f9a0b';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let tmp: string;

/** `node --import tsx src/cli/token.ts …` with a clean Strata environment plus `env`. */
function run(
  args: string[],
  env: Record<string, string> = { STRATA_AUTH_SECRET: SECRET },
): Promise<Run> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('STRATA_') && k !== 'DATABASE_URL' && k !== 'NODE_ENV') base[k] = v;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/token.ts', ...args],
      {
        cwd: ROOT,
        env: { ...base, STRATA_DATA_DIR: path.join(tmp, 'data'), ...env },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-token-cli-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('npm run token', () => {
  const service = createTokenService({ secret: SECRET });

  it('prints only an admin token, with sub cli-admin by default', async () => {
    const r = await run(['--role', 'admin']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(await service.verify(r.stdout.trim())).toEqual({ userId: 'cli-admin', role: 'admin' });
  });

  it('mints customer and service tokens with --customer, --sub and --ttl', async () => {
    const c = await run([
      '--role',
      'customer',
      '--customer',
      CUSTOMER_ID,
      '--sub',
      'bob',
      '--ttl',
      '120',
    ]);
    expect(c.code).toBe(0);
    expect(await service.verify(c.stdout.trim())).toEqual({
      userId: 'bob',
      role: 'customer',
      customerId: CUSTOMER_ID,
    });
    const [, payload] = c.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    expect(claims.exp - claims.iat).toBe(120);

    const s = await run(['--role', 'service']);
    expect(await service.verify(s.stdout.trim())).toEqual({
      userId: 'cli-service',
      role: 'service',
    });
  });

  it('in development mode mints for the dev secret in the data folder', async () => {
    const r = await run(['--role', 'admin'], {});
    expect(r.code).toBe(0);
    const { secret, development } = await resolveSecret({
      authSecret: undefined,
      engine: 'pglite',
      dataDir: path.join(tmp, 'data'),
      nodeEnv: 'development',
    });
    expect(development).toBe(true);
    expect(await createTokenService({ secret }).verify(r.stdout.trim())).toEqual({
      userId: 'cli-admin',
      role: 'admin',
    });
  });

  it.each([
    ['unknown role', ['--role', 'root'], /role/],
    ['no role', [], /^token: say which role .*--role admin\|customer\|service/],
    ['customer without --customer', ['--role', 'customer'], /--customer/],
    ['customer id not a uuid', ['--role', 'customer', '--customer', 'c-42'], /uuid/],
    ['--customer on another role', ['--role', 'admin', '--customer', CUSTOMER_ID], /--customer/],
    ['ttl not a number', ['--role', 'admin', '--ttl', 'soon'], /ttl/],
    ['ttl zero', ['--role', 'admin', '--ttl', '0'], /ttl/],
    ['ttl negative', ['--role', 'admin', '--ttl', '-5'], /ttl|-5/],
    ['empty sub', ['--role', 'admin', '--sub', ''], /--sub/],
    ['stray argument', ['--role', 'admin', 'extra'], /argument/],
  ])('%s → exit 2, message on stderr, nothing on stdout', async (_name, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('refuses development mode in production (exit 2)', async () => {
    const r = await run(['--role', 'admin'], { NODE_ENV: 'production' });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/STRATA_AUTH_SECRET/);
  });

  it('refuses to sign when tokens come from an identity provider (exit 2, one line)', async () => {
    const r = await run(['--role', 'admin'], {
      STRATA_AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json',
    });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^token: STRATA_AUTH_JWKS_URL is set: .*identity provider[^\n]*\n$/);
  });

  it("runs each of the README's token commands as written, with the PostgreSQL settings", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    // Every mention, also in prose: a bare `npm run -s token` there would be one that fails.
    const commands = [...readme.matchAll(/npm run -s token(?: -- ([^`\n#]*))?/g)].map((m) =>
      (m[1] ?? '').trim(),
    );
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const args of new Set(commands)) {
      const r = await run(args === '' ? [] : args.split(/\s+/), {
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/strata',
        STRATA_AUTH_SECRET: SECRET,
      });
      expect(r, `npm run -s token -- ${args}`).toMatchObject({ code: 0, stderr: '' });
      expect(await service.verify(r.stdout.trim())).toMatchObject({
        role: /--role (\w+)/.exec(args)![1],
      });
    }
  });

  it('refuses a database without a secret (exit 2)', async () => {
    const r = await run(['--role', 'admin'], { DATABASE_URL: 'postgres://localhost/strata' });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/STRATA_AUTH_SECRET/);
  });
});
