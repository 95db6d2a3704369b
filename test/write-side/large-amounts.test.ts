import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StreamAppend } from '../../src/eventstore/types.js';
import { MAX_ORDER_TOTAL, ORDER_STREAM_TYPE, orderStreamId } from '../../src/orders/decider.js';
import { OrderEvents } from '../../src/orders/events.js';
import { estimateDelivery } from '../../src/orders/delivery.js';
import { statisticsByCustomerIds } from '../../src/orders/statistics.js';
import { MAX_AMOUNT } from '../../src/shared/money.js';
import { engine } from '../support/db.js';
import { appendAll, caughtUp, customerRegistered, line, total } from '../read-side/support.js';
import {
  ADDRESS,
  mutationDocument,
  newCustomer,
  newOrder,
  newProduct,
  payFully,
  refused,
  rejected,
  useWorld,
  type Customer,
  type World,
} from './support.js';

/**
 * Money past GraphQL's 32-bit Int (2,147,483,647): amounts are SafeInt, exact up to
 * 2^53 − 1, in and out; one order's total is bounded by the domain alone (MAX_ORDER_TOTAL).
 */

const INT_MAX = 2 ** 31 - 1;
const MONEY = 'amount currency';
const STATISTICS = `orderCount totalSpent { ${MONEY} } averageOrderValue { ${MONEY} }
  totalSpentByCurrency { ${MONEY} }`;

