#!/usr/bin/env node
// The README's test command. Runs the whole suite on the embedded engine (PGlite), then
// again on PostgreSQL when TEST_DATABASE_URL is set. Files named *.pg.test.ts need several
// database sessions at once, which PGlite (one session) cannot give: they run on
// PostgreSQL only, and this script says so when it could not run them. Files named
// *.replica.test.ts need a primary and a streaming replica (scripts/replica-pair.sh, whose
// TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL they read): they run on the PostgreSQL
// pass, and this script says so when they could not.
// Extra arguments go to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const url = process.env.TEST_DATABASE_URL;
const pair = Boolean(process.env.TEST_REPLICA_PRIMARY_URL && process.env.TEST_REPLICA_URL);
if (!url && (process.env.CI === 'true' || process.env.STRATA_REQUIRE_POSTGRES === '1')) {
  console.error('TEST_DATABASE_URL is required here: the suite must also run on PostgreSQL.');
  process.exit(2);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

mkdirSync('.test-artifacts', { recursive: true });
const passes = url ? ['pglite', 'postgres'] : ['pglite'];
let passed = 0;
let failed = 0;
let ok = true;
for (const engine of passes) {
  console.log(
    `\n=== Test suite on ${engine === 'pglite' ? 'PGlite (embedded)' : `PostgreSQL (${new URL(url).host})`} ===\n`,
  );
  const out = `.test-artifacts/results-${engine}.json`;
  const r = spawnSync(
    'npx',
    ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...args],
    { stdio: 'inherit', env: { ...process.env, STRATA_TEST_ENGINE: engine } },
  );
  try {
    const results = JSON.parse(readFileSync(out, 'utf8'));
    passed += results.numPassedTests;
    failed += results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  } catch {
    failed += 1; // no report at all: the run itself broke
  }
  if (r.status !== 0) ok = false;
}

if (!url) {
  const pgOnly = walk('test').filter((f) => f.endsWith('.pg.test.ts'));
  console.log(
    `\nNot run: ${pgOnly.length} test files need several database sessions and run on PostgreSQL only` +
      ` (${pgOnly.map((f) => path.basename(f)).join(', ')}), and the whole suite was not repeated on PostgreSQL,` +
      ' because TEST_DATABASE_URL is not set. Set it to an empty database, e.g.' +
      ' TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/strata_test npm test',
  );
}
if (!url || (!pair && process.env.STRATA_REQUIRE_POSTGRES !== '1')) {
  const replicaOnly = walk('test').filter((f) => f.endsWith('.replica.test.ts'));
  const why = !url
    ? 'TEST_DATABASE_URL is not set (they run on the PostgreSQL pass)'
    : 'TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL are not set';
  console.log(
    `\nNot run: ${replicaOnly.length} test files need a PostgreSQL primary and a streaming replica` +
      ` (${replicaOnly.map((f) => path.basename(f)).join(', ')}), because ${why}.` +
      ' eval "$(scripts/replica-pair.sh start)" makes a throwaway pair and sets them;' +
      ' scripts/replica-pair.sh stop "$STRATA_REPLICA_PAIR_DIR" removes it.',
  );
}
console.log(`\nStrata tests (${passes.join(' + ')}): ${passed} passed, ${failed} failed`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);
