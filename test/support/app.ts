import { buildApp, type App } from '../../src/app.js';
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
  stop(): Promise<void>;
}

/** A real server on a free port, over the given test database. */
export async function startTestApp(
  t: TestDatabase,
  env: Record<string, string> = {},
): Promise<TestApp> {
  const config: Config = {
    ...loadConfig({ PORT: '0', LOG_LEVEL: 'silent', ...env }),
    engine: t.db.engine,
  };
  const app = await buildApp(config, { db: t.db });
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
    stop: () => app.stop(),
  };
}
