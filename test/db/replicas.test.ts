import { describe, expect, it } from 'vitest';
import { ReadReplicas } from '../../src/db/replicas.js';
import type { Db, QueryResult } from '../../src/db/types.js';

/*
 * The routing of ReadReplicas over stand-in databases (the real streaming replica is in
 * test/read-side/replicas.replica.test.ts): which database each statement reaches.
 */

function fake(name: string, log: string[], fail?: () => Error | undefined): Db {
  const query = async <R>(sql: string): Promise<QueryResult<R>> => {
    const err = fail?.();
    log.push(`${name}${err ? '!' : ''}: ${sql}`);
    if (err) throw err;
    return { rows: [{ from: name } as R], rowCount: 1 };
  };
  return {
    engine: 'postgres',
    query,
    transaction: (fn) => fn({ query }),
    withSession: (fn) => fn({ query, exec: async () => undefined }),
    listen: () => Promise.reject(new Error('not here')),
    close: async () => undefined,
  };
}

const sqlError = (code: string) => Object.assign(new Error(code), { code });

describe('read replicas: routing', () => {
  it('gives each request the next replica in turn; transactions stay on the primary', async () => {
    const log: string[] = [];
    const replicas = new ReadReplicas(fake('primary', log), [
      { name: 'r1', db: fake('r1', log) },
      { name: 'r2', db: fake('r2', log) },
    ]);
    for (let k = 0; k < 3; k++) await replicas.forRequest().query(`q${k}`);
    await replicas.forRequest().transaction((tx) => tx.query('write'));
    expect(log).toEqual(['r1: q0', 'r2: q1', 'r1: q2', 'primary: write']);
    expect(replicas.reads).toEqual({ replica: 3, primary: 0, fallback: 0 });
  });

  it('a failing replica: the statement and the rest of the request go to the primary; the replica rests, then is tried again', async () => {
    const log: string[] = [];
    let broken = true;
    const replicas = new ReadReplicas(
      fake('primary', log),
      [
        {
          name: 'r1',
          db: fake('r1', log, () => (broken ? sqlError('ECONNREFUSED') : undefined)),
        },
        { name: 'r2', db: fake('r2', log) },
      ],
      { retryAfterMs: 50 },
    );
    const first = replicas.forRequest();
    expect((await first.query<{ from: string }>('a')).rows[0]!.from).toBe('primary');
    await first.query('b');
    expect(log).toEqual(['r1!: a', 'primary: a', 'primary: b']);
    expect(replicas.status()).toEqual([
      { name: 'r1', up: false },
      { name: 'r2', up: true },
    ]);
    // While r1 rests, every request reads r2.
    log.length = 0;
    await replicas.forRequest().query('c');
    await replicas.forRequest().query('d');
    expect(log).toEqual(['r2: c', 'r2: d']);
    broken = false;
    await new Promise((resolve) => setTimeout(resolve, 60));
    log.length = 0;
    await replicas.forRequest().query('e');
    await replicas.forRequest().query('f');
    expect(log.sort()).toEqual(['r1: e', 'r2: f'].sort());
    expect(replicas.fallbacks).toEqual({ lag: 0, error: 1 });
    expect(replicas.reads).toEqual({ replica: 4, primary: 0, fallback: 2 });
  });

  it('an error the primary would give too (bad input, statement timeout) is not retried there', async () => {
    const log: string[] = [];
    let code = '22P02';
    const replicas = new ReadReplicas(fake('primary', log), [
      { name: 'r1', db: fake('r1', log, () => sqlError(code)) },
    ]);
    await expect(replicas.forRequest().query('bad')).rejects.toThrow('22P02');
    code = '57014';
    await expect(replicas.forRequest().query('slow')).rejects.toThrow('57014');
    expect(log).toEqual(['r1!: bad', 'r1!: slow']);
    expect(replicas.status()[0]!.up).toBe(true);
  });

  it('with every replica resting, requests read the primary; leaving for lag rests no replica', async () => {
    const log: string[] = [];
    const replicas = new ReadReplicas(fake('primary', log), [
      { name: 'r1', db: fake('r1', log, () => sqlError('57P01')) },
    ]);
    await replicas.forRequest().query('a');
    await replicas.forRequest().query('b');
    expect(log).toEqual(['r1!: a', 'primary: a', 'primary: b']);
    expect(replicas.reads).toEqual({ replica: 0, primary: 1, fallback: 1 });

    const healthy = new ReadReplicas(fake('primary', log), [{ name: 'r2', db: fake('r2', log) }]);
    const route = healthy.forRequest();
    expect(route.current).toBeDefined();
    route.leave('lag');
    expect(route.current).toBeUndefined();
    log.length = 0;
    await route.query('c');
    await healthy.forRequest().query('d');
    expect(log).toEqual(['primary: c', 'r2: d']);
    expect(healthy.fallbacks).toEqual({ lag: 1, error: 0 });
  });
});
