import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/types.js';
import { encodeCursor, START } from '../../src/eventstore/cursor.js';
import { SharedReads } from '../../src/eventstore/shared-reads.js';
import { EventStore } from '../../src/eventstore/store.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

/** Delegates to the real database and counts the reads of the log it was asked for. */
function counting(db: Queryable): Queryable & { reads: number } {
  const c = {
    reads: 0,
    query<R>(sql: string, params?: readonly unknown[]) {
      if (/FROM events/.test(sql)) c.reads += 1;
      return db.query<R>(sql, params);
    },
  };
  return c;
}

describe(`shared reads of the log on ${engine}`, () => {
  let t: TestDatabase;
  let store: EventStore;
  let db: Queryable & { reads: number };
  beforeAll(async () => {
    t = await createTestDatabase();
    db = counting(t.db);
    store = new EventStore(db);
  });
  afterAll(() => t.dispose());

  it('readers at the same position share a read that found events, for a short while', async () => {
    await store.append('s-1', 'thing', [{ type: 'Thing', data: { n: 1 } }]);
    const shared = new SharedReads(store, 200);
    const start = encodeCursor(START);
    const before = db.reads;
    const [a, b] = await Promise.all([shared.read(start, 100), shared.read(start, 100)]);
    const c = await shared.read(start, 100);
    expect(a.map((e) => e.data)).toEqual([{ n: 1 }]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(db.reads - before).toBe(1);
    // Another limit is another read.
    await shared.read(start, 1);
    expect(db.reads - before).toBe(2);
    // Kept only for a while: later, the log is read again and shows what came since.
    await store.append('s-2', 'thing', [{ type: 'Thing', data: { n: 2 } }]);
    await sleep(250);
    const later = await shared.read(start, 100);
    expect(later.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(db.reads - before).toBe(3);
  });

  it('never keeps an empty read, so a reader at the head sees a new commit at once', async () => {
    const shared = new SharedReads(store, 60_000);
    const head = (await store.head())!.cursor;
    expect(await shared.read(head, 100)).toEqual([]);
    await store.append('s-3', 'thing', [{ type: 'Thing', data: { n: 3 } }]);
    const next = await shared.read(head, 100);
    expect(next.map((e) => e.data)).toEqual([{ n: 3 }]);
  });
});
