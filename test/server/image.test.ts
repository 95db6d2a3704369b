import { builtinModules } from 'node:module';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { TEST_AUTH_SECRET } from '../support/app.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';
import {
  cleanEnv,
  exitWithin,
  refuses,
  runToEnd,
  startServerProcess,
} from '../support/server-process.js';

/*
 * Docker cannot run here, so the image is checked without it: the Dockerfile's two
 * stages are read, the runtime stage is assembled in a temporary folder as Docker would
 * (its COPY lines, from the repository and from a real `npm run build`, and the packages
 * `npm ci --omit=dev` installs, i.e. package-lock.json without its dev entries), and the
 * server and a CLI run there with plain node. The README's "The container" says how to
 * check the image itself where Docker runs.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

interface Stage {
  from: string;
  name: string | undefined;
  /** Instructions with continuation lines joined, comments dropped. */
  lines: string[];
}

/** The Dockerfile's stages, each from its FROM to the next. */
function stages(): Stage[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const out: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ from: from[1]!, name: from[2], lines: [] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.lines
    .filter((l) => l.startsWith('COPY '))
    .map((l) => {
      const words = l.split(/\s+/).slice(1);
      const from = words[0]!.startsWith('--from=') ? words.shift()!.slice(7) : undefined;
      const dest = words.pop()!;
      return { from, sources: words, dest };
    });
}

/** Whether .dockerignore keeps `file` (a path in the repository) out of the context. */
function ignored(file: string): boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const glob = (p: string) =>
    new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
  return patterns.some((p) => glob(p).test(file));
}

