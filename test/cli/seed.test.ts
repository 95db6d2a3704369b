import { beforeAll, describe, expect, it } from 'vitest';
import { DEV_CUSTOMER_ID } from '../../src/auth/dev.js';
import { seedDemo, SeedError, type SeedResult } from '../../src/demo/seed.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';

/**
 * `npm run seed`'s function with a small data set: every order state reaches the read
 * models through the commands and the fulfillment process, and seeding again replays.
 */

const OPTIONS = { customers: 4, orders: 20 };

const COUNT = `query($status: OrderStatus) { orders(filter: { status: $status }) { totalCount } }`;
const ORDERS = `query($status: OrderStatus!) { orders(first: 100, filter: { status: $status }) { edges { node {
  id customer { id name email } items { productName productImageUrl quantity }
  shippingAddress { line1 city postalCode country } billingAddress { line1 city postalCode country }
  shippingMethod estimatedDelivery
  payment { status paymentId method transactionId } shipment { status carrier trackingNumber } timeline { type }
} } } }`;
const CATALOGUE = `{ products(first: 100) { totalCount edges { node { name availableStock price { amount currency } } } } }`;
const DEV_CUSTOMER = `query($id: ID!) { customer(id: $id) { name email phone orders { totalCount } } }`;

describe(`seed on ${engine}`, () => {
  const { s } = useTestApp();
  let admin: { authorization: string };
  let first: SeedResult;

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const r = await s.graphql<any>(query, variables, admin);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  };
  const head = async () => (await s.app.store.head())?.globalPosition ?? 0;

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
    const progress: number[] = [];
    first = await seedDemo(s.app, {
      ...OPTIONS,
      onProgress: ({ done, total }) => {
        expect(done).toBeLessThanOrEqual(total);
        progress.push(done / total);
      },
    });
    expect(progress.at(-1)).toBe(1);
  }, 180_000);

  it('makes orders in every state, as the read models show', async () => {
    expect(first).toMatchObject({ customers: 4, products: 15, orders: 20 });
    expect(first.fates).toEqual({
      shipped: 7,
      pending: 4,
      paid: 4,
      cancelled: 2,
      refunded: 1,
      'wins-limited': 1,
      'short-stock': 1,
    });
    expect(first.statuses).toEqual({ PENDING: 4, PAID: 4, SHIPPED: 8, CANCELLED: 4 });
    for (const [status, n] of Object.entries(first.statuses))
      expect((await gql(COUNT, { status })).orders.totalCount, status).toBe(n);

    const shipped = (await gql(ORDERS, { status: 'SHIPPED' })).orders.edges.map((e: any) => e.node);
    for (const o of shipped) {
      expect(o.shipment).toMatchObject({ status: 'SHIPPED' });
      expect(o.shipment.carrier).toMatch(/^(DHL|UPS|DPD|GLS|PostNL)$/);
      expect(o.payment.status).toBe('PAID');
    }
    const paid = (await gql(ORDERS, { status: 'PAID' })).orders.edges.map((e: any) => e.node);
    for (const o of paid) {
      // The fulfillment process reserved their stock and made them ready to ship.
      expect(o.timeline.map((e: any) => e.type)).toContain('OrderReadyToShip');
      expect(o.shipment).toBeNull();
    }

    const cancelled = (await gql(ORDERS, { status: 'CANCELLED' })).orders.edges.map(
      (e: any) => e.node,
    );
    const refunded = cancelled.filter((o: any) => o.payment?.status === 'REFUNDED');
    expect(cancelled.filter((o: any) => o.payment === null)).toHaveLength(2);
    expect(refunded).toHaveLength(2);
    // One refund was the customer's wish, one the fulfillment process's for lack of stock:
    // both orders for the limited product passed the check at ordering, the first paid won.
    const cookbook = (o: any) =>
      o.items.some((i: any) => i.productName === 'Signed cookbook, first edition');
    const short = refunded.filter(cookbook);
    expect(short).toHaveLength(1);
    expect(short[0].timeline.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['OrderPaid', 'StockShortageDetected', 'OrderCancelled']),
    );
    expect(shipped.filter(cookbook)).toHaveLength(1);

    // The order's other parts: billing (home, for parcels sent to a workplace), methods,
    // the delivery estimate of every paid order, the product's picture.
    const all = [...shipped, ...paid, ...cancelled];
    for (const o of all) {
      if (o.shippingAddress.line1.startsWith('c/o '))
        expect(o.billingAddress.line1).toBe(
          o.shippingAddress.line1.slice('c/o Reception, '.length),
        );
      else expect(o.billingAddress).toEqual(o.shippingAddress);
      for (const i of o.items) expect(i.productImageUrl).toMatch(/^https:\/\/shop\.example\.com\//);
    }
    for (const o of [...shipped, ...paid]) {
      expect(o.estimatedDelivery).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(o.payment.method).toMatch(/^(CARD|PAYPAL|BANK_TRANSFER|INVOICE)$/);
      expect(o.payment.transactionId === null).toBe(o.payment.method === 'INVOICE');
    }
    expect(new Set(all.map((o: any) => o.shippingMethod)).size).toBeGreaterThan(1);
    expect(new Set([...shipped, ...paid].map((o: any) => o.payment.method)).size).toBeGreaterThan(
      1,
    );

    // Realistic enough to read: names, addresses, e-mail addresses.
    const customer = shipped[0].customer;
    expect(customer.name).toMatch(/^\p{L}+ (de )?\p{L}+$/u);
    expect(customer.email).toMatch(/^[a-z]+\.[a-z]+\d+@example\.net$/);
    expect(shipped[0].shippingAddress.country).toMatch(/^[A-Z]{2}$/);
  });

  it('leaves stock consistent: nothing reserved for cancelled orders, the limited product with its winner', async () => {
    const products = (await gql(CATALOGUE)).products;
    expect(products.totalCount).toBe(15);
    const limited = products.edges.find(
      (e: any) => e.node.name === 'Signed cookbook, first edition',
    ).node;
    // One race for it in 20 orders, and the winner holds the whole stock.
    expect(limited.availableStock).toBe(0);
    for (const { node } of products.edges) expect(node.price.currency).toBe('EUR');

    // Units held = units of PAID and SHIPPED orders, per product.
    const held = new Map<string, number>();
    for (const status of ['PAID', 'SHIPPED'])
      for (const { node } of (await gql(ORDERS, { status })).orders.edges)
        for (const i of node.items)
          held.set(i.productName, (held.get(i.productName) ?? 0) + i.quantity);
    const { PRODUCTS } = await import('../../src/demo/data.js');
    for (const p of PRODUCTS) {
      const shown = products.edges.find((e: any) => e.node.name === p.name).node;
      expect(shown.availableStock, p.name).toBe(p.stock - (held.get(p.name) ?? 0));
    }
  });

  it('gives the development customer orders', async () => {
    const c = (await gql(DEV_CUSTOMER, { id: DEV_CUSTOMER_ID })).customer;
    expect(c.name).toBeTruthy();
    expect(c.orders.totalCount).toBeGreaterThan(0);
  });

  it('replays when run again with the same options: nothing written', async () => {
    const before = await head();
    const again = await seedDemo(s.app, OPTIONS);
    expect(again).toEqual(first);
    expect(await head()).toBe(before);
  }, 120_000);

  it('refuses other options or bad ones before writing anything', async () => {
    const before = await head();
    await expect(seedDemo(s.app, { customers: 5, orders: 20 })).rejects.toThrow(
      /seeded with other options/,
    );
    await expect(seedDemo(s.app, { orders: 0 })).rejects.toThrow(SeedError);
    await expect(seedDemo(s.app, { customers: 2.5 })).rejects.toThrow(/customers must be/);
    expect(await head()).toBe(before);
  });
});
