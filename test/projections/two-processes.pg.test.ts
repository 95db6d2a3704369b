import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { EventStore } from '../../src/eventstore/store.js';
import { Notifier } from '../../src/eventstore/notifier.js';
import { ProjectionRuntime } from '../../src/projections/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { counts, countingProjection } from './toy.js';

const logger = pino({ level: 'silent' });

/** Two "processes": separate pools, notifiers and runtimes on one database. */
describe('projections across two processes (PostgreSQL)', () => {
  let t: TestDatabase;
  const opened: { db: Db; notifier: Notifier; runtime: ProjectionRuntime }[] = [];

  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    for (const p of opened.splice(0)) {
      await p.runtime.stop();
      await p.notifier.stop();
      await p.db.close();
    }
    await t.dispose();
  });

  async function process(owner: string, applied: string[]) {
    const db = openPostgres({ connectionString: t.url!, max: 4 });
    const notifier = new Notifier(db, logger, 200);
    await notifier.start();
    const p = countingProjection('shared', {
      beforeApply: (events) => applied.push(...events.map((e) => `${owner}:${e.eventId}`)),
    });
    const runtime = new ProjectionRuntime(db, new EventStore(db), notifier, [p], logger, {
      owner,
      leaseMs: 800,
      idleMs: 50,
      batchSize: 25,
    });
    await runtime.start();
    const handle = { db, notifier, runtime };
    opened.push(handle);
    return handle;
  }

  it('runs one runner per projection, and the other process takes over when the holder stops', async () => {
    const applied: string[] = [];
    const a = await process('A', applied);
    const b = await process('B', applied);
    const store = new EventStore(t.db);
    // Waits are for the cursor of the last append, not the head: the head is what every
    // reader can see now, which lags while any transaction of this database (a projection
    // batch, say) that began before the last append is still open.
    let last = '';
    for (let i = 0; i < 20; i++) {
      const r = await store.append(`s-${i % 4}`, 'thing', [
        { type: 'Counted', data: {} },
        { type: 'Counted', data: {} },
      ]);
      last = r.cursor;
    }
    await a.runtime.waitFor(last, ['shared'], 10_000);
    const owners = new Set(applied.map((x) => x.split(':')[0]));
    expect(owners.size).toBe(1); // one runner only
    expect(await counts(t.db, 'shared')).toEqual({ 's-0': 10, 's-1': 10, 's-2': 10, 's-3': 10 });

    const [holder, other] = owners.has('A') ? [a, b] : [b, a];
    const before = applied.length;
    await holder.runtime.stop();
    opened.splice(opened.indexOf(holder), 1);
    await holder.notifier.stop();
    await holder.db.close();
    for (let i = 0; i < 10; i++)
      last = (await store.append('s-9', 'thing', [{ type: 'Counted', data: {} }])).cursor;
    await other.runtime.waitFor(last, ['shared'], 10_000);
    expect(applied.slice(before).every((x) => !x.startsWith(holder === a ? 'A' : 'B'))).toBe(true);
    expect((await counts(t.db, 'shared'))['s-9']).toBe(10);
    // Every event applied exactly once overall.
    const ids = applied.map((x) => x.split(':')[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(50);
  });
});
