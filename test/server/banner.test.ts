import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startBanner } from '../../src/server/banner.js';
import { TEST_AUTH_SECRET } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';
import { cleanEnv, startServerProcess } from '../support/server-process.js';

/**
 * What the server prints at start, in production mode, where GraphiQL and /metrics are off
 * by default: each line is checked against what the server then answers.
 */

/** Starts `src/main.ts` with these settings; resolves with its banner and base URL. */
async function startServer(env: Record<string, string>) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'strata-banner-'));
  const server = await startServerProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: process.cwd(),
    env: cleanEnv({ STRATA_DATA_DIR: dataDir, ...env }),
  }).catch(async (err: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    server.kill();
    await rm(dataDir, { recursive: true, force: true });
  };
  const out = server.output();
  return {
    banner: out.slice(out.indexOf('Strata is up')),
    url: `http://localhost:${server.port}`,
    stop,
  };
}

describe(`the start banner in production mode on ${engine}`, () => {
  const t = useTestDatabase();
  /** Production mode as the README starts it: PostgreSQL, or NODE_ENV on the embedded engine. */
  const production = (): Record<string, string> =>
    engine === 'postgres'
      ? { DATABASE_URL: t.url!, STRATA_AUTH_SECRET: TEST_AUTH_SECRET }
      : { NODE_ENV: 'production', STRATA_AUTH_SECRET: TEST_AUTH_SECRET };

  it('says GraphiQL and /metrics are off and what turns them on, and prints no token', async () => {
    const server = await startServer(production());
    try {
      const { banner, url } = server;
      expect(banner).toContain(
        engine === 'postgres'
          ? 'Strata is up (PostgreSQL), in production mode (DATABASE_URL is set).'
          : 'in production mode (NODE_ENV=production)',
      );
      expect(banner).toContain(`  GraphQL:   ${url}/graphql\n`);
      expect(banner).toContain(
        '  GraphiQL:  off in production mode; STRATA_GRAPHIQL=true turns it on\n',
      );
      expect(banner).not.toMatch(/GraphiQL: +http/);
      expect(banner).toContain(
        '  Metrics:   off in production mode until STRATA_METRICS_TOKEN is set\n',
      );
      expect(banner).not.toMatch(/token:/i);
      // What the banner says is what the server does.
      const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(404);
      expect(await page.text()).toContain('STRATA_GRAPHIQL=true turns it on');
      expect((await fetch(`${url}/metrics`)).status).toBe(403);
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('the start banner, by setting', () => {
  const url = 'http://localhost:4000';
  const banner = (env: Record<string, string>, devTokens = false) =>
    startBanner(loadConfig(env), url, { devTokens });

  it('in development mode: the URLs as they were, the tokens printed after it', () => {
    expect(banner({}, true)).toBe(
      [
        '',
        'Strata is up (embedded PGlite in ./.strata).',
        `  GraphiQL:  ${url}/graphql`,
        `  Health:    ${url}/health`,
        `  Metrics:   ${url}/metrics`,
        '',
        '',
      ].join('\n'),
    );
  });

  it('in production mode with GraphiQL on: its URL, where to get a token, what its docs need', () => {
    const on = banner({
      NODE_ENV: 'production',
      STRATA_AUTH_SECRET: TEST_AUTH_SECRET,
      STRATA_GRAPHIQL: 'true',
    });
    expect(on).toContain(`  GraphiQL:  ${url}/graphql\n`);
    expect(on).toContain('put a token in its Headers tab: npm run -s token -- --role admin');
    expect(on).toContain('its docs and completion need STRATA_INTROSPECTION=true');
    expect(on).not.toContain('GraphQL: ');
  });

  it('names what is off and why', () => {
    expect(banner({ STRATA_GRAPHIQL: 'false' }, true)).toContain(
      'GraphiQL:  off (STRATA_GRAPHIQL=false); STRATA_GRAPHIQL=true turns it on',
    );
    const production = {
      NODE_ENV: 'production',
      STRATA_AUTH_SECRET: TEST_AUTH_SECRET,
      STRATA_GRAPHIQL: 'true',
      STRATA_INTROSPECTION: 'true',
      STRATA_METRICS_TOKEN: 'metrics-token-0123456789',
    };
    const on = banner(production);
    expect(on).toContain(
      `Metrics:   ${url}/metrics (Authorization: Bearer <STRATA_METRICS_TOKEN>)`,
    );
    expect(on).not.toContain('STRATA_INTROSPECTION');
    const jwks = banner({
      ...production,
      STRATA_AUTH_SECRET: '',
      STRATA_AUTH_JWKS_URL: 'https://id.example/jwks',
    });
    expect(jwks).toContain('put a token from your identity provider in its Headers tab');
  });
});
