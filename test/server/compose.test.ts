import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';

/**
 * Docker cannot run here, so `docker compose up` is checked on paper: the compose file,
 * the Dockerfile and the README's "With Docker Compose" section must agree, and every
 * variable the compose file sets must be one the server reads.
 */

interface Service {
  image?: string;
  build?: string | { context: string };
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  entrypoint?: string[] | string;
  volumes?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, Service>;
};
const dockerfile = readFileSync('Dockerfile', 'utf8');
const readme = readFileSync('README.md', 'utf8');

const { postgres, app } = compose.services;
const replica = compose.services['postgres-replica'];
const appEnv = Object.fromEntries(
  Object.entries(app?.environment ?? {}).map(([k, v]) => [k, String(v)]),
);

/** The README's compose section: from its heading to the next heading. */
function readmeComposeSection(): string {
  const heading = '### With Docker Compose\n';
  const start = readme.indexOf(heading);
  expect(start, 'README has a "### With Docker Compose" section').toBeGreaterThan(0);
  const body = readme.slice(start + heading.length);
  const next = body.search(/^#{2,3} /m);
  return heading + (next < 0 ? body : body.slice(0, next));
}

/** `host:container` (optionally `ip:host:container`) → [host, container]. */
function portPair(spec: string): [number, number] {
  const parts = spec.split(':');
  return [Number(parts.at(-2)), Number(parts.at(-1))];
}

/** ENV assignments of the Dockerfile (`ENV A=1 \ B=2`). */
function dockerfileEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of dockerfile.replace(/\\\n/g, ' ').matchAll(/^ENV (.+)$/gm))
    for (const pair of m[1]!.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[pair[1]!] = pair[2]!;
  return env;
}

describe('docker-compose.yml', () => {
  it('runs PostgreSQL with a health check, and the app from the Dockerfile once it is healthy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['app', 'postgres', 'postgres-replica']);
    expect(postgres!.image).toMatch(/^postgres:1[5-9]/);
    expect(postgres!.healthcheck?.test).toBeDefined();
    expect(app!.build === '.' || (app!.build as { context: string }).context === '.').toBe(true);
    expect(app!.depends_on?.postgres?.condition).toBe('service_healthy');
  });

  it('gives the app a DATABASE_URL that reaches the postgres service with its credentials', () => {
    const url = new URL(appEnv.DATABASE_URL!);
    const pg = postgres!.environment!;
    expect(url.hostname).toBe('postgres');
    expect(url.port || '5432').toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname.slice(1)).toBe(pg.POSTGRES_DB);
  });

  it('runs a hot standby of postgres (pg_basebackup -R) whose URL the app reads from', () => {
    expect(replica!.image).toBe(postgres!.image);
    expect(replica!.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(replica!.healthcheck?.test).toBeDefined();
    const start = [replica!.entrypoint ?? []].flat().join(' ');
    expect(start).toMatch(/pg_basebackup -h postgres -U replicator .*-R\b/);
    expect(start).toMatch(/exec postgres/);
    // The primary lets that role in: its init script makes it, with a replication entry.
    const init = postgres!.volumes!.find((v) => v.endsWith(':/docker-entrypoint-initdb.d:ro'));
    const script = readFileSync(`${init!.split(':')[0]}/10-replication.sh`, 'utf8');
    expect(script).toMatch(/CREATE ROLE replicator WITH REPLICATION LOGIN/);
    expect(script).toMatch(/host replication replicator all scram-sha-256/);
    expect(replica!.environment?.PGPASSWORD).toBe(postgres!.environment?.REPLICATION_PASSWORD);
    // Same database and credentials as the primary (a replica has the primary's roles).
    const read = new URL(appEnv.DATABASE_READ_URL!);
    const primary = new URL(appEnv.DATABASE_URL!);
    expect(read.hostname).toBe('postgres-replica');
    expect(`${read.username}:${read.password}${read.pathname}`).toBe(
      `${primary.username}:${primary.password}${primary.pathname}`,
    );
    expect(loadConfig({ ...dockerfileEnv(), ...appEnv }).databaseReadUrls).toEqual([
      appEnv.DATABASE_READ_URL,
    ]);
    // A replica down never fails a query: the app does not wait for it to be healthy.
    expect(app!.depends_on?.['postgres-replica']?.condition).toBe('service_started');
  });

  it('sets only variables the server reads, to values it accepts, with GraphiQL on for the demo', () => {
    const known = new Set(CONFIG_VARIABLES);
    for (const name of Object.keys(appEnv)) expect(known, name).toContain(name);
    const config = loadConfig({ ...dockerfileEnv(), ...appEnv });
    expect(config).toMatchObject({
      engine: 'postgres',
      production: true,
      graphiql: true,
      introspection: true,
    });
    expect(config.authSecret).toBeDefined();
  });

  it('publishes the app on the port it listens on, which the Dockerfile exposes', () => {
    const port = loadConfig({ ...dockerfileEnv(), ...appEnv }).port;
    const expose = /^EXPOSE (\d+)$/m.exec(dockerfile)?.[1];
    expect(Number(expose)).toBe(port);
    expect(app!.ports!.map(portPair)).toContainEqual([port, port]);
  });
});

describe('the Dockerfile', () => {
  it('builds on Node 24, installs with npm ci, runs as a non-root user, with a /health check', () => {
    // Every stage (test/server/image.test.ts checks what each one does).
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toMatch(/^node:24(-\w+)*$/);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    const user = [...dockerfile.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)$/);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/health/m);
    expect(existsSync('.dockerignore')).toBe(true);
    expect(readFileSync('.dockerignore', 'utf8')).toMatch(/^node_modules$/m);
  });
});

describe("the README's compose section", () => {
  const section = readmeComposeSection();

  it('names variables the compose file sets for the app', () => {
    const named = [...section.matchAll(/`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`/g)].map((m) => m[1]!);
    expect(named).toEqual(expect.arrayContaining(['DATABASE_URL', 'STRATA_AUTH_SECRET']));
    for (const name of named) expect(Object.keys(appEnv), name).toContain(name);
    for (const m of section.matchAll(/`([A-Z][A-Z0-9_]{2,})=([^`]+)`/g))
      expect(appEnv[m[1]!], m[1]).toBe(m[2]);
  });

  it('names the ports the compose file publishes', () => {
    const published = new Set(
      [...(app!.ports ?? []), ...(postgres!.ports ?? []), ...(replica!.ports ?? [])].map(
        (p) => portPair(p)[0],
      ),
    );
    const named = [...section.matchAll(/(?:localhost|127\.0\.0\.1):(\d+)/g)].map((m) =>
      Number(m[1]),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const port of named) expect(published, String(port)).toContain(port);
    // The GraphiQL URL it gives is the app's.
    const graphiql = /http:\/\/localhost:(\d+)\/graphql/.exec(section)?.[1];
    expect(app!.ports!.map((p) => portPair(p)[0])).toContain(Number(graphiql));
    expect(
      postgres!.ports!.some((p) => section.includes(p.split(':').slice(0, -1).join(':'))),
    ).toBe(true);
  });

  it('gives the commands the compose file itself suggests', () => {
    const text = readFileSync('docker-compose.yml', 'utf8');
    for (const command of [
      'docker compose up',
      'docker compose exec app npm run -s token -- --role admin',
      'docker compose exec app npm run seed',
    ]) {
      expect(text, command).toContain(command);
      expect(section, command).toContain(command);
    }
  });
});
