import { randomUUID } from 'node:crypto';
import { buildApp, type App, type AppOverrides } from '../../src/server/app.js';
import type { Principal } from '../../src/auth/principal.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { TestDatabase } from './db.js';

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
