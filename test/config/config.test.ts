import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('defaults to the embedded engine with the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      engine: 'pglite',
      dataDir: './.strata',
      port: 4000,
      snapshotEvery: 50,
      authSecret: undefined,
      maxEventBytes: 256 * 1024,
    });
  });

  it('uses PostgreSQL when DATABASE_URL is set (and then needs a secret)', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/x',
      STRATA_AUTH_SECRET: 's'.repeat(32),
    });
    expect(c.engine).toBe('postgres');
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/x' })).toThrow(
      /STRATA_AUTH_SECRET \(or STRATA_AUTH_JWKS_URL\) is required/,
    );
  });

  it('accepts an external JWKS URL instead of a secret, not both', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/x',
      STRATA_AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json',
    });
    expect(c.authJwksUrl).toBe('https://id.example/.well-known/jwks.json');
    expect(() =>
      loadConfig({
        STRATA_AUTH_JWKS_URL: 'https://a.example/j',
        STRATA_AUTH_SECRET: 's'.repeat(32),
      }),
    ).toThrow(/not both/);
    expect(() => loadConfig({ STRATA_AUTH_JWKS_URL: 'ftp://a.example/j' })).toThrow(
      /http\(s\) URL/,
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' })).toMatchObject({
      engine: 'pglite',
      port: 4000,
    });
  });

  it.each([
    [{ PORT: 'abc' }, /PORT must be a whole number/],
    [{ PORT: '70000' }, /PORT must be at most 65535/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres/],
    [{ STRATA_SNAPSHOT_EVERY: '0' }, /STRATA_SNAPSHOT_EVERY must be at least 1/],
    [{ STRATA_SNAPSHOT_EVERY: '-5' }, /STRATA_SNAPSHOT_EVERY must be a whole number/],
    [{ STRATA_AUTH_SECRET: 'short' }, /at least 32 characters/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });
});
