import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/eventstore/cursor.js';
import {
  ADDRESS,
  call,
  eventsOfStream,
  expectCursorsIncreasing,
  newCustomer,
  newOrder,
  newProduct,
  useWorld,
  type Answer,
  type MutationName,
  type World,
} from './support.js';

/**
 * Many requests at once through the real server (PostgreSQL only: PGlite runs one
 * transaction at a time, so nothing there can race). Every request must be answered with
 * a success or a typed error: no GraphQL error, no 5xx.
 */

/** Only these typed errors are acceptable answers to a request that lost a race. */
function expectAnswered(a: Answer, mutation: MutationName, allowed: string[]) {
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
  const ok = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Success`;
  expect([ok, ...allowed], JSON.stringify(a.payload)).toContain(a.payload?.__typename);
}

async function expectConsecutive(w: World, streamId: string) {
  const events = await eventsOfStream(w, streamId);
  expect(events.map((e) => e.stream_version)).toEqual(events.map((_, i) => i + 1));
  const stream = await w.t.db.query<{ version: number }>(
    'SELECT version FROM streams WHERE stream_id = $1',
    [streamId],
  );
  expect(stream.rows[0]?.version).toBe(events.length);
  // Commit order agrees with version order within the stream.
  expectCursorsIncreasing(
    events.map((e) =>
      encodeCursor({ transactionId: e.transaction_id, globalPosition: e.global_position }),
    ),
  );
  return events;
}

describe('concurrent commands through HTTP (PostgreSQL)', () => {
  const w = useWorld({ poolSize: 24 });

  beforeAll(async () => {
    // Open pooled connections up front so requests really run side by side.
    await Promise.all(Array.from({ length: 20 }, () => w.t.db.query('SELECT pg_sleep(0.02)')));
  });

  it('50 concurrent addOrderItem on one order: at most 10 items, versions without holes', async () => {
    const c = await newCustomer(w);
    const products: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      products.push(...(await Promise.all(Array.from({ length: 17 }, () => newProduct(w)))));
    }
    const order = await newOrder(w, c, [{ productId: products[50]!, quantity: 1 }]);

    const answers = await Promise.all(
      products
        .slice(0, 50)
        .map((productId) =>
          call(
            w,
            'addOrderItem',
            { commandId: randomUUID(), orderId: order.id, productId, quantity: 1 },
            c.headers,
          ),
        ),
    );
    for (const a of answers) {
      expectAnswered(a, 'addOrderItem', ['BusinessRuleViolation', 'ConcurrencyError']);
      if (a.payload.__typename === 'BusinessRuleViolation')
        expect(a.payload.code).toBe('TOO_MANY_ITEMS');
    }
    const wins = answers.filter((a) => a.payload.__typename === 'AddOrderItemSuccess');
    expect(wins.length).toBeGreaterThan(0);
    expect(wins.length).toBeLessThanOrEqual(9);
    // Each success got its own version.
    const versions = wins.map((a) => a.payload.version).sort((x, y) => x - y);
    expect(versions).toEqual(versions.map((_, i) => i + 2));

    const events = await expectConsecutive(w, `order-${order.id}`);
    expect(events).toHaveLength(1 + wins.length);
    expect(events.slice(1).every((e) => e.event_type === 'OrderItemAdded')).toBe(true);
    // Exactly the winners' products were added; each success shows the order at (or, the
    // read model having moved on, after) its own version, with its product in it.
    const wonProducts = answers
      .map((a, i) => (a.payload.__typename === 'AddOrderItemSuccess' ? products[i] : undefined))
      .filter((p) => p !== undefined);
    expect(new Set(events.slice(1).map((e) => e.data.item.productId))).toEqual(
      new Set(wonProducts),
    );
    answers.forEach((a, i) => {
      if (a.payload.__typename !== 'AddOrderItemSuccess') return;
      expect(a.payload.order.version).toBeGreaterThanOrEqual(a.payload.version);
      expect(a.payload.order.items.length).toBeLessThanOrEqual(10);
      expect(a.payload.order.items.map((l: any) => l.productId)).toContain(products[i]);
    });
  });

  it('two customers registering one email at once: exactly one wins, the other gets EMAIL_TAKEN', async () => {
    for (let round = 0; round < 8; round++) {
      const tag = randomUUID();
      // Also when the two spell the address differently.
      const emails = [
        `race-${tag}@example.org`,
        round % 2 ? `RACE-${tag}@Example.org` : `race-${tag}@example.org`,
      ];
      const ids = [randomUUID(), randomUUID()];
      const answers = await Promise.all(
        ids.map((id, i) =>
          call(
            w,
            'registerCustomer',
            { commandId: randomUUID(), id, name: `R${i}`, email: emails[i], phone: '0301234' },
            w.admin,
          ),
        ),
      );
      for (const a of answers) expectAnswered(a, 'registerCustomer', ['BusinessRuleViolation']);
      const winners = answers.filter((a) => a.payload.__typename === 'RegisterCustomerSuccess');
      const losers = answers.filter((a) => a.payload.__typename === 'BusinessRuleViolation');
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(losers[0]!.payload.code).toBe('EMAIL_TAKEN');
      const winner = winners[0]!.payload.customer.id;
      const loser = ids.find((id) => id !== winner)!;
      const streams = await w.t.db.query<{ stream_id: string }>(
        'SELECT stream_id FROM streams WHERE stream_id = ANY($1::text[])',
        [ids.map((id) => `customer-${id}`)],
      );
      expect(streams.rows.map((r) => r.stream_id)).toEqual([`customer-${winner}`]);
      expect(await eventsOfStream(w, `customer-${loser}`)).toHaveLength(0);
      const claims = await w.t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM events WHERE event_type = 'EmailClaimed' AND data->>'customerId' = ANY($1::text[])`,
        [ids],
      );
      expect(claims.rows[0]!.n).toBe(1);
    }
  });

  for (const withId of [true, false]) {
    it(`concurrent replays of one createOrder ${withId ? 'with' : 'without'} a client id make exactly one order`, async () => {
      const c = await newCustomer(w);
      const productId = await newProduct(w);
      const commandId = randomUUID();
      const input = {
        commandId,
        ...(withId ? { id: randomUUID() } : {}),
        customerId: c.id,
        items: [{ productId, quantity: 2 }],
        shippingAddress: ADDRESS,
      };
      const answers = await Promise.all(
        Array.from({ length: 16 }, () => call(w, 'createOrder', input, c.headers)),
      );
      for (const a of answers) expectAnswered(a, 'createOrder', []);
      const orderIds = new Set(answers.map((a) => a.payload.order.id));
      expect(orderIds.size).toBe(1);
      expect(new Set(answers.map((a) => a.payload.cursor)).size).toBe(1);
      expect(answers.every((a) => a.payload.version === 1)).toBe(true);
      const orders = await w.t.db.query<{ stream_id: string }>(
        `SELECT DISTINCT stream_id FROM events WHERE metadata->>'commandId' = $1`,
        [commandId],
      );
      expect(orders.rows.map((r) => r.stream_id)).toEqual([`order-${[...orderIds][0]}`]);
      const ofCustomer = await w.t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM events WHERE event_type = 'OrderCreated' AND data->>'customerId' = $1`,
        [c.id],
      );
      expect(ofCustomer.rows[0]!.n).toBe(1);
    });
  }

  it('concurrent removals from a two-item order never leave it empty', async () => {
    for (let round = 0; round < 5; round++) {
      const c = await newCustomer(w);
      const [p1, p2] = [await newProduct(w), await newProduct(w)];
      const order = await newOrder(w, c, [
        { productId: p1, quantity: 1 },
        { productId: p2, quantity: 1 },
      ]);
      const answers = await Promise.all(
        [p1, p2].map((productId) =>
          call(
            w,
            'removeOrderItem',
            { commandId: randomUUID(), orderId: order.id, productId },
            c.headers,
          ),
        ),
      );
      for (const a of answers)
        expectAnswered(a, 'removeOrderItem', ['BusinessRuleViolation', 'ConcurrencyError']);
      const wins = answers.filter((a) => a.payload.__typename === 'RemoveOrderItemSuccess');
      expect(wins).toHaveLength(1);
      const lost = answers.find((a) => a !== wins[0])!;
      expect(lost.payload.code).toBe('LAST_ITEM');
      const events = await expectConsecutive(w, `order-${order.id}`);
      expect(events.map((e) => e.event_type)).toEqual(['OrderCreated', 'OrderItemRemoved']);
    }
  });
});
