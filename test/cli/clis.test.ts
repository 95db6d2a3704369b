import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/server/app.js';
import { closedPort, databaseName, expectOneLineFailure, runCli } from '../support/cli.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

/**
 * The CLIs as a user runs them (child processes): they need only the settings they use,
 * say which database they work on, and answer bad usage, an unreachable database or an
 * embedded folder held by a running server in one line (or work through that server).
 * On PGlite the database is an embedded folder; on PostgreSQL, DATABASE_URL.
 */

const SECRET = 'clis-test-secret-0123456789-abcdefghijklmnop';

describe(`the CLIs on ${engine}`, () => {
  let tmp: string;
  let pg: TestDatabase | undefined;
  /** The database the CLIs are pointed at, and no secret. */
  let subject: Record<string, string>;
  let name: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'strata-clis-'));
    if (engine === 'postgres') {
      pg = await createTestDatabase();
      subject = { DATABASE_URL: pg.url! };
    } else {
      subject = { STRATA_DATA_DIR: path.join(tmp, 'data') };
    }
    name = databaseName(subject);
  });
  afterAll(async () => {
    await pg?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('migrate needs no secret and says which database it migrated', async () => {
    const r = await runCli('migrate', [], subject);
    expect(r, JSON.stringify(r)).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.split('\n')[0]).toContain(name);
    expect(r.stdout).toMatch(
      engine === 'pglite'
        ? /\(DATABASE_URL is not set\): applied 0001_event_store, /
        : /: nothing to apply, the schema is up to date\./,
    );
  });

  it('projections status needs no secret and says which database it shows', async () => {
    const r = await runCli('projections', ['status'], subject);
    expect(r, JSON.stringify(r)).toMatchObject({ code: 0, stderr: '' });
    // No server has run on it yet, so there are no generations to show.
    expect(r.stdout).toBe(
      `No projections in ${name} yet: a server creates them when it starts (npm start).\n`,
    );
  });

  describe('beside a running server', () => {
    let app: App;
    let port: number;
    /** The settings the CLIs get: the database, the server's port, still no secret. */
    let env: Record<string, string>;

    beforeAll(async () => {
      // Embedded: development mode, its secret in the folder, which the server holds.
      app = await buildApp(
        loadConfig({
          ...subject,
          ...(engine === 'postgres' ? { STRATA_AUTH_SECRET: SECRET } : {}),
          PORT: '0',
          LOG_LEVEL: 'silent',
        }),
      );
      port = Number(new URL(await app.start()).port);
      env = { ...subject, PORT: String(port) };
    });
    afterAll(() => app?.stop());

    const ordersState = async () =>
      (await app.projections.status()).find((s) => s.name === 'orders' && s.active)?.phase;

    it('projections status shows them, through the server when it holds the folder', async () => {
      const r = await runCli('projections', ['status'], env);
      expect(r, JSON.stringify(r)).toMatchObject({ code: 0, stderr: '' });
      const [heading, ...table] = r.stdout.split('\n');
      expect(heading).toBe(
        engine === 'pglite'
          ? `Projections of ${name}, through the Strata server on http://127.0.0.1:${port}:`
          : `Projections of ${name}:`,
      );
      for (const projection of ['catalog', 'customers', 'orders', 'customer_stats'])
        expect(table.join('\n')).toMatch(new RegExp(`'${projection}'\\s*│ 1 .*'running'`));
    });

    it('projections pause and resume act on them', async () => {
      const paused = await runCli('projections', ['pause', 'orders'], env);
      expect(paused, JSON.stringify(paused)).toMatchObject({ code: 0, stderr: '' });
      expect(paused.stdout).toMatch(new RegExp(`^orders: paused \\(${escape(name)}`));
      expect(await ordersState()).toBe('paused');
      const resumed = await runCli('projections', ['resume', 'orders'], env);
      expect(resumed, JSON.stringify(resumed)).toMatchObject({ code: 0, stderr: '' });
      expect(await ordersState()).toBe('running');
    });

    it('projections rebuild builds a new generation and switches to it', async () => {
      const r = await runCli('projections', ['rebuild', 'customers'], env);
      expect(r, JSON.stringify(r)).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(`Rebuilding customers (generation 2) in ${name}`);
      expect(r.stdout).toMatch(/customers: generation 2 is active/);
      const customers = (await app.projections.status()).filter((s) => s.name === 'customers');
      expect(customers.find((s) => s.active)?.generation).toBe(2);
    });

    if (engine === 'pglite') {
      it('migrate and seed say in one line that the server holds the folder, and what to do', async () => {
        const [migrate, seed] = await Promise.all([
          runCli('migrate', [], env),
          runCli('seed', ['--customers', '1', '--orders', '1'], env),
        ]);
        expectOneLineFailure(
          migrate,
          'migrate',
          new RegExp(`${escape(name)} is held by another process.*stop it and start it again`),
        );
        expectOneLineFailure(
          seed,
          'seed',
          new RegExp(`${escape(name)} is held by another process.*stop the server.*run the seed`),
        );
      });

      it('projections says what to do when no server answers on PORT', async () => {
        const elsewhere = await closedPort();
        const r = await runCli('projections', ['status'], { ...env, PORT: String(elsewhere) });
        expectOneLineFailure(
          r,
          'projections',
          new RegExp(
            `${escape(name)} is held by another process, and no Strata server answers on http://127\\.0\\.0\\.1:${elsewhere}\\..*set PORT`,
          ),
        );
      });
    } else {
      it('seed runs beside it, with no secret', async () => {
        const r = await runCli('seed', ['--customers', '1', '--orders', '1'], env, 120_000);
        expect(r, JSON.stringify(r)).toMatchObject({ code: 0 });
        expect(r.stdout).toMatch(`Seeding ${name}: 1 customers, 1 orders (seed 1)`);
        expect(r.stdout).toMatch(/Done in .*1 customers, 15 products, 1 orders/);
      }, 120_000);
    }
  });
});

