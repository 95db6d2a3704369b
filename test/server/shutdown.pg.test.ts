import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { collect, wsClient, type Collected, type WsSession } from '../support/live.js';
import { remote, startServer as start, type ServerChild } from '../support/processes.js';
import { seedOrder, type Seeded } from '../support/seed.js';

/*
 * SIGTERM while clients write and subscribers read: the real server (npm start's entry
 * point) in a child process on PostgreSQL. Nothing acknowledged may be lost, and every
 * subscriber must be able to resume where it stopped, with no gap and no duplicate.
 */

const EVENTS = `subscription($after: Cursor) { events(after: $after) { cursor eventId type } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { cursor order { id } } ... on Error { code message } } }`;
const WRITERS = 8;
const SUBSCRIBERS = 3;
const SHUTDOWN_TIMEOUT_MS = 15_000;

type Server = ServerChild;
const startServer = (databaseUrl: string) =>
  start(databaseUrl, { STRATA_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });

/** Creates an order; returns its command id once acknowledged, null when refused. */
async function createOrder(s: TestApp, x: Seeded): Promise<string | null> {
  const commandId = randomUUID();
  const r = await s.graphql<any>(
    CREATE_ORDER,
    {
      i: {
        commandId,
        customerId: x.customerId,
        items: [{ productId: x.productId, quantity: 1 }],
        shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
      },
    },
    x.customer,
  );
  return r.body.data?.createOrder?.__typename === 'CreateOrderSuccess' ? commandId : null;
}

describe('SIGTERM under load (PostgreSQL, a real server process)', () => {
  let t: TestDatabase;
  const servers: Server[] = [];
  const sessions: WsSession[] = [];
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    for (const x of sessions) await x.dispose().catch(() => undefined);
    for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await t?.dispose();
  });

  it('loses no acknowledged command and leaves every subscriber a cursor to resume from', async () => {
    const first = await startServer(t.url!);
    servers.push(first);
    const api = remote(first.url);
    const seeded = await seedOrder(api, 1_000_000);

    // Subscribers to the whole log, live from now.
    const feeds: { session: WsSession; feed: Collected<any> }[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const session = wsClient(first.url, seeded.admin.authorization);
      sessions.push(session);
      feeds.push({ session, feed: collect<any>(session, EVENTS, {}, 'events') });
    }
    // graphql-ws has no "subscribed" acknowledgement: give the subscriptions a moment.
    await new Promise((r) => setTimeout(r, 300));

    // Writers: create orders until the server is gone; keep what was acknowledged.
    const acknowledged: string[] = [];
    let running = true;
    const writers = Array.from({ length: WRITERS }, () => write(api, seeded));
    async function write(s: TestApp, x: Seeded) {
      while (running) {
        try {
          const commandId = await createOrder(s, x);
          if (commandId) acknowledged.push(commandId);
        } catch {
          return; // refused or cut: not acknowledged, and the server is going away
        }
      }
    }

    // Mid-load: every subscriber has events, the writers have had some answers.
    for (const { feed } of feeds) await feed.waitFor(1, 20_000);
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGTERM');
    const code = await Promise.race([
      first.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SHUTDOWN_TIMEOUT_MS + 5_000)),
    ]);
    running = false;
    await Promise.all(writers);
    expect(code, first.output()).toBe(0);
    expect(first.output()).toMatch(/shutdown: WebSocket subscribers closed/);
    expect(first.output()).toMatch(/shutdown: projections stopped at a checkpoint/);

    // Every acknowledged command is in the log.
    const stored = await t.db.query<{ id: string }>(
      `SELECT DISTINCT metadata->>'commandId' AS id FROM events WHERE metadata->>'commandId' = ANY($1::text[])`,
      [acknowledged],
    );
    expect(new Set(stored.rows.map((r) => r.id))).toEqual(new Set(acknowledged));

    // The log in commit order, to compare the subscribers with.
    const log = (
      await t.db.query<{ event_id: string }>(
        `SELECT event_id FROM events ORDER BY transaction_id, global_position`,
      )
    ).rows.map((r) => r.event_id);

    // Each subscriber: closed resumably, holding the cursor of a contiguous stretch of the log.
    const resumeFrom: { cursor: string; after: string[] }[] = [];
    for (const { session, feed } of feeds) {
      const closed = await session.closed;
      expect(closed.code).toBe(1001);
      expect(closed.reason).toMatch(/resume from your last cursor/);
      // The client reports the close to its sink; nothing else went wrong.
      expect(feed.errors.filter((e) => (e as { code?: number }).code !== 1001)).toEqual([]);
      expect(feed.items.every((e) => typeof e.cursor === 'string' && e.cursor)).toBe(true);
      const ids = feed.items.map((e) => e.eventId as string);
      const start = log.indexOf(ids[0]!);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(ids).toEqual(log.slice(start, start + ids.length)); // no gap, no duplicate
      const last = feed.items[feed.items.length - 1]!;
      resumeFrom.push({ cursor: last.cursor, after: log.slice(start + ids.length) });
    }

    // Restarted, each subscriber resumes after its cursor: exactly the rest of the log.
    const second = await startServer(t.url!);
    servers.push(second);
    // Events they missed while away.
    const again = remote(second.url);
    for (let i = 0; i < 10; i++) expect(await createOrder(again, seeded)).toBeTruthy();
    const missed = (
      await t.db.query<{ event_id: string }>(
        `SELECT event_id FROM events ORDER BY transaction_id, global_position`,
      )
    ).rows
      .map((r) => r.event_id)
      .slice(log.length);
    expect(missed).toHaveLength(10);
    for (const { cursor, after: before } of resumeFrom) {
      const after = [...before, ...missed];
      const session = wsClient(second.url, seeded.admin.authorization);
      sessions.push(session);
      const resumed = collect<any>(session, EVENTS, { after: cursor }, 'events');
      const got = await resumed.waitFor(after.length, 20_000);
      expect(got.map((e) => e.eventId)).toEqual(after);
      await new Promise((r) => setTimeout(r, 200)); // and nothing more (no event is written now)
      expect(resumed.items).toHaveLength(after.length);
      resumed.stop();
      await session.dispose();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