describe(`money beyond 32 bits on ${engine}`, () => {
  const w: World = useWorld();

  async function read(query: string, variables: Record<string, unknown>, headers = w.admin) {
    const r = await w.s.graphql<any>(query, variables, headers);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  }

  it('shows an order total and a lifetime spend past 2^31 exactly', async () => {
    const c = await newCustomer(w);
    // An odd price, so that a rounded figure anywhere would show in the last digit.
    const price = 1_500_000_001;
    const product = await newProduct(w, { amount: price, currency: 'EUR' });
    const one = await newOrder(w, c, [{ productId: product, quantity: 1 }]);
    const two = await newOrder(w, c, [{ productId: product, quantity: 2 }]);
    expect(one.total).toEqual({ amount: price, currency: 'EUR' });
    expect(two.total).toEqual({ amount: 3_000_000_002, currency: 'EUR' });
    expect(two.total.amount).toBeGreaterThan(INT_MAX);
    expect(two.items[0].totalPrice).toEqual({ amount: 3_000_000_002, currency: 'EUR' });

    await payFully(w, one, c.headers);
    // A payment past 2^31 goes in through MoneyInput as a plain JSON number.
    const paid = await payFully(w, two, c.headers);
    expect(paid.order.payment).toMatchObject({
      status: 'PAID',
      amount: { amount: 3_000_000_002, currency: 'EUR' },
    });
    await caughtUp(w.s.app.projections, paid.cursor);

    const spent = { amount: 4_500_000_003, currency: 'EUR' };
    const expected = {
      orderCount: 2,
      totalSpent: spent,
      // 4,500,000,003 / 2 = 2,250,000,001.5, half up.
      averageOrderValue: { amount: 2_250_000_002, currency: 'EUR' },
      totalSpentByCurrency: [spent],
    };
    for (const headers of [w.admin, c.headers]) {
      const d = await read(
        `query($c: ID!, $o: ID!) {
          orderStatistics(customerId: $c) { ${STATISTICS} }
          customer(id: $c) { statistics { ${STATISTICS} } }
          order(id: $o) { total { ${MONEY} } payment { amount { ${MONEY} } } } }`,
        { c: c.id, o: two.id },
        headers,
      );
      expect(d.orderStatistics).toEqual(expected);
      expect(d.customer.statistics).toEqual(expected);
      expect(d.order).toEqual({
        total: { amount: 3_000_000_002, currency: 'EUR' },
        payment: { amount: { amount: 3_000_000_002, currency: 'EUR' } },
      });
    }

    // minAmount is an amount too: past 2^31, as a variable and as a literal.
    const page = (d: any) => d.orders.edges.map((e: any) => e.node.id);
    const byVariable = await read(
      `query($c: ID!, $min: SafeInt) {
        orders(filter: { customerId: $c, minAmount: $min }) { edges { node { id } } } }`,
      { c: c.id, min: 3_000_000_002 },
    );
    expect(page(byVariable)).toEqual([two.id]);
    const byLiteral = await read(
      `query($c: ID!) {
        orders(filter: { customerId: $c, minAmount: 3000000003 }) { edges { node { id } } } }`,
      { c: c.id },
    );
    expect(page(byLiteral)).toEqual([]);
  });

  it('takes an order up to MAX_ORDER_TOTAL, pays it, and refuses one cent more', async () => {
    expect(MAX_ORDER_TOTAL).toBe(MAX_AMOUNT);
    const c = await newCustomer(w);
    const dearest = await newProduct(w, { amount: MAX_AMOUNT, currency: 'EUR' });
    const cent = await newProduct(w, { amount: 1, currency: 'EUR' });
    await refused(
      w,
      'createOrder',
      {
        commandId: randomUUID(),
        customerId: c.id,
        items: [{ productId: dearest, quantity: 2 }],
        shippingAddress: ADDRESS,
      },
      c.headers,
      { typename: 'BusinessRuleViolation', code: 'ORDER_TOTAL_TOO_LARGE' },
    );
    const order = await newOrder(w, c, [{ productId: dearest, quantity: 1 }]);
    expect(order.total).toEqual({ amount: MAX_ORDER_TOTAL, currency: 'EUR' });
    const tooMuch = await refused(
      w,
      'addOrderItem',
      { commandId: randomUUID(), orderId: order.id, productId: cent, quantity: 1 },
      c.headers,
      { typename: 'BusinessRuleViolation', code: 'ORDER_TOTAL_TOO_LARGE' },
    );
    expect(tooMuch.message).toMatch(/would total 1000000000\.01 EUR/);
    const paid = await payFully(w, order, c.headers);
    expect(paid.order.payment.amount).toEqual({ amount: MAX_ORDER_TOTAL, currency: 'EUR' });
  });

  describe('amounts that are not safe integers', () => {
    let c: Customer;
    beforeAll(async () => {
      c = await newCustomer(w);
    });
    const register = (amount: unknown) => ({
      i: {
        commandId: randomUUID(),
        id: randomUUID(),
        name: 'Lamp',
        imageUrl: 'https://img.example.org/lamp.png',
        price: { amount, currency: 'EUR' },
        initialStock: 1,
      },
    });

    it('are BAD_USER_INPUT, as variables and as literals, and write nothing', async () => {
      for (const amount of [2 ** 53, -(2 ** 53), 1.5, '100', 1e300]) {
        const r = await rejected(w, mutationDocument('registerProduct'), register(amount));
        expect(r.body.errors[0].extensions.code, JSON.stringify(r.body)).toBe('BAD_USER_INPUT');
        expect(r.body.errors[0].message).toMatch(/SafeInt/);
      }
      const literal = await rejected(
        w,
        `mutation { payOrder(input: { commandId: "${randomUUID()}", orderId: "${randomUUID()}",
          paymentId: "p", amount: { amount: 9007199254740992, currency: "EUR" } }) { __typename } }`,
        undefined,
        c.headers,
      );
      expect(literal.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      const filter = await w.s.graphql<any>(
        `query($min: SafeInt) { orders(filter: { minAmount: $min }) { totalCount } }`,
        { min: 2 ** 53 },
        w.admin,
      );
      expect(filter.body.data ?? null).toBeNull();
      expect(filter.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('a safe integer over MAX_AMOUNT reaches the domain, which names the field', async () => {
      for (const amount of [MAX_AMOUNT + 1, 2 ** 53 - 1]) {
        const { i } = register(amount);
        await refused(w, 'registerProduct', i, w.admin, {
          typename: 'ValidationError',
          paths: ['price.amount'],
        });
      }
    });
  });

  it('statistics stay exact up to 2^53 − 1, and past it are an error, never rounded', async () => {
    // Unreachable through the API (90,000 orders of the largest total); the log is written
    // straight to the store. One customer stays just inside the exact range; one overflows
    // in the main currency (an int8 column of the statistics), one only in a second
    // currency (the per-currency JSON).
    const big = 2 ** 52;
    const near = randomUUID();
    const main = randomUUID();
    const second = randomUUID();
    const now = new Date().toISOString();
    const appends: StreamAppend[] = [near, main, second].map((id) =>
      customerRegistered(id, 'Big Spender', `big-${id}@example.org`),
    );
    const paidOrder = (customerId: string, amount: number, currency: string) => {
      const orderId = randomUUID();
      const items = [line(randomUUID(), 1, amount, currency)];
      return {
        streamId: orderStreamId(orderId),
        streamType: ORDER_STREAM_TYPE,
        expected: 'noStream' as const,
        events: [
          OrderEvents.OrderCreated({
            orderId,
            customerId,
            items,
            shippingAddress: ADDRESS,
            billingAddress: ADDRESS,
            shippingMethod: 'STANDARD',
            total: total(items),
            createdAt: now,
          }),
          OrderEvents.OrderPaid({
            orderId,
            paymentId: `p-${orderId}`,
            amount: total(items),
            method: 'CARD',
            transactionId: null,
            estimatedDelivery: estimateDelivery('STANDARD', now),
            paidAt: now,
          }),
        ],
      };
    };
    // Even amounts, so that the projection's deltas (JavaScript numbers, exact for any
    // batch of real orders) stay exact here too and the database holds the true sums.
    const nearAmounts = [2_000_000_000_000_000, 2_000_000_000_000_002, 2_000_000_000_000_002];
    appends.push(...nearAmounts.map((amount) => paidOrder(near, amount, 'EUR')));
    appends.push(
      paidOrder(main, big, 'EUR'),
      paidOrder(main, big, 'EUR'),
      paidOrder(main, 2, 'EUR'),
    );
    appends.push(paidOrder(second, 100, 'EUR'), paidOrder(second, 100, 'EUR'));
    appends.push(paidOrder(second, big, 'USD'), paidOrder(second, big, 'USD'));
    const cursor = await appendAll(w.s.app.store, appends);
    await caughtUp(w.s.app.projections, cursor);

    // 6,000,000,000,000,004 / 3 = 2,000,000,000,000,001.33…: twice the sum, as a rounding
    // formula might take it, is past 2^53 and would come out one minor unit too high.
    const spent = { amount: 6_000_000_000_000_004, currency: 'EUR' };
    const exact = {
      totalSpent: spent,
      averageOrderValue: { amount: 2_000_000_000_000_001, currency: 'EUR' },
      totalSpentByCurrency: [spent],
    };
    const fields = `totalSpent { ${MONEY} } averageOrderValue { ${MONEY} }
      totalSpentByCurrency { ${MONEY} }`;
    const d = await read(
      `query($c: ID!) { orderStatistics(customerId: $c) { ${fields} }
        customer(id: $c) { statistics { ${fields} } } }`,
      { c: near },
    );
    expect(d.orderStatistics).toEqual(exact);
    expect(d.customer.statistics).toEqual(exact);

    const sums = await w.t.db.query<{ customer_id: string; spent: string }>(
      `SELECT customer_id, spent::text AS spent FROM customer_stats_currency
        WHERE customer_id = ANY($1::text[]) ORDER BY customer_id = $2 DESC, currency`,
      [[main, second], main],
    );
    // The database holds the exact sums (bigint); only a JavaScript number cannot.
    expect(sums.rows.map((r) => r.spent)).toEqual(['9007199254740994', '200', '9007199254740992']);

    for (const [id, overflowing] of [
      [main, `totalSpent { ${MONEY} }`],
      [second, `totalSpentByCurrency { ${MONEY} }`],
    ] as const) {
      for (const query of [
        `query($c: ID!) { orderStatistics(customerId: $c) { ${overflowing} } }`,
        `query($c: ID!) { customer(id: $c) { statistics { ${overflowing} } } }`,
      ]) {
        const r = await w.s.graphql<any>(query, { c: id }, w.admin);
        expect(r.body.errors?.length, JSON.stringify(r.body)).toBeGreaterThan(0);
        expect(JSON.stringify(r.body.data ?? null)).not.toMatch(/9007199254740|amount/);
      }
    }
    await expect(statisticsByCustomerIds(w.t.db, [main])).rejects.toThrow(
      /9007199254740994 exceeds the safe integer range/,
    );
    await expect(statisticsByCustomerIds(w.t.db, [second])).rejects.toThrow(
      /Customer .* spent more USD than an exact number can hold/,
    );
  });
});
