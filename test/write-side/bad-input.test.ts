import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { engine } from '../support/db.js';
import {
  ADDRESS,
  OTHER_ADDRESS,
  mutationDocument,
  newCustomer,
  newOrder,
  newProduct,
  ok,
  payFully,
  refused,
  rejected,
  useWorld,
  type Customer,
  type Headers,
  type MutationName,
  type World,
} from './support.js';

/** Bad input gets a clear, typed error (or a GraphQL validation error) and writes nothing. */

const LONG = 'x'.repeat(10_000);

/** A copy of `input` with the value at a dotted path (`items.0.productId`) replaced. */
function withValue(input: Record<string, unknown>, path: string, value: unknown) {
  const copy = structuredClone(input);
  const keys = path.split('.');
  let at: any = copy;
  for (const k of keys.slice(0, -1)) at = at[k];
  at[keys[keys.length - 1]!] = value;
  return copy;
}

interface Base {
  mutation: MutationName;
  /** A valid input (without commandId) and the caller: it must succeed as it is. */
  prepare(w: World): Promise<{ input: Record<string, unknown>; headers: Headers }>;
  /** Every string (String and ID) field of the input, as a path. */
  strings: string[];
}

const BASES: Base[] = [
  {
    mutation: 'registerCustomer',
    strings: ['commandId', 'id', 'name', 'email', 'phone'],
    async prepare(w) {
      const id = randomUUID();
      return {
        input: { id, name: 'Valid', email: `v-${id}@example.org`, phone: '0301234' },
        headers: w.admin,
      };
    },
  },
  {
    mutation: 'changeCustomerEmail',
    strings: ['commandId', 'customerId', 'email'],
    async prepare(w) {
      const c = await newCustomer(w);
      return { input: { customerId: c.id, email: `n-${c.id}@example.org` }, headers: c.headers };
    },
  },
  {
    mutation: 'registerProduct',
    strings: ['commandId', 'id', 'name', 'imageUrl', 'price.currency'],
    async prepare(w) {
      return {
        input: {
          id: randomUUID(),
          name: 'Lamp',
          imageUrl: 'https://img.example.org/lamp.png',
          price: { amount: 100, currency: 'EUR' },
          initialStock: 0,
        },
        headers: w.admin,
      };
    },
  },
  {
    mutation: 'restockProduct',
    strings: ['commandId', 'productId'],
    async prepare(w) {
      return { input: { productId: await newProduct(w), quantity: 1 }, headers: w.admin };
    },
  },
  {
    mutation: 'changeProductPrice',
    strings: ['commandId', 'productId', 'price.currency'],
    async prepare(w) {
      return {
        input: { productId: await newProduct(w), price: { amount: 1, currency: 'EUR' } },
        headers: w.admin,
      };
    },
  },
  {
    mutation: 'createOrder',
    strings: [
      'commandId',
      'id',
      'customerId',
      'items.0.productId',
      'shippingAddress.line1',
      'shippingAddress.line2',
      'shippingAddress.city',
      'shippingAddress.postalCode',
      'shippingAddress.country',
    ],
    async prepare(w) {
      const c = await newCustomer(w);
      return {
        input: {
          id: randomUUID(),
          customerId: c.id,
          items: [{ productId: await newProduct(w), quantity: 1 }],
          shippingAddress: OTHER_ADDRESS,
        },
        headers: c.headers,
      };
    },
  },
  {
    mutation: 'addOrderItem',
    strings: ['commandId', 'orderId', 'productId'],
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      return {
        input: { orderId: order.id, productId: await newProduct(w), quantity: 1 },
        headers: c.headers,
      };
    },
  },
  {
    mutation: 'removeOrderItem',
    strings: ['commandId', 'orderId', 'productId'],
    async prepare(w) {
      const c = await newCustomer(w);
      const p = await newProduct(w);
      const order = await newOrder(w, c, [
        { productId: await newProduct(w), quantity: 1 },
        { productId: p, quantity: 1 },
      ]);
      return { input: { orderId: order.id, productId: p }, headers: c.headers };
    },
  },
  {
    mutation: 'changeShippingAddress',
    strings: [
      'commandId',
      'orderId',
      'shippingAddress.line1',
      'shippingAddress.line2',
      'shippingAddress.city',
      'shippingAddress.postalCode',
      'shippingAddress.country',
    ],
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      return { input: { orderId: order.id, shippingAddress: OTHER_ADDRESS }, headers: c.headers };
    },
  },
  {
    mutation: 'payOrder',
    strings: ['commandId', 'orderId', 'paymentId', 'amount.currency'],
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      return {
        input: { orderId: order.id, paymentId: 'pay-1', amount: order.total },
        headers: c.headers,
      };
    },
  },
  {
    mutation: 'shipOrder',
    strings: ['commandId', 'orderId', 'carrier', 'trackingNumber'],
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      await payFully(w, order);
      return {
        input: { orderId: order.id, carrier: 'DHL', trackingNumber: 'T-1' },
        headers: w.service,
      };
    },
  },
  {
    mutation: 'cancelOrder',
    strings: ['commandId', 'orderId', 'reason'],
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      return { input: { orderId: order.id, reason: 'Changed my mind' }, headers: c.headers };
    },
  },
];

