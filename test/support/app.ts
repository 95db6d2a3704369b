import { randomUUID } from 'node:crypto';
import { buildApp, type App, type AppOverrides } from '../../src/server/app.js';
import type { Principal } from '../../src/auth/principal.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { useTestDatabase, type TestDatabase, type UseTestDatabaseOptions } from './db.js';
import { useHooks } from './hooks.js';

export interface TestApp {
  app: App;
  /** Base URL, e.g. http://localhost:41234 */
  url: string;
  graphql<T = unknown>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{
    status: number;
    body: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  }>;
  /** A bearer header for a principal, minted with the app's secret. */
  auth(
    principal: Partial<Principal> & Pick<Principal, 'role'>,
    ttlSeconds?: number,
  ): Promise<{ authorization: string }>;
  stop(): Promise<void>;
}

/** The secret every test app signs its tokens with. */
export const TEST_AUTH_SECRET = 'test-secret-test-secret-test-secret-0123456789';

/** A real server on a free port, over the given test database. */
export async function startTestApp(
  t: TestDatabase,
  env: Record<string, string> = {},
  overrides: Omit<AppOverrides, 'db'> = {},
): Promise<TestApp> {
  const config: Config = {
    ...loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      STRATA_AUTH_SECRET: TEST_AUTH_SECRET,
      // Tests make many mutations as one principal; the rate-limit tests turn it back on.
      STRATA_MUTATIONS_PER_MINUTE: '0',
      STRATA_READ_COST_PER_MINUTE: '0',
      // A loaded test machine may take a while to project: mutations wait as long as
      // queries do, so their answers are caught up; the lag tests set their own bound.
      STRATA_COMMAND_READ_WAIT_MS: '5000',
      ...env,
    }),
    engine: t.db.engine,
  };
  const app = await buildApp(config, { db: t.db, ...overrides });
  const url = await app.start();
  return {
    app,
    url,
    async graphql(query, variables, headers = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as never };
    },
    async auth(principal, ttlSeconds) {
      const token = await app.tokens.mint(
        {
          userId: principal.userId ?? `test-${principal.role}-${randomUUID().slice(0, 8)}`,
          ...principal,
        },
        ttlSeconds,
      );
      return { authorization: `Bearer ${token}` };
    },
    stop: () => app.stop(),
  };
}

export interface UseTestAppOptions extends UseTestDatabaseOptions {
  env?: Record<string, string>;
  overrides?: Omit<AppOverrides, 'db'>;
}

/**
 * One database and one real server, per file (default) or per test: registers the hooks
 * that start and stop them and returns accessors to them, `t` as `useTestDatabase` gives
 * it and `s` the server. Hooks a file registers afterwards (seeding, tokens, sessions to
 * close) run after the start and before the stop.
 */
export function useTestApp(options: UseTestAppOptions = {}): { t: TestDatabase; s: TestApp } {
  const t = useTestDatabase(options);
  const started = useHooks(
    'test app',
    options.per,
    () => startTestApp(t, options.env, options.overrides),
    (s) => s.stop(),
  );
  const s: TestApp = {
    get app() {
      return started().app;
    },
    get url() {
      return started().url;
    },
    graphql: <T>(
      query: string,
      variables?: Record<string, unknown>,
      headers?: Record<string, string>,
    ) => started().graphql<T>(query, variables, headers),
    auth: (principal, ttlSeconds) => started().auth(principal, ttlSeconds),
    stop: () => started().stop(),
  };
  return { t, s };
}
