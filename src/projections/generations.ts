import type { Db, Queryable } from '../db/types.js';
import type { Logger } from '../observability/logger.js';
import type { Projection, ProjectionRow } from './types.js';

/**
 * A projection's read tables exist once per generation (`<table>_g<n>`); the plain table
 * name is a view of the active generation's table, which is what queries use.
 */
export const physical = (table: string, generation: number) => `${table}_g${generation}`;
const SETUP_LOCK = 7_311_000_002;

/**
 * A process manager (`effects` mode) has no read tables to rebuild: replaying the log
 * through it would only re-send every command it ever sent (replays, all of them).
 */
export class RebuildRefused extends Error {
  override name = 'RebuildRefused';
  constructor(readonly projection: string) {
    super(
      `${projection} is a process manager, not a read model: it has nothing to rebuild (its state is in its own streams)`,
    );
  }
}

/** Creates the first generation and its tables, or a new one beside it when the code changed. */
export async function ensureActiveGeneration(db: Db, logger: Logger, p: Projection): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    const rows = (
      await tx.query<ProjectionRow>(
        `SELECT * FROM projections WHERE name = $1 AND state <> 'retired' ORDER BY generation`,
        [p.name],
      )
    ).rows;
    if (rows.length === 0) {
      await createGeneration(tx, p, 1, true);
      return;
    }
    const active = rows.find((r) => r.active);
    const building = rows.find((r) => r.state === 'rebuilding');
    if (active && active.code_version !== p.version && !building) {
      // New code: build the new shape beside the old one, which keeps serving meanwhile.
      const next = Math.max(...rows.map((r) => r.generation)) + 1;
      await createGeneration(tx, p, next, false);
      logger.info({ projection: p.name, generation: next }, 'projection code changed: rebuilding');
    }
  });
}

async function createGeneration(tx: Queryable, p: Projection, generation: number, active: boolean) {
  const r = await tx.query<{ g: number }>(
    'SELECT coalesce(max(generation), 0) AS g FROM projections WHERE name = $1',
    [p.name],
  );
  const gen = Math.max(generation, (r.rows[0]?.g ?? 0) + 1);
  for (const t of p.tables) await tx.query(t.ddl(physical(t.name, gen)));
  await tx.query(
    `INSERT INTO projections (name, generation, code_version, active, state) VALUES ($1, $2, $3, $4, $5)`,
    [p.name, gen, p.version, active, active ? 'running' : 'rebuilding'],
  );
  if (active) await pointViews(tx, p, gen);
  return gen;
}

async function pointViews(tx: Queryable, p: Projection, generation: number) {
  for (const t of p.tables) {
    await tx.query(`DROP VIEW IF EXISTS ${t.name}`);
    await tx.query(`CREATE VIEW ${t.name} AS SELECT * FROM ${physical(t.name, generation)}`);
  }
}

/**
 * A rebuilt generation that has caught up becomes the active one, all views at once.
 * True once this generation is the active one (switched now, or already).
 */
export async function trySwitch(
  db: Db,
  logger: Logger,
  p: Projection,
  generation: number,
): Promise<boolean> {
  const switched = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    // Lock both rows: the serving generation cannot commit another batch meanwhile.
    const rows = (
      await tx.query<{ generation: number; state: string; active: boolean; ahead: boolean }>(
        `SELECT generation, state, active,
                (checkpoint_txid, checkpoint_position) >
                  (SELECT checkpoint_txid, checkpoint_position FROM projections
                   WHERE name = $1 AND generation = $2) AS ahead
         FROM projections WHERE name = $1 AND (generation = $2 OR active) FOR UPDATE`,
        [p.name, generation],
      )
    ).rows;
    const mine = rows.find((r) => r.generation === generation);
    if (mine?.state !== 'rebuilding') return mine?.active === true;
    // Switch only when caught up with the serving generation too: no reader that saw an
    // event through the old one (or its runner's memory) may miss it in the new one.
    if (rows.some((r) => r.active && r.ahead)) return false;
    await tx.query(
      `UPDATE projections SET active = false, state = 'retired', lease_owner = NULL WHERE name = $1 AND active`,
      [p.name],
    );
    await tx.query(
      `UPDATE projections SET active = true, state = 'running' WHERE name = $1 AND generation = $2`,
      [p.name, generation],
    );
    await pointViews(tx, p, generation);
    return true;
  });
  if (!switched) return false;
  logger.info({ projection: p.name, generation }, 'rebuilt projection is now active');
  await dropRetiredTables(db, p);
  return true;
}

async function dropRetiredTables(db: Db, p: Projection) {
  const rows = (
    await db.query<{ generation: number }>(
      `SELECT generation FROM projections WHERE name = $1 AND state = 'retired'`,
      [p.name],
    )
  ).rows;
  for (const { generation } of rows) {
    for (const t of p.tables)
      await db.query(`DROP TABLE IF EXISTS ${physical(t.name, generation)}`);
    // Its runner, wherever it is, finds no row and ends (`lead` treats that as retired).
    await db.query(`DELETE FROM projections WHERE name = $1 AND generation = $2`, [
      p.name,
      generation,
    ]);
  }
}

/**
 * Creates a new generation to be built from the start of the log while the current one
 * keeps serving (a rebuild already under way is given up); returns its number.
 */
export async function createRebuildGeneration(db: Db, p: Projection): Promise<number> {
  if (p.mode === 'effects') throw new RebuildRefused(p.name);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    await tx.query(
      `UPDATE projections SET state = 'retired' WHERE name = $1 AND state = 'rebuilding'`,
      [p.name],
    );
    return createGeneration(tx, p, 1, false);
  });
}

export async function pauseGeneration(db: Db, name: string): Promise<void> {
  await db.query(
    `UPDATE projections SET state = 'paused', updated_at = now() WHERE name = $1 AND state IN ('running', 'rebuilding') AND active`,
    [name],
  );
}

/**
 * Sets a paused or stopped (on a poison event) active generation running again; returns
 * the active generations, which need a runner.
 */
export async function resumeGeneration(db: Db, name: string): Promise<number[]> {
  await db.query(
    `UPDATE projections SET state = 'running', error = NULL, updated_at = now() WHERE name = $1 AND state IN ('paused', 'stopped') AND active`,
    [name],
  );
  const rows = (
    await db.query<ProjectionRow>(`SELECT * FROM projections WHERE name = $1 AND active`, [name])
  ).rows;
  return rows.map((r) => r.generation);
}