/** The value at a dotted path, with commandId standing for the whole command. */
const ID_FIELDS = /(^|\.)(commandId|id|customerId|productId|orderId)$/;

describe(`bad input on ${engine}`, () => {
  const w = useWorld();

  describe('10,000-character strings in every string field', () => {
    for (const base of BASES) {
      it(`${base.mutation}: ${base.strings.join(', ')}`, async () => {
        const { input, headers } = await base.prepare(w);
        for (const path of base.strings) {
          const bad = withValue({ commandId: randomUUID(), ...input }, path, LONG);
          const e = await refused(w, base.mutation, bad, headers, {
            typename: 'ValidationError',
            code: 'VALIDATION_FAILED',
            paths: [path],
          });
          expect(e.fields, `${path}: ${JSON.stringify(e.fields)}`).toHaveLength(1);
          // The message says what is wrong without echoing the 10,000 characters.
          expect(e.message.length).toBeLessThan(1000);
          expect(e.fields[0].message.length).toBeLessThan(200);
          if (ID_FIELDS.test(path)) expect(e.fields[0].message).toMatch(/uuid/);
        }
        // The same input, unharmed, succeeds: each refusal was for that one field.
        await ok(w, base.mutation, { commandId: randomUUID(), ...input }, headers);
      });
    }
  });

  describe('malformed uuids', () => {
    const MALFORMED = [
      'not-a-uuid',
      '',
      '123',
      '5b0c3f8e6a434c3e9d540a1f0e7b2c11',
      ' 5b0c3f8e-6a43-4c3e-9d54-0a1f0e7b2c11',
      '5b0c3f8e-6a43-4c3e-9d54-0a1f0e7b2c1g',
      "'; DROP TABLE events; --",
    ];
    for (const base of BASES) {
      const ids = base.strings.filter((p) => ID_FIELDS.test(p));
      it(`${base.mutation}: ${ids.join(', ')}`, async () => {
        const { input, headers } = await base.prepare(w);
        for (const path of ids) {
          for (const value of MALFORMED) {
            const bad = withValue({ commandId: randomUUID(), ...input }, path, value);
            const e = await refused(w, base.mutation, bad, headers, {
              typename: 'ValidationError',
              paths: [path],
            });
            expect(e.fields).toHaveLength(1);
          }
        }
      });
    }
  });

  describe('numbers', () => {
    let c: Customer;
    let order: any;
    let product: string;
    beforeAll(async () => {
      c = await newCustomer(w);
      product = await newProduct(w);
      order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
    });

    it('zero, negative and too large quantities', async () => {
      for (const quantity of [0, -1, -2147483648, 1001, 2147483647]) {
        await refused(
          w,
          'createOrder',
          {
            commandId: randomUUID(),
            customerId: c.id,
            items: [{ productId: product, quantity }],
            shippingAddress: ADDRESS,
          },
          c.headers,
          { typename: 'ValidationError', paths: ['items.0.quantity'] },
        );
        await refused(
          w,
          'addOrderItem',
          { commandId: randomUUID(), orderId: order.id, productId: product, quantity },
          c.headers,
          { typename: 'ValidationError', paths: ['quantity'] },
        );
      }
      // A restock moves at most 1,000,000 units at once.
      for (const quantity of [0, -1, -2147483648, 1_000_001, 2147483647]) {
        await refused(
          w,
          'restockProduct',
          { commandId: randomUUID(), productId: product, quantity },
          w.admin,
          { typename: 'ValidationError', paths: ['quantity'] },
        );
      }
      await ok(w, 'restockProduct', {
        commandId: randomUUID(),
        productId: product,
        quantity: 1_000_000,
      });
      // The bounds themselves are fine.
      const bounds = await ok(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: product, quantity: 1000 },
        c.headers,
      );
      expect(bounds.order.items[1].quantity).toBe(1000);
    });

    it('negative and zero prices, negative stock, too large stock', async () => {
      const register = (price: number, initialStock: number) => ({
        commandId: randomUUID(),
        name: 'Lamp',
        imageUrl: 'https://img.example.org/lamp.png',
        price: { amount: price, currency: 'EUR' },
        initialStock,
      });
      for (const price of [0, -1, -2147483648]) {
        await refused(w, 'registerProduct', register(price, 1), w.admin, {
          typename: 'ValidationError',
          paths: ['price.amount'],
        });
        await refused(
          w,
          'changeProductPrice',
          {
            commandId: randomUUID(),
            productId: product,
            price: { amount: price, currency: 'EUR' },
          },
          w.admin,
          { typename: 'ValidationError', paths: ['price.amount'] },
        );
      }
      for (const stock of [-1, -2147483648, 1_000_001]) {
        await refused(w, 'registerProduct', register(100, stock), w.admin, {
          typename: 'ValidationError',
          paths: ['initialStock'],
        });
      }
      const both = await refused(w, 'registerProduct', register(-5, -5), w.admin, {
        typename: 'ValidationError',
        paths: ['price.amount', 'initialStock'],
      });
      expect(both.fields).toHaveLength(2);
      await refused(
        w,
        'payOrder',
        {
          commandId: randomUUID(),
          orderId: order.id,
          paymentId: 'p',
          amount: { amount: -1, currency: 'EUR' },
        },
        c.headers,
        { typename: 'ValidationError', paths: ['amount.amount'] },
      );
    });

    it('an order total over MAX_ORDER_TOTAL is refused before anything is written', async () => {
      // 40,000,000,000 cents a piece: three of them pass MAX_ORDER_TOTAL (10^11), two fit.
      const dear = await newProduct(w, { amount: 40_000_000_000, currency: 'EUR' });
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: c.id,
          items: [{ productId: dear, quantity: 3 }],
          shippingAddress: ADDRESS,
        },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'ORDER_TOTAL_TOO_LARGE' },
      );
      const two = await newOrder(w, c, [{ productId: dear, quantity: 2 }]);
      expect(two.total.amount).toBe(80_000_000_000);
      // 80,000,000,000 + 21 × 1,000,000,000 > 10^11; 20 units still fit, exactly.
      const fair = await newProduct(w, { amount: 1_000_000_000, currency: 'EUR' });
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: two.id, productId: fair, quantity: 21 },
        c.headers,
        { typename: 'BusinessRuleViolation', code: 'ORDER_TOTAL_TOO_LARGE' },
      );
      const fits = await ok(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: two.id, productId: fair, quantity: 20 },
        c.headers,
      );
      expect(fits.order.total.amount).toBe(100_000_000_000);
    });

    it('a negative expectedVersion is a typed error', async () => {
      const e = await refused(
        w,
        'removeOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: product, expectedVersion: -1 },
        c.headers,
        { typename: 'ConcurrencyError' },
      );
      expect(e.expectedVersion).toBe(-1);
    });
  });

  describe('items', () => {
    let c: Customer;
    const products: string[] = [];
    beforeAll(async () => {
      c = await newCustomer(w);
      for (let i = 0; i < 11; i++) products.push(await newProduct(w));
    });
    const create = (items: unknown[]) => ({
      commandId: randomUUID(),
      customerId: c.id,
      items,
      shippingAddress: ADDRESS,
    });

    it('no items, and 11 items', async () => {
      await refused(w, 'createOrder', create([]), c.headers, {
        typename: 'ValidationError',
        paths: ['items'],
      });
      const e = await refused(
        w,
        'createOrder',
        create(products.map((productId) => ({ productId, quantity: 1 }))),
        c.headers,
        { typename: 'ValidationError', paths: ['items'] },
      );
      expect(e.fields.find((f: any) => f.path === 'items').message).toMatch(/10/);
      // 10 is fine.
      const ten = await ok(
        w,
        'createOrder',
        create(products.slice(0, 10).map((productId) => ({ productId, quantity: 1 }))),
        c.headers,
      );
      expect(ten.order.items).toHaveLength(10);
    });

    it('a thousand items are refused without loading a thousand products', async () => {
      const many = Array.from({ length: 1000 }, () => ({ productId: randomUUID(), quantity: 1 }));
      await refused(w, 'createOrder', create(many), c.headers, {
        typename: 'ValidationError',
        paths: ['items'],
      });
    });

    it('the same product twice, also in another letter case', async () => {
      const [p1, p2] = products as [string, string];
      const e = await refused(
        w,
        'createOrder',
        create([
          { productId: p1, quantity: 1 },
          { productId: p2, quantity: 1 },
          { productId: p1.toUpperCase(), quantity: 2 },
        ]),
        c.headers,
        { typename: 'ValidationError', paths: ['items.2.productId'] },
      );
      expect(e.fields).toHaveLength(1);
    });

    it('unknown products', async () => {
      const unknown = randomUUID();
      await refused(w, 'createOrder', create([{ productId: unknown, quantity: 1 }]), c.headers, {
        typename: 'NotFoundError',
        code: 'PRODUCT_NOT_FOUND',
      });
      const order = await newOrder(w, c, [{ productId: products[0]!, quantity: 1 }]);
      await refused(
        w,
        'addOrderItem',
        { commandId: randomUUID(), orderId: order.id, productId: unknown, quantity: 1 },
        c.headers,
        {
          typename: 'NotFoundError',
          code: 'PRODUCT_NOT_FOUND',
        },
      );
    });
  });

  describe('text formats', () => {
    it('bad currencies', async () => {
      const productId = await newProduct(w);
      for (const currency of ['eur', 'EURO', 'EU', '€', '', 'E1R', ' EUR']) {
        await refused(
          w,
          'registerProduct',
          {
            commandId: randomUUID(),
            name: 'Lamp',
            imageUrl: 'https://img.example.org/l.png',
            price: { amount: 100, currency },
            initialStock: 1,
          },
          w.admin,
          { typename: 'ValidationError', paths: ['price.currency'] },
        );
        await refused(
          w,
          'changeProductPrice',
          { commandId: randomUUID(), productId, price: { amount: 100, currency } },
          w.admin,
          {
            typename: 'ValidationError',
            paths: ['price.currency'],
          },
        );
      }
    });

    it('bad image URLs', async () => {
      for (const imageUrl of [
        'not a url',
        'ftp://img.example.org/l.png',
        'javascript:alert(1)',
        'data:image/png;base64,AAAA',
        '/relative/l.png',
        'https://img.example .org/l.png',
        '',
        '   ',
      ]) {
        await refused(
          w,
          'registerProduct',
          {
            commandId: randomUUID(),
            name: 'Lamp',
            imageUrl,
            price: { amount: 100, currency: 'EUR' },
            initialStock: 1,
          },
          w.admin,
          { typename: 'ValidationError', paths: ['imageUrl'] },
        );
      }
    });

    it('blank strings, control characters, bad emails and phones', async () => {
      const register = (over: Record<string, unknown>) => ({
        commandId: randomUUID(),
        id: randomUUID(),
        name: 'Name',
        email: `ok-${randomUUID()}@example.org`,
        phone: '0301234',
        ...over,
      });
      for (const [over, path] of [
        [{ name: '' }, 'name'],
        [{ name: '   ' }, 'name'],
        [{ name: 'Ann\u0000' }, 'name'],
        [{ name: 'Ann\nBob' }, 'name'],
        [{ email: 'ann@' }, 'email'],
        [{ email: 'ann@localhost' }, 'email'],
        [{ email: 'a b@example.org' }, 'email'],
        [{ email: '"ann"@example.org' }, 'email'],
        [{ phone: 'call me' }, 'phone'],
        [{ phone: '12' }, 'phone'],
      ] as [Record<string, unknown>, string][]) {
        await refused(w, 'registerCustomer', register(over), w.admin, {
          typename: 'ValidationError',
          paths: [path],
        });
      }
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      await refused(
        w,
        'changeShippingAddress',
        { commandId: randomUUID(), orderId: order.id, shippingAddress: { ...ADDRESS, line2: '' } },
        c.headers,
        {
          typename: 'ValidationError',
          paths: ['shippingAddress.line2'],
        },
      );
      await refused(
        w,
        'cancelOrder',
        { commandId: randomUUID(), orderId: order.id, reason: 'bad\u0007bell' },
        c.headers,
        {
          typename: 'ValidationError',
          paths: ['reason'],
        },
      );
    });
  });

  describe('requests GraphQL itself rejects', () => {
    let c: Customer;
    let productId: string;
    beforeAll(async () => {
      c = await newCustomer(w);
      productId = await newProduct(w);
    });
    const doc = mutationDocument('createOrder');
    const input = () => ({
      commandId: randomUUID(),
      customerId: c.id,
      items: [{ productId, quantity: 1 }],
      shippingAddress: ADDRESS,
    });

    it('wrong variable types', async () => {
      for (const bad of [
        { ...input(), items: [{ productId, quantity: 'three' }] },
        { ...input(), items: [{ productId, quantity: 1.5 }] },
        { ...input(), items: [{ productId, quantity: 2147483648 }] },
        { ...input(), shippingAddress: 'Berlin' },
        { ...input(), commandId: { id: 1 } },
        { ...input(), commandId: true },
        { ...input(), shippingAddress: { ...ADDRESS, postalCode: 10115 } },
      ]) {
        await rejected(w, doc, { i: bad }, c.headers);
      }
    });

    it('missing required fields and unknown fields', async () => {
      for (const drop of ['commandId', 'customerId', 'items', 'shippingAddress']) {
        const i: Record<string, unknown> = input();
        delete i[drop];
        await rejected(w, doc, { i }, c.headers);
      }
      await rejected(w, doc, { i: { ...input(), items: [{ quantity: 1 }] } }, c.headers);
      await rejected(
        w,
        doc,
        { i: { ...input(), shippingAddress: { line1: 'x', city: 'y', country: 'DE' } } },
        c.headers,
      );
      await rejected(w, doc, { i: { ...input(), admin: true } }, c.headers);
      await rejected(w, doc, { i: { ...input(), items: [null] } }, c.headers);
      await rejected(w, doc, { i: null }, c.headers);
      await rejected(w, doc, undefined, c.headers);
    });

    it('invalid documents', async () => {
      // A literal input without commandId, a field that does not exist, a wrong literal type.
      await rejected(
        w,
        `mutation { cancelOrder(input: { orderId: "${randomUUID()}", reason: "x" }) { __typename } }`,
        undefined,
      );
      await rejected(
        w,
        `mutation { cancelOrder(input: { commandId: "${randomUUID()}", orderId: "${randomUUID()}", reason: "x" }) { __typename ... on CancelOrderSuccess { nope } } }`,
        undefined,
      );
      await rejected(
        w,
        `mutation { restockProduct(input: { commandId: "${randomUUID()}", productId: "${productId}", quantity: "5" }) { __typename } }`,
        undefined,
      );
      await rejected(
        w,
        `mutation { restockProduct(input: { commandId: "${randomUUID()}", productId: "${productId}", quantity: 5 }) { __typename }`,
        undefined,
      );
      // The literal form of a valid request works (the control).
      const r = await w.s.graphql<any>(
        `mutation { restockProduct(input: { commandId: "${randomUUID()}", productId: "${productId}", quantity: 5 }) { __typename } }`,
        undefined,
        w.admin,
      );
      expect(r.body.data.restockProduct.__typename).toBe('RestockProductSuccess');
    });
  });
});
