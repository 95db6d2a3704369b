import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    engine: 'pglite' | 'postgres';
    /** PGlite: a migrated data folder as a tarball, cloned by each test (~0.5 s, not ~5 s). */
    pgliteTemplate: string;
    /** PostgreSQL: a migrated database that each test file clones with CREATE DATABASE … TEMPLATE. */
    pgTemplateUrl: string;
    /** PostgreSQL: the database given by TEST_DATABASE_URL, used to create and drop the others. */
    pgAdminUrl: string;
  }
}

export function databaseUrlFor(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const engine = process.env.STRATA_TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';
  project.provide('engine', engine);
  if (engine === 'pglite') {
    const dir = path.resolve('.test-artifacts');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `pglite-template-${process.pid}.tar`);
    const db = await openPglite();
    await migrate(db);
    const blob = await db.pglite.dumpDataDir('none');
    await writeFile(file, Buffer.from(await blob.arrayBuffer()));
    await db.close();
    project.provide('pgliteTemplate', file);
    project.provide('pgTemplateUrl', '');
    project.provide('pgAdminUrl', '');
    return async () => {
      const { rm } = await import('node:fs/promises');
      await rm(file, { force: true });
    };
  }

  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('STRATA_TEST_ENGINE=postgres needs TEST_DATABASE_URL');
  const template = `strata_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const url = databaseUrlFor(base, template);
  const db = openPostgres({ connectionString: url });
  await migrate(db);
  await db.close();
  project.provide('pgliteTemplate', '');
  project.provide('pgTemplateUrl', url);
  project.provide('pgAdminUrl', base);
  return async () => {
    // Test databases cloned from the template are dropped by their files; sweep leftovers.
    const left = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`strata_t_${process.pid}_%`],
    );
    for (const { datname } of left.rows)
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end();
  };
}
