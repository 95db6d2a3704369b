import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { engine } from '../support/db.js';
import {
  ADDRESS,
  call,
  newCustomer,
  newOrder,
  newProduct,
  ok,
  payFully,
  refused,
  useWorld,
} from './support.js';

/** Every typed error a mutation can answer with, reached through HTTP; none writes anything. */
describe(`typed errors of the mutations on ${engine}`, () => {
  const w = useWorld();

  describe('ValidationError names the offending fields', () => {
    it('items.N.quantity, and several problems at once', async () => {
      const c = await newCustomer(w);
      const [p1, p2] = [await newProduct(w), await newProduct(w)];
      const e = await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: c.id,
          items: [
            { productId: p1, quantity: 1 },
            { productId: p2, quantity: 0 },
          ],
          shippingAddress: { ...ADDRESS, country: 'Germany', city: '  ' },
        },
        c.headers,
        {
          typename: 'ValidationError',
          code: 'VALIDATION_FAILED',
          paths: ['items.1.quantity', 'shippingAddress.country', 'shippingAddress.city'],
        },
      );
      expect(e.fields).toHaveLength(3);
      for (const f of e.fields) expect(f.message.length).toBeGreaterThan(0);
    });

    it('email', async () => {
      const e = await refused(
        w,
        'registerCustomer',
        {
          commandId: randomUUID(),
          id: randomUUID(),
          name: 'A',
          email: 'not-an-email',
          phone: '0301234',
        },
        w.admin,
        { typename: 'ValidationError', paths: ['email'] },
      );
      expect(e.fields).toEqual([{ path: 'email', message: expect.any(String) }]);
      const c = await newCustomer(w);
      await refused(
        w,
        'changeCustomerEmail',
        { commandId: randomUUID(), customerId: c.id, email: 'a@b' },
        c.headers,
        { typename: 'ValidationError', paths: ['email'] },
      );
    });

    it('shippingAddress.country', async () => {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      for (const country of ['de', 'DEU', '', 'D1']) {
        const e = await refused(
          w,
          'changeShippingAddress',
          { commandId: randomUUID(), orderId: order.id, shippingAddress: { ...ADDRESS, country } },
          c.headers,
          { typename: 'ValidationError', paths: ['shippingAddress.country'] },
        );
        expect(e.fields).toHaveLength(1);
      }
    });

    it('commandId', async () => {
      for (const commandId of ['not-a-uuid', '', '1234', `${randomUUID()}x`]) {
        const e = await refused(
          w,
          'registerProduct',
          {
            commandId,
            name: 'Lamp',
            imageUrl: 'https://img.example.org/l.png',
            price: { amount: 100, currency: 'EUR' },
            initialStock: 1,
          },
          w.admin,
          { typename: 'ValidationError', paths: ['commandId'] },
        );
        expect(e.fields).toHaveLength(1);
      }
    });
  });

  describe('BusinessRuleViolation', () => {
    it('ORDER_NOT_PENDING: items of a paid order cannot change', async () => {
      const c = await newCustomer(w);
      const [p1, p2] = [await newProduct(w), await newProduct(w)];
      const order = await newOrder(w, c, [
        { productId: p1, quantity: 1 },
        { productId: p2, quantity: 1 },
      ]);
      await payFully(w, order, c.headers);
      const rule = { typename: 'BusinessRuleViolation', code: 'ORDER_NOT_PENDING' };
      const p3 = await newProduct(w);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p3, quantity: 1 },
        c.headers,
        rule,
      );
      await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p2 },
        c.headers,
        rule,
      );
      await refused(
        w,
        'payOrder',
        { commandId: randomUUID(), orderId: order.id, paymentId: 'again', amount: order.total },
        c.headers,
        rule,
      );
    });

    it('PAYMENT_AMOUNT_MISMATCH: too little, too much, other currency', async () => {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 3 }]);
      expect(order.total).toEqual({ amount: 3000, currency: 'EUR' });
      for (const amount of [
        { amount: 2999, currency: 'EUR' },
        { amount: 3001, currency: 'EUR' },
        { amount: 3000, currency: 'USD' },
      ]) {
        await refused(
          w,
          'payOrder',
          { commandId: randomUUID(), orderId: order.id, paymentId: 'p', amount },
          c.headers,
          { typename: 'BusinessRuleViolation', code: 'PAYMENT_AMOUNT_MISMATCH' },
        );
      }
    });

    it('LAST_ITEM and ITEM_NOT_IN_ORDER', async () => {
      const c = await newCustomer(w);
      const p1 = await newProduct(w);
      const order = await newOrder(w, c, [{ productId: p1, quantity: 1 }]);
      await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p1 },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'LAST_ITEM' },
      );
      await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: await newProduct(w) },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'ITEM_NOT_IN_ORDER' },
      );
    });

    it('TOO_MANY_ITEMS', async () => {
      const c = await newCustomer(w);
      const products: string[] = [];
      for (let i = 0; i < 11; i++) products.push(await newProduct(w));
      const order = await newOrder(
        w,
        c,
        products.slice(0, 10).map((productId) => ({ productId, quantity: 1 })),
      );
      expect(order.items).toHaveLength(10);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: products[10], quantity: 1 },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'TOO_MANY_ITEMS' },
      );
    });

    it('EMAIL_TAKEN, also when only the case differs, and on an email change', async () => {
      const tag = randomUUID();
      const first = await newCustomer(w, `Taken.${tag}@Example.org`);
      for (const email of [`Taken.${tag}@Example.org`, `taken.${tag}@example.ORG`]) {
        await refused(
          w,
          'registerCustomer',
          { commandId: randomUUID(), id: randomUUID(), name: 'B', email, phone: '0301234' },
          w.admin,
          { typename: 'BusinessRuleViolation', code: 'EMAIL_TAKEN' },
        );
      }
      const second = await newCustomer(w);
      await refused(
        w,
        'changeCustomerEmail',
        { commandId: randomUUID(), customerId: second.id, email: first.email.toUpperCase() },
        second.headers,
        { typename: 'BusinessRuleViolation', code: 'EMAIL_TAKEN' },
      );
      await refused(
        w,
        'changeCustomerEmail',
        { commandId: randomUUID(), customerId: first.id, email: first.email.toLowerCase() },
        first.headers,
        { typename: 'BusinessRuleViolation', code: 'EMAIL_UNCHANGED' },
      );
    });

    it('ITEM_ALREADY_IN_ORDER', async () => {
      const c = await newCustomer(w);
      const p1 = await newProduct(w);
      const order = await newOrder(w, c, [{ productId: p1, quantity: 1 }]);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p1.toUpperCase(), quantity: 5 },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'ITEM_ALREADY_IN_ORDER' },
      );
    });

    it('MIXED_CURRENCIES, when creating and when adding', async () => {
      const c = await newCustomer(w);
      const eur = await newProduct(w, { amount: 100, currency: 'EUR' });
      const usd = await newProduct(w, { amount: 100, currency: 'USD' });
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: c.id,
          items: [
            { productId: eur, quantity: 1 },
            { productId: usd, quantity: 1 },
          ],
          shippingAddress: ADDRESS,
        },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'MIXED_CURRENCIES' },
      );
      const order = await newOrder(w, c, [{ productId: eur, quantity: 1 }]);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: usd, quantity: 1 },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'MIXED_CURRENCIES' },
      );
    });

    it('other rules: shipping, cancelling, re-registering, unchanged values', async () => {
      const c = await newCustomer(w);
      const productId = await newProduct(w, { amount: 500, currency: 'EUR' });
      const order = await newOrder(w, c, [{ productId, quantity: 1 }]);
      const br = (code: string) => ({ typename: 'BusinessRuleViolation', code });
      await refused(
        w,
        'shipOrder',
        { commandId: randomUUID(), orderId: order.id, carrier: 'DHL', trackingNumber: 'T' },
        w.admin,
        br('ORDER_NOT_PAID'),
      );
      await refused(
        w,
        'changeShippingAddress',
        { commandId: randomUUID(), orderId: order.id, shippingAddress: ADDRESS },
        c.headers,
        br('SHIPPING_ADDRESS_UNCHANGED'),
      );
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          id: order.id,
          customerId: c.id,
          items: [{ productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        c.headers,
        br('ORDER_ALREADY_EXISTS'),
      );
      await refused(
        w,
        'registerCustomer',
        {
          commandId: randomUUID(),
          id: c.id,
          name: 'Again',
          email: `again-${c.id}@example.org`,
          phone: '0301234',
        },
        w.admin,
        br('CUSTOMER_ALREADY_REGISTERED'),
      );
      await refused(
        w,
        'registerProduct',
        {
          commandId: randomUUID(),
          id: productId,
          name: 'Again',
          imageUrl: 'https://img.example.org/a.png',
          price: { amount: 1, currency: 'EUR' },
          initialStock: 1,
        },
        w.admin,
        br('PRODUCT_ALREADY_REGISTERED'),
      );
      await refused(
        w,
        'changeProductPrice',
        { commandId: randomUUID(), productId, price: { amount: 500, currency: 'EUR' } },
        w.admin,
        br('PRICE_UNCHANGED'),
      );
      await payFully(w, order);
      await ok(w, 'shipOrder', {
        commandId: randomUUID(),
        orderId: order.id,
        carrier: 'DHL',
        trackingNumber: 'T',
      });
      await refused(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: order.id, reason: 'late' },
        c.headers,
        br('ORDER_ALREADY_SHIPPED'),
      );
      await refused(
        w,
        'changeShippingAddress',
        {
          commandId: randomUUID(),
          orderId: order.id,
          shippingAddress: { ...ADDRESS, city: 'Köln' },
        },
        c.headers,
        br('ORDER_ALREADY_SHIPPED'),
      );
      const other = await newOrder(w, c, [{ productId, quantity: 1 }]);
      await ok(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: other.id, reason: 'no' },
        c.headers,
      );
      await refused(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: other.id, reason: 'no' },
        c.headers,
        br('ORDER_ALREADY_CANCELLED'),
      );
      await refused(
        w,
        'payOrder',
        { commandId: randomUUID(), orderId: other.id, paymentId: 'p', amount: other.total },
        c.headers,
        br('ORDER_NOT_PENDING'),
      );
    });
  });

  describe('ConcurrencyError for a stale expectedVersion', () => {
    it('addOrderItem and removeOrderItem name the expected and the actual version', async () => {
      const c = await newCustomer(w);
      const [p1, p2, p3] = [await newProduct(w), await newProduct(w), await newProduct(w)];
      const order = await newOrder(w, c, [{ productId: p1, quantity: 1 }]);
      const added = await ok(
        w,
        'addOrderItem',
        {
          commandId: randomUUID(),
          orderId: order.id,
          productId: p2,
          quantity: 1,
          expectedVersion: 1,
        },
        c.headers,
      );
      expect(added.version).toBe(2);
      // A client still at version 1 is refused.
      const e1 = await refused(
        w,
        'addOrderItem',
        {
          commandId: randomUUID(),
          orderId: order.id,
          productId: p3,
          quantity: 1,
          expectedVersion: 1,
        },
        c.headers,
        { typename: 'ConcurrencyError', code: 'CONCURRENCY_CONFLICT' },
      );
      expect([e1.expectedVersion, e1.actualVersion]).toEqual([1, 2]);
      const e2 = await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p1, expectedVersion: 1 },
        c.headers,
        { typename: 'ConcurrencyError', code: 'CONCURRENCY_CONFLICT' },
      );
      expect([e2.expectedVersion, e2.actualVersion]).toEqual([1, 2]);
      // From the future, too.
      const e3 = await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p1, expectedVersion: 7 },
        c.headers,
        { typename: 'ConcurrencyError' },
      );
      expect([e3.expectedVersion, e3.actualVersion]).toEqual([7, 2]);
      // The current version works.
      const removed = await ok(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: p1, expectedVersion: 2 },
        c.headers,
      );
      expect(removed.version).toBe(3);
    });
  });

  describe('NotFoundError', () => {
    it('unknown order, for every order mutation', async () => {
      const c = await newCustomer(w);
      const productId = await newProduct(w);
      const orderId = randomUUID();
      const nf = { typename: 'NotFoundError', code: 'ORDER_NOT_FOUND' };
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId, productId, quantity: 1 },
        c.headers,
        nf,
      );
      await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId, productId },
        c.headers,
        nf,
      );
      await refused(
        w,
        'changeShippingAddress',
        { commandId: randomUUID(), orderId, shippingAddress: ADDRESS },
        c.headers,
        nf,
      );
      await refused(
        w,
        'payOrder',
        {
          commandId: randomUUID(),
          orderId,
          paymentId: 'p',
          amount: { amount: 1, currency: 'EUR' },
        },
        c.headers,
        nf,
      );
      await refused(
        w,
        'shipOrder',
        { commandId: randomUUID(), orderId, carrier: 'DHL', trackingNumber: 'T' },
        w.admin,
        nf,
      );
      await refused(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId, reason: 'x' },
        c.headers,
        nf,
      );
    });

    it('unknown product', async () => {
      const c = await newCustomer(w);
      const known = await newProduct(w);
      const unknown = randomUUID();
      const nf = { typename: 'NotFoundError', code: 'PRODUCT_NOT_FOUND' };
      const e = await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: c.id,
          items: [
            { productId: known, quantity: 1 },
            { productId: unknown, quantity: 1 },
          ],
          shippingAddress: ADDRESS,
        },
        c.headers,
        nf,
      );
      expect(e.message).toContain(unknown);
      const order = await newOrder(w, c, [{ productId: known, quantity: 1 }]);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: unknown, quantity: 1 },
        c.headers,
        nf,
      );
      await refused(
        w,
        'restockProduct',
        { commandId: randomUUID(), productId: unknown, quantity: 1 },
        w.admin,
        nf,
      );
      await refused(
        w,
        'changeProductPrice',
        { commandId: randomUUID(), productId: unknown, price: { amount: 1, currency: 'EUR' } },
        w.service,
        nf,
      );
    });

    it('unknown customer', async () => {
      const unknown = randomUUID();
      const productId = await newProduct(w);
      const nf = { typename: 'NotFoundError', code: 'CUSTOMER_NOT_FOUND' };
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: unknown,
          items: [{ productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        w.admin,
        nf,
      );
      await refused(
        w,
        'changeCustomerEmail',
        { commandId: randomUUID(), customerId: unknown, email: `x-${unknown}@example.org` },
        w.admin,
        nf,
      );
      // A customer token for a customer that was never registered.
      const ghost = await w.s.auth({ role: 'customer', customerId: unknown });
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: unknown,
          items: [{ productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        ghost,
        nf,
      );
    });
  });

  describe('ForbiddenError', () => {
    it('another customer and a customer doing staff work (no token at all: 401)', async () => {
      const a = await newCustomer(w);
      const b = await newCustomer(w);
      const productId = await newProduct(w);
      const order = await newOrder(w, a, [{ productId, quantity: 1 }]);
      const fb = { typename: 'ForbiddenError', code: 'FORBIDDEN' };
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: await newProduct(w), quantity: 1 },
        b.headers,
        fb,
      );
      await refused(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: order.id, reason: 'mine now' },
        b.headers,
        fb,
      );
      await refused(
        w,
        'changeCustomerEmail',
        { commandId: randomUUID(), customerId: a.id, email: `b-${a.id}@example.org` },
        b.headers,
        fb,
      );
      await refused(
        w,
        'restockProduct',
        { commandId: randomUUID(), productId, quantity: 1 },
        a.headers,
        fb,
      );
      await refused(
        w,
        'shipOrder',
        { commandId: randomUUID(), orderId: order.id, carrier: 'DHL', trackingNumber: 'T' },
        a.headers,
        fb,
      );
      const anonymous = await call(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: order.id, reason: 'who am i' },
        {},
      );
      expect(anonymous.status).toBe(401);
      expect(anonymous.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    });
  });

  describe('IdempotencyConflict', () => {
    it('a command id reused with other input, or for another mutation', async () => {
      const c = await newCustomer(w);
      const productId = await newProduct(w);
      const commandId = randomUUID();
      const input = {
        commandId,
        customerId: c.id,
        items: [{ productId, quantity: 1 }],
        shippingAddress: ADDRESS,
      };
      await ok(w, 'createOrder', input, c.headers);
      const e = await refused(
        w,
        'createOrder',
        { ...input, items: [{ productId, quantity: 2 }] },
        c.headers,
        { typename: 'IdempotencyConflict', code: 'IDEMPOTENCY_CONFLICT' },
      );
      expect(e.message).toContain(commandId);
      await refused(w, 'restockProduct', { commandId, productId, quantity: 1 }, w.admin, {
        typename: 'IdempotencyConflict',
      });
    });
  });
});