describe('the CLIs answering in one line', () => {
  it('an unreachable PostgreSQL: named, without its password; exit 1', async () => {
    const port = await closedPort();
    const env = { DATABASE_URL: `postgres://strata:pa55-w0rd@127.0.0.1:${port}/strata` };
    const runs = await Promise.all([
      runCli('migrate', [], env),
      runCli('projections', ['status'], env),
      runCli('seed', [], env),
    ]);
    for (const [r, cli] of [
      [runs[0]!, 'migrate'],
      [runs[1]!, 'projections'],
      [runs[2]!, 'seed'],
    ] as const) {
      expectOneLineFailure(
        r,
        cli,
        new RegExp(
          `^${cli}: cannot reach PostgreSQL 127\\.0\\.0\\.1:${port}/strata: .*ECONNREFUSED`,
        ),
      );
      expect(r.code).toBe(1);
      expect(r.stderr + r.stdout).not.toMatch(/pa55-w0rd/);
    }
  });

  it.each([
    ['projections', [], /name a command: list, status/],
    ['projections', ['frobnicate'], /unknown command 'frobnicate'/],
    ['projections', ['rebuild'], /missing required argument 'name'/],
    ['projections', ['rebuild', 'nosuch'], /unknown projection "nosuch"; known: catalog/],
    ['projections', ['rebuild', 'fulfillment'], /process manager, not a read model/],
    ['migrate', ['now'], /too many arguments/],
    ['seed', ['--orders', 'many'], /--orders .*must be a whole number/],
    ['print-schema', ['schema.graphql'], /too many arguments/],
  ] as const)('bad usage: %s %j → exit 2', async (cli, args, message) => {
    const r = await runCli(cli, [...args], {});
    expectOneLineFailure(r, cli === 'print-schema' ? 'schema:print' : cli, message);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('bad settings: one line naming the variable → exit 2', async () => {
    const r = await runCli('migrate', [], { DATABASE_URL: 'mysql://localhost/strata' });
    expectOneLineFailure(
      r,
      'migrate',
      /^migrate: invalid configuration: DATABASE_URL must be a postgres/,
    );
    expect(r.code).toBe(2);
  });

  it('--help still works: usage on stdout, exit 0', async () => {
    const [projections, migrate] = await Promise.all([
      runCli('projections', ['--help'], {}),
      runCli('migrate', ['--help'], {}),
    ]);
    expect(projections).toMatchObject({ code: 0, stderr: '' });
    expect(projections.stdout).toMatch(/^Usage: projections/);
    expect(projections.stdout).toMatch(/rebuild <name>/);
    expect(migrate).toMatchObject({ code: 0, stderr: '' });
    expect(migrate.stdout).toMatch(/^Usage: migrate/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
