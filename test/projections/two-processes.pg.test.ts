import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { EventStore } from '../../src/eventstore/store.js';
import { Notifier } from '../../src/eventstore/notifier.js';
import { ProjectionRuntime } from '../../src/projections/runtime.js';
import type { Projection } from '../../src/projections/types.js';
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
  /** Opens the gates a failed test left shut, so that its runners can stop. */
  const opens: (() => void)[] = [];
  afterEach(async () => {
    for (const open of opens.splice(0)) open();
    for (const p of opened.splice(0)) {
      await p.runtime.stop();
      await p.notifier.stop();
      await p.db.close();
    }
    await t.dispose();
  });

  /** `gate`, while set, holds every batch of this process inside its transaction. */
  async function process(
    owner: string,
    applied: string[],
    gate?: { wait?: Promise<void>; entered?: number },
  ) {
    const db = openPostgres({ connectionString: t.url!, max: 4, applicationName: owner });
    const notifier = new Notifier(db, logger, 200);
    await notifier.start();
    const counting = countingProjection('shared', {
      beforeApply: (events) => applied.push(...events.map((e) => `${owner}:${e.eventId}`)),
    });
    const p: Projection = {
      ...counting,
      async apply(tx, events, table) {
        if (gate) gate.entered = (gate.entered ?? 0) + 1;
        await gate?.wait;
        return counting.apply(tx, events, table);
      },
    };
    const runtime = new ProjectionRuntime(db, new EventStore(db), notifier, [p], logger, {
      owner,
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

  it('takes over within a second when the leader loses its connection, and fences off its batch in flight', async () => {
    const applied: string[] = [];
    type Gate = { wait?: Promise<void>; entered?: number };
    const gates: Record<'A' | 'B', Gate> = { A: {}, B: {} };
    const a = await process('A', applied, gates.A);
    const b = await process('B', applied, gates.B);
    const store = new EventStore(t.db);
    let last = (await store.append('s-0', 'thing', [{ type: 'Counted', data: {} }])).cursor;
    await a.runtime.waitFor(last, ['shared'], 10_000);
    const holder = applied[0]!.split(':')[0] as 'A' | 'B';
    const other = holder === 'A' ? b : a;

    // The leader's next batch stops inside its transaction, not yet at its checkpoint.
    let open!: () => void;
    gates[holder].wait = new Promise<void>((resolve) => (open = resolve));
    opens.push(open);
    const entered = gates[holder].entered ?? 0;
    for (let i = 0; i < 5; i++)
      last = (await store.append('s-1', 'thing', [{ type: 'Counted', data: {} }])).cursor;
    await until(() => (gates[holder].entered ?? 0) > entered);

    // Its leadership connection dies (as with a killed process, a lost network).
    const killed = await t.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [`${holder} leadership`],
    );
    expect(killed.rowCount).toBe(1);
    const lostAt = Date.now();
    await other.runtime.waitFor(last, ['shared'], 5_000);
    const takeover = Date.now() - lostAt;
    expect(takeover).toBeLessThan(1_000);

    // The old leader's batch goes on to its checkpoint: the fence turns it away.
    open();
    gates[holder].wait = undefined;
    for (let i = 0; i < 3; i++)
      last = (await store.append('s-2', 'thing', [{ type: 'Counted', data: {} }])).cursor;
    await other.runtime.waitFor(last, ['shared'], 5_000);
    await new Promise((r) => setTimeout(r, 300)); // room for a wrong second apply to land
    expect(await counts(t.db, 'shared')).toEqual({ 's-0': 1, 's-1': 5, 's-2': 3 });
    const status = await other.runtime.status();
    expect(status.find((s) => s.name === 'shared')?.leaseOwner).toBe(holder === 'A' ? 'B' : 'A');
  });
});

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
