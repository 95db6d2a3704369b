import { defineConfig } from 'vitest/config';

/**
 * One suite, two engines: `STRATA_TEST_ENGINE` picks PGlite (default) or PostgreSQL
 * (`TEST_DATABASE_URL`). Files named `*.pg.test.ts` need several database sessions and
 * run on PostgreSQL only; `scripts/test.mjs` runs both passes and says what it left out.
 */
const engine = process.env.STRATA_TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';

export default defineConfig({
  test: {
    include: engine === 'postgres' ? ['test/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: engine === 'postgres' ? [] : ['test/**/*.pg.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    name: engine,
  },
});
