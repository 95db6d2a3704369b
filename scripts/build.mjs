#!/usr/bin/env node
// `npm run build`: src/ → dist/ with tsc (tsconfig.build.json). Incremental: an unchanged
// tree is checked in a fraction of a second and nothing is written, so a server already
// running from dist/ never sees a file rewritten under it. Then the files the server reads
// at run time that are not TypeScript (the SQL migrations, found beside the compiled
// module through import.meta.url) are copied to the same place under dist/, and whatever
// in dist/ no longer has a source is removed (a deleted module must not stay importable).
//
// One build at a time (a lock in dist/): `npm start` twice at once on a fresh clone (the
// README's "Several processes"), or two test files starting it, would otherwise write the
// same files together while the first server already reads them.
//
// --if-src: what `npm start` and the CLIs' npm scripts run first. In a checkout (src/ is
// here) it builds; in the production image (dist/ only: no src/, no TypeScript) it does
// nothing, so the same npm scripts run the same compiled code there.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
/** dist/ entries that are the build's own, not outputs of a source. */
const OWN = new Set(['.tsbuildinfo', '.build.lock']);

const ifSrc = process.argv.includes('--if-src');

function fail(message) {
  process.stderr.write(`build: ${message}\n`);
  process.exit(1);
}

if (!existsSync(SRC)) {
  if (ifSrc) process.exit(0);
  fail(`no src/ in ${ROOT}: nothing to build`);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  fail('TypeScript is not installed (a dev dependency): run `npm ci` first');
}

function walk(dir, rel = '') {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) return OWN.has(r) ? [] : walk(dir, r);
    return OWN.has(r) ? [] : [r];
  });
}

const isTs = (f) => f.endsWith('.ts');
// What tsc compiles: no declarations, no short-lived probes of test/architecture
// (tsconfig.json's "exclude").
const isModule = (f) => isTs(f) && !f.endsWith('.d.ts') && !f.endsWith('.probe.ts');

/** The source a file of dist/ comes from: a.js ← a.ts; an asset ← itself. */
const sourceOf = (f) => path.join(SRC, f.endsWith('.js') ? `${f.slice(0, -3)}.ts` : f);

function sameContent(a, b) {
  if (!existsSync(b)) return false;
  return readFileSync(a).equals(readFileSync(b));
}

async function build() {
  const sources = walk(SRC);
  // tsc -b trusts its .tsbuildinfo and does not notice an output deleted by hand: then
  // everything is compiled again.
  const missing = sources.some(
    (f) => isModule(f) && !existsSync(path.join(DIST, `${f.slice(0, -3)}.js`)),
  );
  const args = [tsc, '-b', path.join(ROOT, 'tsconfig.build.json'), ...(missing ? ['--force'] : [])];
  // tsc's diagnostics go to stderr: `npm run -s token` prints only the token on stdout.
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 2, 2],
    });
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? signal));
  });
  if (code !== 0) throw new Error(`tsc failed (${code}); dist/ is not up to date`);

  for (const f of sources.filter((f) => !isTs(f))) {
    const from = path.join(SRC, f);
    const to = path.join(DIST, f);
    if (sameContent(from, to)) continue;
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(from, to);
  }
  for (const f of walk(DIST)) if (!existsSync(sourceOf(f))) rmSync(path.join(DIST, f));
  removeEmptyDirs(DIST);
}

function removeEmptyDirs(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || OWN.has(e.name)) continue;
    const sub = path.join(dir, e.name);
    removeEmptyDirs(sub);
    if (readdirSync(sub).length === 0) rmSync(sub, { recursive: true });
  }
}

mkdirSync(DIST, { recursive: true });
const { default: lockfile } = await import('proper-lockfile');
// The lock's mtime is refreshed while we wait for tsc (hence an async spawn); a build
// killed outright leaves a lock that goes stale after 10 s.
const release = await lockfile.lock(DIST, {
  lockfilePath: path.join(DIST, '.build.lock'),
  realpath: false,
  retries: { retries: 3000, factor: 1, minTimeout: 100, maxTimeout: 100 },
});
try {
  await build();
} catch (err) {
  await release();
  fail(err.message);
}
await release();
