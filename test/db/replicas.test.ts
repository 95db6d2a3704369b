import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import { ReadReplicas } from '../../src/db/replicas.js';
import type { Db } from '../../src/db/types.js';

/*
 * The routing of ReadReplicas between real databases that say who they are (the real
 * streaming replica is in test/read-side/replicas.replica.test.ts): which database
 * answers each statement, and what a replica that cannot be reached costs.
 */

const WHO = 'SELECT name FROM who';
let primary: Db;
let r1: Db;
let r2: Db;
/** A PostgreSQL "replica" nobody listens for: every statement is refused. */
let gone: Db;

async function named(name: string): Promise<Db> {
  const db = await openPglite();
  await db.query('CREATE TABLE who (name text)');
  await db.query('INSERT INTO who VALUES ($1)', [name]);
  return db;
}
const who = async (q: { query: Db['query'] }) =>
  (await q.query<{ name: string }>(WHO)).rows[0]!.name;

beforeAll(async () => {
  [primary, r1, r2] = await Promise.all([named('primary'), named('r1'), named('r2')]);
  gone = openPostgres({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 1 });
});
afterAll(async () => {
  for (const db of [primary, r1, r2, gone]) await db?.close();
});

describe('read replicas: routing', () => {
  it('gives each request the next replica in turn; transactions stay on the primary', async () => {
    const replicas = new ReadReplicas(primary, [
      { name: 'r1', db: r1 },
      { name: 'r2', db: r2 },
    ]);
    const answers: string[] = [];
    for (let k = 0; k < 3; k++) answers.push(await who(replicas.forRequest()));
    answers.push(await replicas.forRequest().transaction((tx) => who(tx)));
    expect(answers).toEqual(['r1', 'r2', 'r1', 'primary']);
    expect(replicas.reads).toEqual({ replica: 3, primary: 0, fallback: 0 });
  });

  it('an unreachable replica: the statement and the rest of the request go to the primary; the replica rests, then is tried again', async () => {
    const replicas = new ReadReplicas(
      primary,
      [
        { name: 'gone', db: gone },
        { name: 'r2', db: r2 },
      ],
      { retryAfterMs: 100 },
    );
    const first = replicas.forRequest();
    expect(await who(first)).toBe('primary');
    expect(await who(first)).toBe('primary');
    expect(replicas.status()).toEqual([
      { name: 'gone', up: false },
      { name: 'r2', up: true },
    ]);
    // While it rests, every request reads the other one.
    expect([await who(replicas.forRequest()), await who(replicas.forRequest())]).toEqual([
      'r2',
      'r2',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(replicas.status()[0]!.up).toBe(true);
    // Tried again: still unreachable, so the primary answers and it rests once more.
    const answers = [await who(replicas.forRequest()), await who(replicas.forRequest())];
    expect(answers.sort()).toEqual(['primary', 'r2']);
    expect(replicas.fallbacks).toEqual({ lag: 0, error: 2 });
    expect(replicas.reads).toEqual({ replica: 3, primary: 0, fallback: 3 });
  });

  it('an error the primary would give too (bad input) is not retried there', async () => {
    const replicas = new ReadReplicas(primary, [{ name: 'r1', db: r1 }]);
    await expect(replicas.forRequest().query('SELECT 1 / 0')).rejects.toMatchObject({
      code: '22012',
    });
    expect(replicas.status()[0]!.up).toBe(true);
    expect(replicas.reads).toEqual({ replica: 0, primary: 0, fallback: 0 });
  });

  it('with every replica resting, requests read the primary; leaving for lag rests no replica', async () => {
    const replicas = new ReadReplicas(primary, [{ name: 'gone', db: gone }]);
    expect(await who(replicas.forRequest())).toBe('primary');
    expect(await who(replicas.forRequest())).toBe('primary');
    expect(replicas.reads).toEqual({ replica: 0, primary: 1, fallback: 1 });

    const healthy = new ReadReplicas(primary, [{ name: 'r2', db: r2 }]);
    const route = healthy.forRequest();
    expect(route.current).toBeDefined();
    route.leave('lag');
    expect(route.current).toBeUndefined();
    expect(await who(route)).toBe('primary');
    expect(await who(healthy.forRequest())).toBe('r2');
    expect(healthy.fallbacks).toEqual({ lag: 1, error: 0 });
  });
});
