import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEV_CUSTOMER_ID,
  DEV_TOKEN_TTL_SECONDS,
  DevelopmentModeError,
  devTokens,
  resolveSecret,
} from '../../src/auth/dev.js';
import { createTokenService } from '../../src/auth/tokens.js';
import { decodeJwt } from 'jose';

const SECRET = 'configured-secret-0123456789-abcdefghij';

describe('resolveSecret', () => {
  let tmp: string;
  let dataDir: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-auth-'));
    dataDir = path.join(tmp, 'nested', 'data');
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  const dev = () => ({
    authSecret: undefined,
    engine: 'pglite' as const,
    dataDir,
    nodeEnv: 'development',
  });

  it('uses the configured secret when there is one', async () => {
    expect(await resolveSecret({ ...dev(), authSecret: SECRET })).toEqual({
      secret: SECRET,
      development: false,
    });
    expect(
      await resolveSecret({
        ...dev(),
        authSecret: SECRET,
        engine: 'postgres',
        nodeEnv: 'production',
      }),
    ).toEqual({ secret: SECRET, development: false });
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing written
  });

  it('creates the development secret once (mode 0600, folder created) and reuses it', async () => {
    const first = await resolveSecret(dev());
    const file = path.join(dataDir, 'dev-secret');
    expect(first).toEqual({ secret: expect.any(String), development: true, secretFile: file });
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{64}$/); // 48 random bytes, base64url
    expect((await readFile(file, 'utf8')).trim()).toBe(first.secret);
    if (process.platform !== 'win32') {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }

    const second = await resolveSecret(dev());
    expect(second).toEqual(first);

    // Tokens minted before a "restart" still verify after it.
    const token = await createTokenService({ secret: first.secret }).mint({
      userId: 'u',
      role: 'admin',
    });
    expect(await createTokenService({ secret: second.secret }).verify(token)).toEqual({
      userId: 'u',
      role: 'admin',
    });
  });

  it('concurrent first starts agree on one secret', async () => {
    const results = await Promise.all([
      resolveSecret(dev()),
      resolveSecret(dev()),
      resolveSecret(dev()),
    ]);
    expect(new Set(results.map((r) => r.secret)).size).toBe(1);
  });

  it('different data folders get different secrets', async () => {
    const a = await resolveSecret(dev());
    const b = await resolveSecret({ ...dev(), dataDir: path.join(tmp, 'other') });
    expect(a.secret).not.toBe(b.secret);
  });

  it('refuses a truncated secret file instead of silently replacing it', async () => {
    await resolveSecret(dev());
    await writeFile(path.join(dataDir, 'dev-secret'), 'short\n');
    await expect(resolveSecret(dev())).rejects.toThrow(/delete the file/);
  });

  it('refuses development mode in production', async () => {
    const err = await resolveSecret({ ...dev(), nodeEnv: 'production' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DevelopmentModeError);
    expect((err as Error).message).toMatch(/STRATA_AUTH_SECRET is required/);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses development mode with PostgreSQL', async () => {
    await expect(resolveSecret({ ...dev(), engine: 'postgres' })).rejects.toThrow(/DATABASE_URL/);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('devTokens', () => {
  it('mints a long-lived admin and sample customer token', async () => {
    const svc = createTokenService({ secret: SECRET });
    const t = await devTokens(svc);
    expect(t.customerId).toBe(DEV_CUSTOMER_ID);
    expect(await svc.verify(t.admin)).toEqual({ userId: 'dev-admin', role: 'admin' });
    expect(await svc.verify(t.customer)).toEqual({
      userId: 'dev-customer',
      role: 'customer',
      customerId: DEV_CUSTOMER_ID,
    });
    const c = decodeJwt(t.admin);
    expect(c.exp! - c.iat!).toBe(DEV_TOKEN_TTL_SECONDS);
    expect(DEV_TOKEN_TTL_SECONDS).toBe(30 * 24 * 3600);
  });
});
