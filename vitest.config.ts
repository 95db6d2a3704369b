import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * One suite, two engines: `STRATA_TEST_ENGINE` picks PGlite (default) or PostgreSQL
 * (`TEST_DATABASE_URL`). Files named `*.pg.test.ts` need several database sessions and
 * run on PostgreSQL only; `scripts/test.mjs` runs both passes and says what it left out.
 * Files named `*.replica.test.ts` need a primary and a streaming replica of their own
 * (`scripts/replica-pair.sh`): they run on the PostgreSQL pass when its variables are set,
 * and always under STRATA_REQUIRE_POSTGRES=1, where a missing pair fails them.
 */
const engine = process.env.STRATA_TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';
const replicaPair =
  (process.env.TEST_REPLICA_PRIMARY_URL && process.env.TEST_REPLICA_URL) ||
  process.env.STRATA_REQUIRE_POSTGRES === '1';

export default defineConfig({
  resolve: {
    // graphql ships both ESM and CJS builds; dependencies load the CJS one through Node,
    // so test code must use it too or graphql refuses types "from another realm".
    alias: [
      {
        find: /^graphql$/,
        replacement: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      ...(engine === 'postgres' ? [] : ['test/**/*.pg.test.ts']),
      ...(engine === 'postgres' && replicaPair ? [] : ['test/**/*.replica.test.ts']),
    ],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    name: engine,
  },
});
