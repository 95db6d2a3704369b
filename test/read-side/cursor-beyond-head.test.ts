import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/eventstore/cursor.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, wsClient } from '../support/live.js';
import { seedOrder, type Seeded } from '../support/seed.js';

/*
 * A log cursor beyond the end of the log can never be reached: a read waiting for it
 * (`consistentWith`) would hold a request, and poll, for the whole read timeout, and a page
 * or feed `after` it would stay empty. Such cursors are refused at once, and the waits of
 * one request are shared, so aliases cannot multiply them.
 */

describe(`cursors beyond the end of the log on ${engine}`, () => {
  const { s } = useTestApp();
  let seeded: Seeded;
  let beyond: string;
  let head: string;

  beforeAll(async () => {
    seeded = await seedOrder(s);
    head = (await s.app.store.head())!.cursor;
    const at = decodeCursor(head);
    beyond = encodeCursor({
      transactionId: String(BigInt(at.transactionId) + 1_000_000n),
      globalPosition: at.globalPosition + 1_000_000,
    });
  });

  const refused = async (query: string, variables: Record<string, unknown>) => {
    const started = Date.now();
    const r = await s.graphql<any>(query, variables, seeded.customer);
    const error = r.body.errors?.[0];
    expect(error, JSON.stringify(r.body)).toBeDefined();
    expect(error!.extensions).toMatchObject({ code: 'CURSOR_BEYOND_HEAD' });
    // At once: not after the 5 s read timeout.
    expect(Date.now() - started).toBeLessThan(2_500);
    return error!;
  };

  it('consistentWith on order and orders', async () => {
    const e = await refused(
      `query($c: Cursor) { order(id: "${seeded.orderId}", consistentWith: $c) { id } }`,
      { c: beyond },
    );
    expect(e.extensions).toMatchObject({ argument: 'consistentWith', cursor: beyond });
    await refused(`query($c: Cursor) { orders(first: 5, consistentWith: $c) { totalCount } }`, {
      c: beyond,
    });
  });

  it('after on an order’s events and on the admin log', async () => {
    const e = await refused(
      `query($a: String) { orderHistory(id: "${seeded.orderId}") { events(after: $a) { edges { cursor } } } }`,
      { a: beyond },
    );
    expect(e.extensions).toMatchObject({ argument: 'after' });
    const r = await s.graphql<any>(
      `query($a: Cursor) { events(after: $a) { edges { cursor } } }`,
      { a: beyond },
      seeded.admin,
    );
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'CURSOR_BEYOND_HEAD' });
  });

  it('after on a subscription', async () => {
    const ws = wsClient(s.url, seeded.customer.authorization);
    try {
      const feed = collect(
        ws,
        `subscription($id: ID!, $a: Cursor) { orderTimeline(orderId: $id, after: $a) { cursor } }`,
        { id: seeded.orderId, a: beyond },
        'orderTimeline',
      );
      await expect(feed.waitFor(1, 3_000)).rejects.toThrow();
      expect(JSON.stringify(feed.errors)).toMatch(/CURSOR_BEYOND_HEAD/);
    } finally {
      await ws.dispose();
    }
  });

  it('accepts the cursors the API hands out, up to the newest one', async () => {
    const r = await s.graphql<any>(
      `query($c: Cursor, $a: String) { order(id: "${seeded.orderId}", consistentWith: $c) { id } orderHistory(id: "${seeded.orderId}") { events(after: $a) { edges { cursor } } } }`,
      { c: head, a: head },
      seeded.customer,
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.order.id).toBe(seeded.orderId);
  });

  it('one wait per cursor per request, however many aliases ask', async () => {
    const projections = s.app.projections;
    const original = projections.waitFor.bind(projections);
    let waits = 0;
    projections.waitFor = (...args) => {
      waits++;
      return original(...args);
    };
    try {
      const aliases = Array.from(
        { length: 10 },
        (_, k) => `o${k}: order(id: "${seeded.orderId}", consistentWith: $c) { id }`,
      ).join(' ');
      const r = await s.graphql<any>(
        `query($c: Cursor) { ${aliases} }`,
        { c: head },
        seeded.customer,
      );
      expect(r.body.errors).toBeUndefined();
      expect(Object.keys(r.body.data)).toHaveLength(10);
      expect(waits).toBe(1);
    } finally {
      projections.waitFor = original;
    }
  });
});
