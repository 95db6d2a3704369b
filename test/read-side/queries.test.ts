import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  execute,
  getNamedType,
  isInputObjectType,
  isNonNullType,
  isScalarType,
  parse,
  type GraphQLInputType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import type { Db } from '../../src/db/types.js';
import type { StreamAppend } from '../../src/eventstore/types.js';
import type { GraphQLContext } from '../../src/graphql/context.js';
import { createLoaders } from '../../src/server/loaders.js';
import { getSchema } from '../../src/server/schema.js';
import { CustomerEvents } from '../../src/customers/events.js';
import { CUSTOMER_STREAM_TYPE, customerStreamId } from '../../src/customers/decider.js';
import { OrderEvents, type OrderLine } from '../../src/orders/events.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../../src/orders/decider.js';
import { useTestApp, type TestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import {
  appendAll,
  caughtUp,
  customerRegistered,
  line,
  orderCreated,
  productRegistered,
  total,
} from './support.js';

/**
 * The read-side queries over a log appended straight to the store: 250 orders of nine
 * customers (some with e-mails full of LIKE and regex characters), in two currencies,
 * in every status. Expectations are computed here from the same fixture data.
 */

type Status = 'PENDING' | 'PAID' | 'SHIPPED' | 'CANCELLED';

interface Expected {
  i: number;
  id: string;
  customer: number;
  status: Status;
  items: OrderLine[];
  total: { amount: number; currency: string };
  createdAt: Date;
  orderNumber: string;
}

const T0 = Date.parse('2026-02-01T08:00:00.000Z');
const N = 250;
const EMAILS = [
  'Ann.Smith@Example.org', // 0, changed later to ann.new@example.org
  'per%cent@x.org', // 1
  'perXcent@x.org', // 2: what "r%c" would match as a LIKE pattern
  'under_score@x.org', // 3
  'underxscore@x.org', // 4: what "r_s" would match as a LIKE pattern
  'back\\slash@x.org', // 5
  'backslash@x.org', // 6: what "k\s" would match as a LIKE pattern (backslash escapes)
  'dot.star*(paren@x.org', // 7
  'dotxstarr(paren@x.org', // 8: what ".star*(" would match as a regular expression
];
const ANN_NEW_EMAIL = 'ann.new@example.org';

const ORDER_NODE = `id orderNumber status version itemCount createdAt
  total { amount currency }
  customer { id email }
  items { productId productName quantity unitPrice { amount currency } product { id name } }`;

/** A connection to `db` that records the statements sent through it. */
function countingDb(inner: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const db = Object.create(inner) as Db;
  db.query = (sql, params) => {
    statements.push(sql);
    return inner.query(sql, params);
  };
  return { db, statements };
}

/** Runs a query in process as an admin, on a counting connection: its data and statement count. */
async function executeCounted(s: TestApp, query: string, variableValues?: Record<string, unknown>) {
  const { db, statements } = countingDb(s.app.db);
  const r = await execute({
    schema: getSchema(),
    document: parse(query),
    ...(variableValues ? { variableValues } : {}),
    contextValue: {
      ...s.app.services,
      db,
      principal: { userId: 'count', role: 'admin' } satisfies Principal,
      correlationId: randomUUID(),
      loaders: createLoaders(db),
    } satisfies GraphQLContext,
  });
  expect(r.errors).toBeUndefined();
  return { data: r.data as any, statements: statements.length };
}

describe(`read-side queries on ${engine}`, () => {
  // Read models of a hand-written log: no fulfillment process acting on it.
  const { s } = useTestApp({ overrides: { fulfillment: false } });
  let admin: Record<string, string>;
  let service: Record<string, string>;
  const customers = EMAILS.map(() => randomUUID());
  const products = { a: randomUUID(), b: randomUUID(), c: randomUUID() };
  const orders: Expected[] = [];

  const gql = async (query: string, variables: Record<string, unknown> = {}, headers = admin) => {
    const r = await s.graphql<any>(query, variables, headers);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  };
  const gqlError = async (
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, string>,
  ) => {
    const r = await s.graphql<any>(query, variables, headers);
    expect(r.body.errors?.length, JSON.stringify(r.body)).toBeGreaterThan(0);
    return r.body.errors![0]!;
  };
  const as = (customer: number) => s.auth({ role: 'customer', customerId: customers[customer]! });

  /** Walks every page of `orders(filter)` with page size `first`; returns ids in order. */
  async function walk(filter: object, first: number, headers = admin) {
    const ids: string[] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (let page = 0; page < 100; page++) {
      const d: any = await gql(
        `query($f: OrderFilter, $first: Int, $after: String) {
          orders(filter: $f, first: $first, after: $after) {
            totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
        { f: filter, first, after },
        headers,
      );
      const c = d.orders;
      totalCount = c.totalCount;
      ids.push(...c.edges.map((e: any) => e.node.id));
      expect(c.edges.length).toBeLessThanOrEqual(first);
      if (c.edges.length) expect(c.pageInfo.endCursor).toBe(c.edges[c.edges.length - 1].cursor);
      if (!c.pageInfo.hasNextPage) return { ids, totalCount };
      expect(c.edges.length).toBe(first);
      after = c.pageInfo.endCursor;
    }
    throw new Error('too many pages');
  }

  const newestFirst = (pred: (o: Expected) => boolean) =>
    orders
      .filter(pred)
      .sort((a, b) => b.i - a.i)
      .map((o) => o.id);

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
    service = await s.auth({ role: 'service' });
    const store = s.app.store;

    const setup: StreamAppend[] = [
      productRegistered(products.a, 'Anvil', 1000),
      productRegistered(products.b, 'Bolt', 250),
      productRegistered(products.c, 'Crate', 999, 'USD'),
      ...customers.map((c, k) => customerRegistered(c, `Customer ${k}`, EMAILS[k]!)),
    ];
    const creates: StreamAppend[] = [];
    const later: StreamAppend[] = [];
    for (let i = 0; i < N; i++) {
      const id = randomUUID();
      const items =
        i % 10 === 9
          ? [line(products.c, 1 + (i % 2), 999, 'USD', 'Crate')]
          : [
              line(products.a, 1 + (i % 3), 1000, 'EUR', 'Anvil'),
              ...(i % 4 === 0 ? [line(products.b, 2, 250, 'EUR', 'Bolt')] : []),
            ];
      const createdAt = new Date(T0 + i * 60_000);
      const status: Status = (['PENDING', 'PAID', 'SHIPPED', 'CANCELLED', 'CANCELLED'] as const)[
        i % 5
      ]!;
      orders.push({
        i,
        id,
        customer: i % customers.length,
        status,
        items,
        total: total(items),
        createdAt,
        orderNumber: `SO-${String(i + 1).padStart(6, '0')}`,
      });
      creates.push(orderCreated(id, customers[i % customers.length]!, items, createdAt));
      const at = new Date(T0 + i * 60_000 + 30_000).toISOString();
      const pay = OrderEvents.OrderPaid({
        orderId: id,
        paymentId: `p${i}`,
        amount: total(items),
        method: 'CARD',
        transactionId: null,
        estimatedDelivery: '2026-01-09',
        paidAt: at,
      });
      const follow =
        i % 5 === 1
          ? [pay]
          : i % 5 === 2
            ? [
                pay,
                OrderEvents.OrderShipped({
                  orderId: id,
                  carrier: 'UPS',
                  trackingNumber: `T${i}`,
                  estimatedDelivery: null,
                  shippedAt: at,
                }),
              ]
            : i % 5 === 3
              ? [
                  OrderEvents.OrderCancelled({
                    orderId: id,
                    reason: 'no',
                    cancelledAt: at,
                    refunded: false,
                  }),
                ]
              : i % 5 === 4
                ? [
                    pay,
                    OrderEvents.OrderPaymentRefunded({
                      orderId: id,
                      paymentId: `p${i}`,
                      amount: total(items),
                      reason: 'no',
                      refundedAt: at,
                    }),
                    OrderEvents.OrderCancelled({
                      orderId: id,
                      reason: 'no',
                      cancelledAt: at,
                      refunded: true,
                    }),
                  ]
                : [];
      if (follow.length)
        later.push({
          streamId: orderStreamId(id),
          streamType: ORDER_STREAM_TYPE,
          expected: 1,
          events: follow,
        });
    }
    await appendAll(store, setup);
    await appendAll(store, creates);
    await appendAll(store, later);
    const changed = await store.append(
      customerStreamId(customers[0]!),
      CUSTOMER_STREAM_TYPE,
      [
        CustomerEvents.CustomerEmailChanged({
          customerId: customers[0]!,
          previousEmail: EMAILS[0]!,
          email: ANN_NEW_EMAIL,
          changedAt: new Date().toISOString(),
        }),
      ],
      { expected: 1 },
    );
    await caughtUp(s.app.projections, changed.cursor);
  });

  it('pages through all 250 orders, newest first, without loss or repetition', async () => {
    const expected = newestFirst(() => true);
    for (const first of [100, 33]) {
      const { ids, totalCount } = await walk({}, first);
      expect(totalCount).toBe(N);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expected);
    }
  });

  it('pages through filtered lists the same way', async () => {
    const { ids, totalCount } = await walk({ status: 'SHIPPED' }, 7);
    expect(ids).toEqual(newestFirst((o) => o.status === 'SHIPPED'));
    expect(totalCount).toBe(ids.length);
    const own = await walk({}, 6, await as(3));
    expect(own.ids).toEqual(newestFirst((o) => o.customer === 3));
  });

  it('numbers orders SO-000001 … in commit order and shows every detail', async () => {
    const probe = [orders[0]!, orders[8]!, orders[9]!, orders[N - 1]!];
    const d = await gql(
      `query { ${probe.map((o, k) => `o${k}: order(id: "${o.id}") { ${ORDER_NODE} shippingAddress { city } payment { status } timeline { type version description at } }`).join(' ')} }`,
    );
    probe.forEach((o, k) => {
      const got = d[`o${k}`];
      expect(got).toMatchObject({
        id: o.id,
        orderNumber: o.orderNumber,
        status: o.status,
        total: o.total,
        itemCount: o.items.reduce((n, l) => n + l.quantity, 0),
        createdAt: o.createdAt.toISOString(),
        customer: {
          id: customers[o.customer],
          email: o.customer === 0 ? ANN_NEW_EMAIL : EMAILS[o.customer],
        },
        shippingAddress: { city: 'Berlin' },
      });
      expect(got.items).toEqual(
        o.items.map((l) => ({
          productId: l.productId,
          productName: l.productName,
          quantity: l.quantity,
          unitPrice: l.unitPrice,
          product: { id: l.productId, name: l.productName },
        })),
      );
      expect(got.timeline[0]).toMatchObject({
        type: 'OrderCreated',
        version: 1,
        at: o.createdAt.toISOString(),
      });
      expect(got.timeline.map((e: any) => e.version)).toEqual(
        got.timeline.map((_: unknown, n: number) => n + 1),
      );
      expect(got.timeline).toHaveLength(got.version);
    });
    expect(d.o0.payment).toBeNull(); // pending
    expect(d.o1.payment).toBeNull(); // cancelled unpaid (8 % 5 = 3)
    expect(d.o2.payment).toEqual({ status: 'REFUNDED' }); // paid, then cancelled (9 % 5 = 4)
    expect(d.o3.payment).toEqual({ status: 'REFUNDED' });
  });

  it('filters by status, customer, amount and creation time, and counts the matches', async () => {
    const from = new Date(T0 + 40 * 60_000);
    const to = new Date(T0 + 120 * 60_000);
    const cases: [object, (o: Expected) => boolean][] = [
      [{ status: 'PAID' }, (o) => o.status === 'PAID'],
      [{ customerId: customers[4] }, (o) => o.customer === 4],
      [
        { customerId: customers[4]!.toUpperCase(), status: 'CANCELLED' },
        (o) => o.customer === 4 && o.status === 'CANCELLED',
      ],
      [{ minAmount: 3000 }, (o) => o.total.amount >= 3000],
      [{ createdFrom: from.toISOString() }, (o) => o.createdAt >= from],
      [{ createdTo: to.toISOString() }, (o) => o.createdAt < to],
      [
        { createdFrom: from.toISOString(), createdTo: to.toISOString(), minAmount: 2000 },
        (o) => o.createdAt >= from && o.createdAt < to && o.total.amount >= 2000,
      ],
    ];
    for (const [filter, pred] of cases) {
      const { ids, totalCount } = await walk(filter, 100);
      const expected = newestFirst(pred);
      expect(expected.length).toBeGreaterThan(0);
      expect(ids, JSON.stringify(filter)).toEqual(expected);
      expect(totalCount).toBe(expected.length);
    }
  });

  it('filters by e-mail substring case-insensitively and literally (%, _, \\, .*( match themselves)', async () => {
    const cases: [string, number[]][] = [
      ['r%c', [1]],
      ['%', [1]],
      ['r_s', [3]],
      ['_', [3]],
      ['k\\s', [5]],
      ['\\', [5]],
      ['.star*(', [7]],
      ['*(', [7]],
      ['(', [7, 8]],
      ['ANN.NEW@', [0]], // the e-mail as changed, in any case
      ['ann.smith', []], // the old address is gone from her orders
      ['@X.ORG', [1, 2, 3, 4, 5, 6, 7, 8]],
    ];
    for (const [needle, who] of cases) {
      const { ids, totalCount } = await walk({ customerEmail: needle }, 100);
      expect(ids, needle).toEqual(newestFirst((o) => who.includes(o.customer)));
      expect(totalCount).toBe(ids.length);
    }
    const both = await walk({ customerEmail: '_', status: 'PENDING' }, 100);
    expect(both.ids).toEqual(newestFirst((o) => o.customer === 3 && o.status === 'PENDING'));
  });

  it('refuses a page larger than 100 and cursors it did not make', async () => {
    const big = await gqlError(`{ orders(first: 101) { totalCount } }`, {}, admin);
    expect(big.extensions?.code).toBe('BAD_USER_INPUT');
    expect(big.message).toMatch(/first must be between 0 and 100/);
    const negative = await gqlError(`{ orders(first: -1) { totalCount } }`, {}, admin);
    expect(negative.extensions?.code).toBe('BAD_USER_INPUT');
    const bad = await gqlError(`{ orders(after: "nonsense") { totalCount } }`, {}, admin);
    expect(bad.extensions?.code).toBe('BAD_USER_INPUT');
    const productsBig = await gqlError(`{ products(first: 1000) { totalCount } }`, {}, admin);
    expect(productsBig.extensions?.code).toBe('BAD_USER_INPUT');
    const none = await gql(
      `{ orders(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }`,
    );
    expect(none.orders).toEqual({ totalCount: N, edges: [], pageInfo: { hasNextPage: true } });
  });

  it('statistics match the orders: counts by status, spent on PAID and SHIPPED, average', async () => {
    for (let k = 0; k < customers.length; k++) {
      const mine = orders.filter((o) => o.customer === k);
      const spentOrders = mine.filter((o) => o.status === 'PAID' || o.status === 'SHIPPED');
      const currencies = [...new Set(mine.map((o) => o.total.currency))].map((currency) => ({
        currency,
        n: mine.filter((o) => o.total.currency === currency).length,
        spent: spentOrders.filter((o) => o.total.currency === currency),
      }));
      currencies.sort(
        (a, b) =>
          b.spent.length - a.spent.length || b.n - a.n || a.currency.localeCompare(b.currency),
      );
      const main = currencies[0]!;
      const sum = main.spent.reduce((n, o) => n + o.total.amount, 0);
      const expected = {
        customerId: customers[k],
        orderCount: mine.length,
        totalSpent: { amount: sum, currency: main.currency },
        averageOrderValue: {
          amount: main.spent.length ? Math.round(sum / main.spent.length) : 0,
          currency: main.currency,
        },
        byStatus: (['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'] as const).map((status) => ({
          status,
          count: mine.filter((o) => o.status === status).length,
        })),
        totalSpentByCurrency: currencies
          .filter((c) => c.spent.length)
          .map((c) => ({
            currency: c.currency,
            amount: c.spent.reduce((n, o) => n + o.total.amount, 0),
          }))
          .sort((a, b) => a.currency.localeCompare(b.currency)),
      };
      const fields = `customerId orderCount totalSpent { amount currency } averageOrderValue { amount currency }
        byStatus { status count } totalSpentByCurrency { amount currency }`;
      const d = await gql(
        `query($c: ID!) { orderStatistics(customerId: $c) { ${fields} } customer(id: $c) { statistics { ${fields} } } }`,
        { c: customers[k] },
        await as(k),
      );
      expect(d.orderStatistics).toEqual(expected);
      expect(d.customer.statistics).toEqual(expected);
    }
    const nobody = await gql(
      `query($c: ID!) { orderStatistics(customerId: $c) { orderCount totalSpent { amount currency } byStatus { count } } }`,
      {
        c: randomUUID(),
      },
    );
    expect(nobody.orderStatistics).toEqual({
      orderCount: 0,
      totalSpent: { amount: 0, currency: 'XXX' },
      byStatus: [{ count: 0 }, { count: 0 }, { count: 0 }, { count: 0 }],
    });
  });

  it('shows a customer with its orders (by status, paged) and the catalogue', async () => {
    const d = await gql(
      `query($c: ID!) { customer(id: $c) { id name email phone
          orders(first: 5) { totalCount edges { node { id } } pageInfo { hasNextPage } }
          paid: orders(status: PAID, first: 100) { totalCount edges { node { id status } } } } }`,
      { c: customers[2] },
    );
    expect(d.customer).toMatchObject({ id: customers[2], name: 'Customer 2', email: EMAILS[2] });
    expect(d.customer.orders.edges.map((e: any) => e.node.id)).toEqual(
      newestFirst((o) => o.customer === 2).slice(0, 5),
    );
    expect(d.customer.orders.totalCount).toBe(orders.filter((o) => o.customer === 2).length);
    expect(d.customer.paid.edges.map((e: any) => e.node.id)).toEqual(
      newestFirst((o) => o.customer === 2 && o.status === 'PAID'),
    );

    const names: string[] = [];
    let after: string | null = null;
    for (;;) {
      const p: any = await gql(
        `query($after: String) { products(first: 2, after: $after) { totalCount edges { node { id name price { amount currency } availableStock } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      names.push(...p.products.edges.map((e: any) => e.node.name));
      expect(p.products.totalCount).toBe(3);
      if (!p.products.pageInfo.hasNextPage) break;
      after = p.products.pageInfo.endCursor;
    }
    expect(names).toEqual(['Anvil', 'Bolt', 'Crate']);
    const one = await gql(
      `query($id: ID!) { product(id: $id) { name price { amount currency } availableStock } }`,
      {
        id: products.c,
      },
    );
    expect(one.product).toEqual({
      name: 'Crate',
      price: { amount: 999, currency: 'USD' },
      availableStock: 100,
    });
    expect((await gql(`query { product(id: "${randomUUID()}") { id } }`)).product).toBeNull();
  });

  it('finds an order by its number as by its id, the SO- in any case', async () => {
    const probe = [orders[0]!, orders[41]!, orders[N - 1]!];
    const fields = `${ORDER_NODE} payment { status } timeline { type version description at }`;
    const d = await gql(
      `query { ${probe
        .map(
          (o, k) => `byId${k}: order(id: "${o.id.toUpperCase()}") { ${fields} }
            byNumber${k}: order(id: "${o.orderNumber}") { ${fields} }
            lower${k}: order(id: "${o.orderNumber.toLowerCase()}") { id orderNumber }
            mixed${k}: order(id: "sO-${o.orderNumber.slice(3)}") { id }`,
        )
        .join(' ')} }`,
    );
    probe.forEach((o, k) => {
      expect(d[`byId${k}`]).toMatchObject({ id: o.id, orderNumber: o.orderNumber });
      expect(d[`byNumber${k}`]).toEqual(d[`byId${k}`]);
      expect(d[`lower${k}`]).toEqual({ id: o.id, orderNumber: o.orderNumber });
      expect(d[`mixed${k}`]).toEqual({ id: o.id });
    });
    // Well-formed numbers no order has: null, as for an unknown id.
    const unknown = await gql(`query {
      next: order(id: "SO-${String(N + 1).padStart(6, '0')}") { id }
      zero: order(id: "SO-000000") { id }
      sevenDigits: order(id: "SO-1000000") { id }
      huge: order(id: "SO-${'9'.repeat(40)}") { id } }`);
    expect(unknown).toEqual({ next: null, zero: null, sevenDigits: null, huge: null });
  });

  it('refuses what is neither an order id nor an order number, and answers the rest', async () => {
    // Digits missing or extra, or anything around the number, is not taken for a number.
    const bad = [
      'SO-1',
      'SO-00001',
      'SO-0000001',
      'SO-',
      'SO-00000x',
      'SO000001',
      'SO-000001 ',
      ' SO-000001',
      '#SO-000001',
      'SO-+00001',
      'SO-٠٠٠٠٠١', // Arabic-Indic digits
      '1',
      'not-a-uuid',
      `${orders[0]!.id}x`,
      orders[0]!.id.replaceAll('-', ''),
    ];
    const r = await s.graphql<any>(
      `query { good: order(id: "${orders[0]!.orderNumber}") { id }
        ${bad.map((id, k) => `bad${k}: order(id: ${JSON.stringify(id)}) { id }`).join(' ')} }`,
      {},
      admin,
    );
    expect(r.body.data).toEqual({
      good: { id: orders[0]!.id },
      ...Object.fromEntries(bad.map((_, k) => [`bad${k}`, null])),
    });
    expect(r.body.errors).toHaveLength(bad.length);
    for (const [k, e] of (r.body.errors as any[]).entries()) {
      expect(e.path).toEqual([`bad${k}`]);
      expect(e.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'id' });
      expect(e.message).toBe(
        'id must be a uuid such as 7a1e0000-0000-4000-8000-00000000d001, or an order number such as SO-000042',
      );
    }
  });

  it('reads orders by number in one statement per request, with a timeline in two', async () => {
    const counted = () => countingDb(s.app.db);
    const run = (query: string) => executeCounted(s, query);
    const some = [orders[3]!, orders[77]!, orders[200]!];
    const three = await run(
      `{ ${some.map((o, k) => `o${k}: order(id: "${o.orderNumber}") { id status }`).join(' ')} }`,
    );
    expect(three.statements).toBe(1);
    some.forEach((o, k) => expect(three.data[`o${k}`]).toEqual({ id: o.id, status: o.status }));
    // Found by number, the order is known by id for the rest of the request.
    const { db, statements } = counted();
    const loaders = createLoaders(db);
    const found = await loaders.orderByNumber.load(some[0]!.orderNumber);
    expect(found?.id).toBe(some[0]!.id);
    expect(await loaders.order.load(some[0]!.id)).toBe(found);
    expect(statements).toHaveLength(1);
    const withTimeline = await run(
      `{ order(id: "${some[1]!.orderNumber}") { id timeline { version } } }`,
    );
    expect(withTimeline.statements).toBe(2);
    expect(withTimeline.data.order.timeline.length).toBeGreaterThan(0);
  });

  it('answers a page of 50 orders with customers, items, products and timelines in ≤ 5 statements', async () => {
    /** The app's database, counting the statements the request sends. */
    const counted = (db: Db) => {
      const c = Object.create(db) as Db & { statements: string[] };
      c.statements = [];
      c.query = (sql, params) => {
        c.statements.push(sql);
        return db.query(sql, params);
      };
      return c;
    };
    const principal: Principal = { userId: 'count', role: 'admin' };
    const run = async (first: number, withTimeline: boolean) => {
      const db = counted(s.app.db);
      const contextValue: GraphQLContext = {
        ...s.app.services,
        db,
        principal,
        correlationId: randomUUID(),
        loaders: createLoaders(db),
      };
      const r = await execute({
        schema: getSchema(),
        document: parse(`query($first: Int) { orders(first: $first) { totalCount
          edges { node { ${ORDER_NODE} customer { name phone } ${withTimeline ? 'timeline { type description }' : ''} } } } }`),
        variableValues: { first },
        contextValue,
      });
      expect(r.errors).toBeUndefined();
      const edges = (r.data as any).orders.edges;
      expect(edges).toHaveLength(first);
      expect(
        edges.every((e: any) => e.node.items.every((i: any) => i.product.id === i.productId)),
      ).toBe(true);
      return db.statements.length;
    };
    const fifty = await run(50, false);
    expect(fifty).toBe(4); // page, count, customers, products
    expect(await run(5, false)).toBe(fifty);
    expect(await run(100, false)).toBe(fifty);
    expect(await run(50, true)).toBe(5); // + timelines
  });

  it('reads one order with its timeline in one statement, and answers as the page does', async () => {
    const statementsOf = (query: string, id: string) => executeCounted(s, query, { id });
    const id = newestFirst(() => true)[3]!; // on the first page
    const TIMELINE = 'timeline { type version description at }';
    const direct = await statementsOf(`query($id: ID!) { order(id: $id) { id ${TIMELINE} } }`, id);
    expect(direct.statements).toBe(1);
    const viaFragments = await statementsOf(
      `query($id: ID!) { order(id: $id) { id ... on Order { ...T } } } fragment T on Order { ${TIMELINE} }`,
      id,
    );
    expect(viaFragments).toEqual(direct);
    expect(
      (await statementsOf(`query($id: ID!) { order(id: $id) { id status } }`, id)).statements,
    ).toBe(1);
    // Over HTTP (compiled queries), the same entries as the page, which reads them apart.
    const one = await gql(`query($id: ID!) { order(id: $id) { id ${TIMELINE} } }`, { id });
    expect(one).toEqual(direct.data);
    const page = await gql(`query { orders(first: 100) { edges { node { id ${TIMELINE} } } } }`);
    const fromPage = page.orders.edges.find((e: any) => e.node.id === id).node;
    expect(one.order).toEqual(fromPage);
    expect(one.order.timeline.length).toBeGreaterThan(1);
  });

  it('gives the same order numbers after a rebuild of the orders projection', async () => {
    const generation = async () =>
      (await s.app.projections.status()).find((p) => p.name === 'orders' && p.active)!.generation;
    const before = await generation();
    const rebuilt = await s.app.projections.rebuild('orders');
    expect(rebuilt).toBeGreaterThan(before);
    // The old generation serves until the new one has caught up and the views switch.
    for (let i = 0; i < 600 && (await generation()) !== rebuilt; i++) await sleep(50);
    expect(await generation()).toBe(rebuilt);
    const numbers = new Map<string, string>();
    let after: string | null = null;
    for (;;) {
      const d: any = await gql(
        `query($after: String) { orders(first: 100, after: $after) { edges { node { id orderNumber } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      for (const e of d.orders.edges) numbers.set(e.node.id, e.node.orderNumber);
      if (!d.orders.pageInfo.hasNextPage) break;
      after = d.orders.pageInfo.endCursor;
    }
    expect(numbers.size).toBe(N);
    for (const o of orders) expect(numbers.get(o.id)).toBe(o.orderNumber);
  });

  describe('ids in the arguments of reads', () => {
    /** Every argument (or input field of one) of a Query field that takes an ID. */
    const idArguments = (): string[] => {
      const out: string[] = [];
      const walk = (type: GraphQLInputType, path: string, seen: Set<string>) => {
        const named = getNamedType(type);
        if (isScalarType(named) && named.name === 'ID') out.push(path);
        if (!isInputObjectType(named) || seen.has(named.name)) return;
        for (const f of Object.values(named.getFields()))
          walk(f.type, `${path}.${f.name}`, new Set([...seen, named.name]));
      };
      for (const field of Object.values(getSchema().getQueryType()!.getFields()))
        for (const arg of field.args) walk(arg.type, `${field.name}.${arg.name}`, new Set());
      return out.sort();
    };

    /**
     * Per id argument: the read with `$v` in that argument, and what a well-formed id that
     * names nothing answers (unchanged by the check).
     */
    const READS: Record<
      string,
      { query: string; unknown: () => string; answer: unknown; alsoBad?: string[] }
    > = {
      'customer.id': {
        query: `customer(id: $v) { id }`,
        unknown: randomUUID,
        answer: null,
      },
      'events.streamId': {
        query: `events(streamId: $v) { edges { cursor } }`,
        unknown: () => `order-${randomUUID()}`,
        answer: { edges: [] },
        alsoBad: [randomUUID(), `-${randomUUID()}`, `order_${randomUUID()}`],
      },
      'fulfillmentProcess.orderId': {
        query: `fulfillmentProcess(orderId: $v) { step }`,
        unknown: randomUUID,
        answer: null,
      },
      'order.id': {
        query: `order(id: $v) { id }`,
        unknown: randomUUID,
        answer: null,
        alsoBad: ['SO-42', 'so-0000001'],
      },
      'orderHistory.id': {
        query: `orderHistory(id: $v) { at { version } statusHistory { status } }`,
        unknown: randomUUID,
        answer: { at: null, statusHistory: [] },
      },
      'orderStatistics.customerId': {
        query: `orderStatistics(customerId: $v) { orderCount }`,
        unknown: randomUUID,
        answer: { orderCount: 0 },
      },
      'orders.filter.customerId': {
        query: `orders(filter: { customerId: $v }) { totalCount }`,
        unknown: randomUUID,
        answer: { totalCount: 0 },
      },
      'product.id': { query: `product(id: $v) { id }`, unknown: randomUUID, answer: null },
    };

    it('has a case for every id a query takes', () => {
      expect(Object.keys(READS).sort()).toEqual(idArguments());
    });

    for (const [where, read] of Object.entries(READS)) {
      const [field, ...path] = where.split('.');
      const argument = path.join('.');
      it(`${where}: a malformed id is BAD_USER_INPUT naming it; the rest is answered`, async () => {
        const nonNull = isNonNullType(getSchema().getQueryType()!.getFields()[field!]!.type);
        for (const v of [
          'nope',
          '',
          ' ',
          `${randomUUID()}0`,
          'order-nope',
          ...(read.alsoBad ?? []),
        ]) {
          const r = await s.graphql<any>(
            `query($v: ID!) { bad: ${read.query} serverInfo { engine } }`,
            { v },
            admin,
          );
          expect(r.body.errors, JSON.stringify(r.body)).toHaveLength(1);
          const e = r.body.errors![0] as any;
          expect(e.path).toEqual(['bad']);
          expect(e.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
          expect(e.message).toMatch(
            new RegExp(
              `^${argument} must be (a uuid|a stream id: a stream type and a uuid,) such as `,
            ),
          );
          // A non-null field's error nulls the whole answer (GraphQL's rule); beside a
          // nullable one, the other fields are answered.
          expect(r.body.data).toEqual(nonNull ? null : { bad: null, serverInfo: { engine } });
        }
      });

      it(`${where}: a well-formed id of nothing answers as ever, in either case`, async () => {
        for (const v of [read.unknown(), read.unknown().toUpperCase()]) {
          const d = await gql(`query($v: ID!) { ${read.query} }`, { v });
          expect(d[field!], v).toEqual(read.answer);
        }
      });
    }
  });

  describe('authorisation', () => {
    it('requires a token for every read', async () => {
      for (const q of [
        `{ orders { totalCount } }`,
        `{ order(id: "${orders[0]!.id}") { id } }`,
        `{ order(id: "${orders[0]!.orderNumber}") { id } }`,
        `{ order(id: "nope") { id } }`, // who asks comes before what is asked
        `{ customer(id: "${customers[0]}") { id } }`,
        `{ products { totalCount } }`,
        `{ orderStatistics(customerId: "${customers[0]}") { orderCount } }`,
        `{ orderHistory(id: "${orders[0]!.id}") { orderId } }`,
        `{ events { edges { cursor } } }`,
      ]) {
        const e = await gqlError(q, {}, {});
        expect(e.extensions?.code, q).toBe('UNAUTHENTICATED');
      }
    });

    it('lets staff read every customer’s orders, and a customer only its own', async () => {
      const ann = orders.find((o) => o.customer === 0)!;
      const q = `query($o: ID!, $c: ID!) { order(id: $o) { id customer { id } }
        customer(id: $c) { id orders(first: 1) { totalCount } }
        history: orderHistory(id: $o) { orderId at { version } statusHistory { status } events(first: 5) { edges { cursor } } } }`;
      for (const headers of [admin, service, await as(0)]) {
        const d = await gql(q, { o: ann.id, c: customers[0] }, headers);
        expect(d.order).toEqual({ id: ann.id, customer: { id: customers[0] } });
        expect(d.customer.orders.totalCount).toBe(orders.filter((o) => o.customer === 0).length);
        expect(d.history.at.version).toBeGreaterThan(0);
        expect(d.history.statusHistory[0]).toEqual({ status: 'PENDING' });
        expect(d.history.events.edges.length).toBeGreaterThan(0);
      }
      // Another customer: the order and the customer read as unknown, the history as empty.
      const d = await gql(q, { o: ann.id, c: customers[0] }, await as(1));
      expect(d).toEqual({
        order: null,
        customer: null,
        history: { orderId: ann.id, at: null, statusHistory: [], events: { edges: [] } },
      });
    });

    it('finds an order by number for whoever may see it by id, and is null for the rest', async () => {
      const ann = orders.find((o) => o.customer === 0)!;
      const q = `query($id: ID!, $no: ID!, $lower: ID!) { byId: order(id: $id) { id customer { id } }
        byNumber: order(id: $no) { id customer { id } } lower: order(id: $lower) { id } }`;
      const vars = { id: ann.id, no: ann.orderNumber, lower: ann.orderNumber.toLowerCase() };
      for (const headers of [admin, service, await as(0)]) {
        expect(await gql(q, vars, headers)).toEqual({
          byId: { id: ann.id, customer: { id: customers[0] } },
          byNumber: { id: ann.id, customer: { id: customers[0] } },
          lower: { id: ann.id },
        });
      }
      // Another customer's order reads as unknown, by number exactly as by id.
      expect(await gql(q, vars, await as(1))).toEqual({ byId: null, byNumber: null, lower: null });
    });

    it('keeps a customer’s lists to its own orders whatever the filter', async () => {
      const mine = newestFirst((o) => o.customer === 1);
      const bob = await as(1);
      expect((await walk({}, 100, bob)).ids).toEqual(mine);
      // Filters narrow, never widen: another's e-mail finds nothing.
      expect((await walk({ customerEmail: 'ann.new' }, 100, bob)).ids).toEqual([]);
      expect((await walk({ customerEmail: '%' }, 100, bob)).ids).toEqual(mine);
      expect((await walk({ customerId: customers[1] }, 100, bob)).ids).toEqual(mine);
      const other = await gqlError(
        `query($c: ID!) { orders(filter: { customerId: $c }) { totalCount } }`,
        { c: customers[0] },
        bob,
      );
      expect(other.extensions?.code).toBe('FORBIDDEN');
      const stats = await gqlError(
        `query($c: ID!) { orderStatistics(customerId: $c) { orderCount } }`,
        { c: customers[0] },
        bob,
      );
      expect(stats.extensions?.code).toBe('FORBIDDEN');
      // The catalogue is for everyone signed in.
      expect((await gql(`{ products { totalCount } }`, {}, bob)).products.totalCount).toBe(3);
    });

    it('lets only admins read the log', async () => {
      for (const headers of [service, await as(0)]) {
        const e = await gqlError(`{ events(first: 1) { edges { cursor } } }`, {}, headers);
        expect(e.extensions?.code).toBe('FORBIDDEN');
      }
      const d = await gql(`{ events(first: 1) { edges { node { type } } } }`);
      expect(d.events.edges).toHaveLength(1);
    });
  });
});
