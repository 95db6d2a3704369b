import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  loadDatabaseConfig,
  loadPort,
  loadTokenConfig,
} from '../../src/config/config.js';

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

  it('reads one or more replicas from DATABASE_READ_URL, only beside DATABASE_URL', () => {
    const primary = { DATABASE_URL: 'postgres://u@p:5432/x', STRATA_AUTH_SECRET: 's'.repeat(32) };
    expect(loadConfig(primary)).toMatchObject({ databaseReadUrls: [], replicaWaitMs: 1_000 });
    expect(
      loadConfig({
        ...primary,
        DATABASE_READ_URL: 'postgres://u@r1:5432/x, postgresql://u:pw@r2/x,',
        STRATA_REPLICA_WAIT_MS: '250',
      }),
    ).toMatchObject({
      databaseReadUrls: ['postgres://u@r1:5432/x', 'postgresql://u:pw@r2/x'],
      replicaWaitMs: 250,
    });
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://u@r1/x' })).toThrow(
      /DATABASE_READ_URL needs DATABASE_URL/,
    );
    expect(() =>
      loadConfig({ ...primary, DATABASE_READ_URL: 'postgres://u@r1/x,mysql://r2' }),
    ).toThrow(/DATABASE_READ_URL must be one or more comma-separated postgres/);
    expect(() => loadConfig({ ...primary, DATABASE_READ_URL: ' , ' })).toThrow(
      /DATABASE_READ_URL must be/,
    );
    expect(() => loadConfig({ ...primary, STRATA_REPLICA_WAIT_MS: '-1' })).toThrow(
      /STRATA_REPLICA_WAIT_MS must be a whole number/,
    );
    // The CLIs open the primary only: a replica setting does not concern them.
    expect(loadDatabaseConfig({ DATABASE_READ_URL: 'postgres://u@r1/x' }).engine).toBe('pglite');
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

  describe('for the CLIs, only the settings each uses', () => {
    const PG = 'postgres://u@127.0.0.1:5432/x';

    it('database: no secret with DATABASE_URL, and bad values of server settings do not matter', () => {
      const c = loadDatabaseConfig({
        DATABASE_URL: PG,
        PORT: 'abc',
        STRATA_AUTH_SECRET: 'short',
        STRATA_MAX_COST: 'many',
      });
      expect(c).toEqual({
        engine: 'postgres',
        databaseUrl: PG,
        dataDir: './.strata',
        statementTimeoutMs: 30_000,
        idleInTransactionTimeoutMs: 60_000,
        logLevel: 'info',
        nodeEnv: 'development',
      });
      // The same values as the server's: one definition for both.
      const server = loadConfig({ DATABASE_URL: PG, STRATA_AUTH_SECRET: 's'.repeat(32) });
      for (const [key, value] of Object.entries(c))
        expect(server[key as keyof typeof server], key).toEqual(value);
    });

    it('database: its own variables are still checked', () => {
      expect(() => loadDatabaseConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
      expect(() => loadDatabaseConfig({ STRATA_STATEMENT_TIMEOUT_MS: 'x' })).toThrow(
        /STRATA_STATEMENT_TIMEOUT_MS/,
      );
    });

    it('tokens: the secret rules, nothing of the database or the server', () => {
      expect(loadTokenConfig({ DATABASE_URL: PG, PORT: 'abc' })).toMatchObject({
        engine: 'postgres',
        authSecret: undefined,
      });
      expect(() => loadTokenConfig({ STRATA_AUTH_SECRET: 'short' })).toThrow(/32 characters/);
      expect(() =>
        loadTokenConfig({
          STRATA_AUTH_SECRET: 's'.repeat(32),
          STRATA_AUTH_JWKS_URL: 'https://a.example/j',
        }),
      ).toThrow(/not both/);
    });

    it('port: PORT alone', () => {
      expect(loadPort({ PORT: '4001', DATABASE_URL: 'mysql://x' })).toBe(4001);
      expect(() => loadPort({ PORT: 'abc' })).toThrow(/PORT must be a whole number/);
    });

    it('a process that serves no request (the seed) needs no secret; the server still does', () => {
      expect(loadConfig({ DATABASE_URL: PG }, { serving: false })).toMatchObject({
        engine: 'postgres',
        production: true,
        authSecret: undefined,
      });
      expect(() => loadConfig({ DATABASE_URL: PG })).toThrow(/STRATA_AUTH_SECRET/);
      expect(() => loadConfig({ DATABASE_URL: PG }, { serving: true })).toThrow(
        /STRATA_AUTH_SECRET/,
      );
    });
  });
});
