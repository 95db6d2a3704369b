import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../src/commands/handler.js';
import { ConcurrencyError } from '../../src/eventstore/errors.js';
import { SnapshotStore } from '../../src/eventstore/snapshots.js';
import { EventStore } from '../../src/eventstore/store.js';
import { DomainError, type Decider } from '../../src/shared/decider.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

/**
 * The unit of work (src/commands/unit-of-work.ts): several streams loaded in one round
 * trip, commands decided in memory against the state the earlier ones left, everything
 * committed in one append at the versions loaded.
 */

type CounterCommand = { type: 'Add'; data: { n: number } };
type CounterEvent = { type: 'Added'; data: { n: number } };
type CounterState = { total: number };

/** A counter that refuses to go above 10. */
const counter: Decider<CounterCommand, CounterEvent, CounterState> = {
  streamType: 'counter',
  snapshotVersion: 1,
  initialState: { total: 0 },
  decide: (c, s) => {
    if (s.total + c.data.n > 10) throw new DomainError('business', 'OVER_TEN', 'at most 10');
    return [{ type: 'Added', data: { n: c.data.n } }];
  },
  evolve: (s, e) => ({ total: s.total + e.data.n }),
};

const add = (n: number): CounterCommand => ({ type: 'Add', data: { n } });
const meta = { userId: 'test', commandId: randomUUID() };

describe(`unit of work on ${engine}`, () => {
  let t: TestDatabase;
  let store: EventStore;
  let snapshots: SnapshotStore;
  let commands: CommandHandler;
  let reads = 0;
  beforeAll(async () => {
    t = await createTestDatabase();
    const db = {
      query: ((sql: string, params?: readonly unknown[], options?: { name?: string }) => {
        if (/\bevents\b/.test(sql)) reads += 1;
        return t.db.query(sql, params, options);
      }) as typeof t.db.query,
    };
    store = new EventStore(db);
    snapshots = new SnapshotStore(t.db);
    commands = new CommandHandler(store, snapshots, { snapshotEvery: 4 });
  });
  afterAll(() => t.dispose());

  const target = (streamId: string) => ({ decider: counter, streamId });

  it('decides on the state the earlier commands left and commits every stream at once, in the order first written', async () => {
    const [a, b, c] = [`c-${randomUUID()}`, `c-${randomUUID()}`, `c-${randomUUID()}`];
    await commands.execute(counter, b, add(2), { ...envelope(), operation: 'add', input: 2 });
    const uow = commands.unitOfWork();
    const before = reads;
    await uow.load([target(a), target(b), target(c)]);
    expect(reads - before).toBe(1);
    expect(uow.get(counter, b)).toEqual({ state: { total: 2 }, version: 1 });

    uow.decide(counter, c, add(1), meta);
    uow.decide(counter, b, add(3), meta);
    uow.decide(counter, b, add(4), meta);
    expect(uow.get(counter, b)).toEqual({ state: { total: 9 }, version: 3 });
    // Refused on the state as decided so far (9 + 2 > 10); nothing of it is kept.
    expect(() => uow.decide(counter, b, add(2), meta)).toThrow(DomainError);
    expect(uow.get(counter, b)).toEqual({ state: { total: 9 }, version: 3 });
    expect(uow.pendingEvents()).toBe(3);
    expect(uow.pending().map((p) => p.streamId)).toEqual([c, b]);
    expect(await store.readStream(b)).toHaveLength(1); // nothing written before the commit

    const result = await uow.commit();
    expect(result!.streams).toEqual([
      { streamId: c, version: 1 },
      { streamId: b, version: 3 },
    ]);
    expect((await store.readStream(b)).map((e) => e.data)).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
    const positions = result!.events.map((e) => e.globalPosition);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    expect(await store.readStream(a)).toEqual([]);
    // Nothing left to commit; the work goes on from the committed versions.
    expect(await uow.commit()).toBeNull();
    uow.decide(counter, b, add(1), meta);
    await uow.commit();
    expect(await commands.load(counter, b)).toMatchObject({ state: { total: 10 }, version: 4 });
  });

  it('writes nothing when a stream moved since it was loaded', async () => {
    const [a, b] = [`c-${randomUUID()}`, `c-${randomUUID()}`];
    await commands.execute(counter, b, add(1), { ...envelope(), operation: 'add', input: 1 });
    const uow = commands.unitOfWork();
    await uow.load([target(a), target(b)]);
    uow.decide(counter, a, add(5), meta);
    uow.decide(counter, b, add(5), meta);
    // Someone else writes to b meanwhile.
    await commands.execute(counter, b, add(1), { ...envelope(), operation: 'add', input: 1 });
    await expect(uow.commit()).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await store.readStream(a)).toEqual([]);
    expect((await store.readStream(b)).map((e) => e.data)).toEqual([{ n: 1 }, { n: 1 }]);
  });

  it('keeps the event ids it handed out, and snapshots a stream that crossed a multiple of snapshotEvery', async () => {
    const a = `c-${randomUUID()}`;
    const uow = commands.unitOfWork();
    await uow.load([target(a)]);
    const decided = [1, 1, 1, 1, 1].flatMap((n) => uow.decide(counter, a, add(n), meta));
    await uow.commit();
    expect((await store.readStream(a)).map((e) => e.eventId)).toEqual(
      decided.map((e) => e.eventId),
    );
    expect(await snapshots.loadLatest(a, 1)).toMatchObject({ version: 5, state: { total: 5 } });
  });

  it('refuses a stream it did not load, or loaded as another kind', async () => {
    const uow = commands.unitOfWork();
    expect(() => uow.decide(counter, 'c-nope', add(1), meta)).toThrow(/not loaded/);
    const other: Decider<CounterCommand, CounterEvent, CounterState> = {
      ...counter,
      streamType: 'other',
    };
    await uow.load([target('c-kind')]);
    expect(() => uow.get(other, 'c-kind')).toThrow(/loaded as a counter/);
  });
});

function envelope() {
  return {
    commandId: randomUUID(),
    principal: { userId: 'test', role: 'admin' as const },
    correlationId: randomUUID(),
  };
}
