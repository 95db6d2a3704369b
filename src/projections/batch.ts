import type { Queryable } from '../db/types.js';

/**
 * Set-based helpers for projections. A batch is applied with a handful of statements,
 * whatever its size: load the affected rows by id (`= ANY`), fold the events in memory,
 * write the changed rows back with one multi-row upsert through `jsonb_to_recordset`
 * (a single parameter, so no limit on the number of rows and no per-row statements).
 * Plain SQL that PostgreSQL 15 and PGlite (18) both accept.
 */

/** A column of a read table as `jsonb_to_recordset` declares it: `[name, SQL type]`. */
export type Column = readonly [name: string, type: string];

/**
 * Several DDL statements as one: PGlite runs `query` as a prepared statement, which takes
 * one command only, and a projection table's DDL is one `query` call.
 */
export const ddlBlock = (...statements: string[]): string =>
  `DO $ddl$ BEGIN ${statements.map((s) => `${s.trim()};`).join(' ')} END $ddl$`;

/** Rows of `table` whose `key` column is one of `ids`. */
export async function loadByIds<R>(
  tx: Queryable,
  table: string,
  ids: Iterable<string>,
  key = 'id',
): Promise<R[]> {
  const list = [...new Set(ids)];
  if (list.length === 0) return [];
  const r = await tx.query<R>(`SELECT * FROM ${table} WHERE ${key} = ANY($1::text[])`, [list]);
  return r.rows;
}

/** `SELECT cols FROM jsonb_to_recordset($1::jsonb) AS x(col type, …)` for `columns`. */
export function recordset(columns: readonly Column[], param = '$1'): string {
  const names = columns.map(([n]) => n).join(', ');
  const decl = columns.map(([n, t]) => `${n} ${t}`).join(', ');
  return `SELECT ${names} FROM jsonb_to_recordset(${param}::jsonb) AS x(${decl})`;
}

export interface UpsertOptions {
  /** The conflict key (a primary key or unique index). */
  key: readonly string[];
  /**
   * Only overwrite a row whose `version` column is lower than the incoming one, so an
   * upsert can never move a row back (belt and braces: the fold already skips old events).
   */
  newerOnly?: boolean;
  /** Columns kept as they are on conflict (e.g. a number assigned once). */
  keep?: readonly string[];
}

/** A write of a batch, ready to run in its transaction (its rows already serialized). */
export type Write = (tx: Queryable) => Promise<void>;

/** `sql` with `rows` as its one JSON parameter, serialized now: nothing for no rows. */
function jsonWrite(sql: string, rows: readonly object[]): Write {
  if (rows.length === 0) return () => Promise.resolve();
  const json = JSON.stringify(rows);
  return async (tx) => {
    await tx.query(sql, [json]);
  };
}

/**
 * One multi-row upsert of `rows` (objects keyed by column name) into `table`, serialized
 * now and sent when run: a projection being built folds and serializes the next batch
 * while the last one is written (ADR 13).
 */
export function upsertWrite(
  table: string,
  columns: readonly Column[],
  rows: readonly object[],
  options: UpsertOptions,
): Write {
  const names = columns.map(([n]) => n);
  const keep = new Set([...options.key, ...(options.keep ?? [])]);
  const updates = names.filter((n) => !keep.has(n)).map((n) => `${n} = EXCLUDED.${n}`);
  const conflict =
    updates.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${updates.join(', ')}${options.newerOnly ? ' WHERE cur.version < EXCLUDED.version' : ''}`;
  return jsonWrite(
    `INSERT INTO ${table} AS cur (${names.join(', ')})
     ${recordset(columns)}
     ON CONFLICT (${options.key.join(', ')}) ${conflict}`,
    rows,
  );
}

/** One multi-row upsert of `rows` (objects keyed by column name) into `table`. */
export async function upsertRows(
  tx: Queryable,
  table: string,
  columns: readonly Column[],
  rows: readonly object[],
  options: UpsertOptions,
): Promise<void> {
  await upsertWrite(table, columns, rows, options)(tx);
}

/** Inserts `rows`, leaving rows whose key already exists untouched; serialized now, sent when run. */
export function insertWrite(
  table: string,
  columns: readonly Column[],
  rows: readonly object[],
  key: readonly string[],
): Write {
  return jsonWrite(
    `INSERT INTO ${table} (${columns.map(([n]) => n).join(', ')})
     ${recordset(columns)}
     ON CONFLICT (${key.join(', ')}) DO NOTHING`,
    rows,
  );
}

/** ISO string of a timestamp as either engine returns it (Date) or an event carries it. */
export const iso = (v: Date | string): string => (v instanceof Date ? v.toISOString() : v);