/** Bare module specifiers a JavaScript file imports (static, re-exports and dynamic). */
function imports(source: string): string[] {
  const found = [
    ...source.matchAll(/\bfrom\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return found.filter((s) => !s.startsWith('.') && !s.startsWith('/'));
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const [build, runtime] = stages();

beforeAll(async () => {
  const r = await runToEnd(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  expect(r.code, r.output).toBe(0);
}, 300_000);

describe('the Dockerfile', () => {
  it('builds in one stage on Node 24 with the dev dependencies, and the image runs dist/ with node alone', () => {
    expect(stages()).toHaveLength(2);
    expect(build!.from).toBe('node:24-slim');
    expect(build!.name).toBeDefined();
    expect(build!.lines).toContain('RUN npm ci --no-audit --no-fund');
    expect(build!.lines).toContain('RUN npm run build');
    expect(runtime!.from).toBe('node:24-slim');
    expect(runtime!.lines).toContainEqual(expect.stringMatching(/^RUN npm ci --omit=dev\b/));
    expect(copies(runtime!)).toContainEqual({
      from: build!.name,
      sources: ['/app/dist'],
      dest: './dist',
    });
    expect(runtime!.lines).toContain('CMD ["node", "dist/main.js"]');
    expect(runtime!.lines.join('\n')).not.toMatch(/tsx|\bsrc\b/);
    // The scripts a user runs in the container (`docker compose exec app npm run …`) run
    // the compiled code too.
    expect(pkg.scripts.start).toBe('exec node dist/main.js');
    for (const cli of ['migrate', 'token', 'projections', 'seed', 'schema:print']) {
      expect(pkg.scripts[cli], cli).toMatch(/^exec node dist\/cli\/[\w-]+\.js$/);
      expect(pkg.scripts[`pre${cli}`], cli).toBe('node scripts/build.mjs --if-src');
    }
    expect(pkg.scripts.prestart).toBe('node scripts/build.mjs --if-src');
  });

  it('copies only files that exist, are in the build context, and come out of `npm run build`', () => {
    for (const stage of [build!, runtime!])
      for (const copy of copies(stage))
        for (const source of copy.sources) {
          // The build stage works in /app, where its COPY lines put the repository's files.
          const file = copy.from ? path.relative('/app', source) : source;
          expect(existsSync(path.join(ROOT, file)), `${stage.from}: COPY ${source}`).toBe(true);
          if (!copy.from) expect(ignored(file), `.dockerignore drops ${file}`).toBe(false);
        }
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('dist'), 'a local dist/ never replaces the one built in the image').toBe(true);
    // What the server and the CLIs' npm scripts run, and the migrations it reads beside it.
    for (const script of Object.values(pkg.scripts))
      for (const m of script.matchAll(/\bnode (dist\/\S+\.js)/g))
        expect(existsSync(path.join(ROOT, m[1]!)), m[1]).toBe(true);
    const sql = (dir: string) =>
      readdirSync(path.join(ROOT, dir))
        .filter((f) => f.endsWith('.sql'))
        .sort();
    expect(sql('dist/db/migrations')).toEqual(sql('src/db/migrations'));
    expect(sql('src/db/migrations').length).toBeGreaterThan(0);
  });

  it('puts nothing in the image that imports a dev dependency (tsx, TypeScript, …)', () => {
    const allowed = new Set([...Object.keys(pkg.dependencies)]);
    const builtins = new Set(builtinModules);
    const files = [
      ...walk(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js')),
      path.join(ROOT, 'scripts/build.mjs'),
    ];
    expect(files.length).toBeGreaterThan(50);
    expect(Object.keys(pkg.devDependencies)).toContain('tsx');
    for (const file of files)
      for (const specifier of imports(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        expect(allowed, `${path.relative(ROOT, file)} imports ${specifier}`).toContain(
          packageOf(specifier),
        );
      }
  });
});

describe(`the image's runtime stage, assembled without Docker, on ${engine}`, () => {
  let app: string;
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    app = await mkdtemp(path.join(os.tmpdir(), 'strata-image-'));
    for (const copy of copies(runtime!)) {
      const dest = path.join(app, copy.dest);
      for (const source of copy.sources) {
        const from = copy.from
          ? path.join(ROOT, path.relative('/app', source))
          : path.join(ROOT, source);
        const to = copy.dest.endsWith('/') ? path.join(dest, path.basename(source)) : dest;
        cpSync(from, to, { recursive: true });
      }
    }
    // `npm ci --omit=dev`: the lock's packages less its dev entries, each where the lock
    // puts it (a package's nested node_modules come along inside it).
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (!where || entry.dev || where.split('node_modules/').length > 2) continue;
      const link = path.join(app, where);
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(path.join(ROOT, 'node_modules', where.slice('node_modules/'.length)), link);
    }
    if (engine === 'postgres') db = await createTestDatabase({ poolSize: 1 });
  }, 120_000);

  afterAll(async () => {
    await db?.dispose();
    await rm(app, { recursive: true, force: true });
  });

  /** The image's environment: its ENV lines, the database, and no way out of node_modules. */
  const env = (extra: Record<string, string> = {}) => {
    const dockerEnv: Record<string, string> = {};
    for (const line of runtime!.lines.filter((l) => l.startsWith('ENV ')))
      for (const m of line.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) dockerEnv[m[1]!] = m[2]!;
    return cleanEnv({
      ...dockerEnv,
      PORT: '0',
      // Resolve packages through the links above, never through the repository's
      // node_modules behind them (where the dev dependencies are).
      NODE_PRESERVE_SYMLINKS: '1',
      STRATA_AUTH_SECRET: TEST_AUTH_SECRET,
      ...(db ? { DATABASE_URL: db.url! } : { STRATA_DATA_DIR: path.join(app, '.strata') }),
      ...extra,
    });
  };

  it('has no TypeScript, tsx or sources in it', () => {
    expect(existsSync(path.join(app, 'dist/main.js'))).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    for (const dev of ['tsx', 'typescript', 'vitest'])
      expect(existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
  });

  it("runs the image's command: the server starts, answers, and stops on SIGTERM", async () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/.exec(runtime!.lines.at(-1)!)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    const server = await startServerProcess(process.execPath, cmd.slice(1), {
      cwd: app,
      env: env(),
      ms: 90_000,
    });
    try {
      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      expect(health.status, server.output()).toBe(200);
      const r = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await createTokenService({ secret: TEST_AUTH_SECRET }).mint({ userId: 'image-test', role: 'admin' })}`,
        },
        body: JSON.stringify({ query: '{ serverInfo { engine } }' }),
      });
      expect(await r.json(), server.output()).toEqual({
        data: { serverInfo: { engine: engine === 'pglite' ? 'pglite' : 'postgres' } },
      });
      process.kill(server.child.pid!, 'SIGTERM');
      expect(await exitWithin(server, 'the server', 30_000), server.output()).toBe(0);
      expect(await refuses(server.port)).toBe(true);
    } finally {
      server.kill();
    }
  }, 120_000);

  it('runs a CLI through its npm script, as `docker compose exec app npm run -s token` does', async () => {
    const r = await runToEnd('npm', ['run', '-s', 'token', '--', '--role', 'admin'], {
      cwd: app,
      env: env(),
    });
    expect(r.code, r.output).toBe(0);
    expect(
      await createTokenService({ secret: TEST_AUTH_SECRET }).verify(r.output.trim()),
    ).toMatchObject({ role: 'admin' });
  }, 60_000);
});
