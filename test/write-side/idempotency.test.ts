import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { engine } from '../support/db.js';
import {
  ADDRESS,
  MUTATION_NAMES,
  OTHER_ADDRESS,
  eventsOfCommand,
  newCustomer,
  newOrder,
  newProduct,
  ok,
  payFully,
  refused,
  useWorld,
  writes,
  type Headers,
  type MutationName,
  type World,
} from './support.js';

/**
 * For every mutation: a replay (same commandId, same input, same caller) answers with the
 * first run's cursor and version and writes nothing; the same commandId with other input,
 * or from another user, is an IdempotencyConflict and writes nothing.
 */
interface Case {
  mutation: MutationName;
  title: string;
  prepare(w: World): Promise<{
    input: Record<string, unknown>;
    headers: Headers;
    /** The same command id with a different input. */
    changed: Record<string, unknown>;
    /** Another user allowed to run the same command. */
    otherUser: Headers;
    /** Moves the entity on after the first run, so a replay cannot just echo the current state. */
    moveOn?: () => Promise<void>;
  }>;
  /** The id of the entity a success names. */
  entityId(payload: any): string;
}

const customerIdOf = (p: any) => p.customer.id as string;
const productIdOf = (p: any) => p.product.id as string;
const orderIdOf = (p: any) => p.order.id as string;

const otherAdmin = (w: World) => w.s.auth({ role: 'admin', userId: 'admin-2' });
const otherService = (w: World) => w.s.auth({ role: 'service', userId: 'service-2' });

const cases: Case[] = [
  {
    mutation: 'registerCustomer',
    title: 'with a client id',
    entityId: customerIdOf,
    async prepare(w) {
      const id = randomUUID();
      const input = { id, name: 'Ann', email: `ann-${id}@example.org`, phone: '030 1234' };
      return {
        input,
        headers: w.admin,
        changed: { ...input, name: 'Anne' },
        otherUser: await otherAdmin(w),
        moveOn: async () => {
          await ok(w, 'changeCustomerEmail', {
            commandId: randomUUID(),
            customerId: id,
            email: `moved-${id}@example.org`,
          });
        },
      };
    },
  },
  {
    mutation: 'registerCustomer',
    title: 'with a server-chosen id',
    entityId: customerIdOf,
    async prepare(w) {
      const tag = randomUUID();
      const input = { name: 'Ann', email: `ann-${tag}@example.org`, phone: '030 1234' };
      return {
        input,
        headers: w.admin,
        changed: { ...input, phone: '030 9999' },
        otherUser: await otherAdmin(w),
      };
    },
  },
  {
    mutation: 'changeCustomerEmail',
    title: 'by the customer',
    entityId: customerIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const input = { customerId: c.id, email: `new-${c.id}@example.org` };
      return {
        input,
        headers: c.headers,
        changed: { ...input, email: `other-${c.id}@example.org` },
        otherUser: w.admin,
        moveOn: async () => {
          await ok(
            w,
            'changeCustomerEmail',
            { commandId: randomUUID(), customerId: c.id, email: `third-${c.id}@example.org` },
            c.headers,
          );
        },
      };
    },
  },
  {
    mutation: 'registerProduct',
    title: 'with a client id',
    entityId: productIdOf,
    async prepare(w) {
      const id = randomUUID();
      const input = {
        id,
        name: 'Lamp',
        imageUrl: 'https://img.example.org/lamp.png',
        price: { amount: 1999, currency: 'EUR' },
        initialStock: 3,
      };
      return {
        input,
        headers: w.service,
        changed: { ...input, initialStock: 4 },
        otherUser: await otherService(w),
        moveOn: async () => {
          await ok(w, 'restockProduct', { commandId: randomUUID(), productId: id, quantity: 1 });
        },
      };
    },
  },
  {
    mutation: 'registerProduct',
    title: 'with a server-chosen id',
    entityId: productIdOf,
    async prepare(w) {
      const input = {
        name: 'Lamp',
        imageUrl: 'https://img.example.org/lamp.png',
        price: { amount: 1999, currency: 'EUR' },
        initialStock: 3,
      };
      return {
        input,
        headers: w.admin,
        changed: { ...input, price: { amount: 1999, currency: 'USD' } },
        otherUser: await otherAdmin(w),
      };
    },
  },
  {
    mutation: 'restockProduct',
    title: '',
    entityId: productIdOf,
    async prepare(w) {
      const productId = await newProduct(w);
      const input = { productId, quantity: 10 };
      return {
        input,
        headers: w.service,
        changed: { ...input, quantity: 11 },
        otherUser: await otherService(w),
        moveOn: async () => {
          await ok(w, 'restockProduct', { commandId: randomUUID(), productId, quantity: 10 });
        },
      };
    },
  },
  {
    mutation: 'changeProductPrice',
    title: '',
    entityId: productIdOf,
    async prepare(w) {
      const productId = await newProduct(w);
      const input = { productId, price: { amount: 1200, currency: 'EUR' } };
      return {
        input,
        headers: w.admin,
        changed: { ...input, price: { amount: 1300, currency: 'EUR' } },
        otherUser: await otherAdmin(w),
        moveOn: async () => {
          await ok(w, 'changeProductPrice', {
            commandId: randomUUID(),
            productId,
            price: { amount: 1400, currency: 'EUR' },
          });
        },
      };
    },
  },
  {
    mutation: 'createOrder',
    title: 'with a client id',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const [p1, p2] = [await newProduct(w), await newProduct(w)];
      const id = randomUUID();
      const input = {
        id,
        customerId: c.id,
        items: [{ productId: p1, quantity: 1 }],
        shippingAddress: ADDRESS,
      };
      return {
        input,
        headers: c.headers,
        changed: { ...input, items: [{ productId: p1, quantity: 2 }] },
        otherUser: w.admin,
        moveOn: async () => {
          await ok(
            w,
            'addOrderItem',
            { commandId: randomUUID(), orderId: id, productId: p2, quantity: 1 },
            c.headers,
          );
        },
      };
    },
  },
  {
    mutation: 'createOrder',
    title: 'with a server-chosen id',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const p1 = await newProduct(w);
      const input = {
        customerId: c.id,
        items: [{ productId: p1, quantity: 1 }],
        shippingAddress: ADDRESS,
      };
      return {
        input,
        headers: c.headers,
        changed: { ...input, shippingAddress: OTHER_ADDRESS },
        otherUser: await otherAdmin(w),
      };
    },
  },
  {
    mutation: 'addOrderItem',
    title: '',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const [p1, p2, p3] = [await newProduct(w), await newProduct(w), await newProduct(w)];
      const order = await newOrder(w, c, [{ productId: p1, quantity: 1 }]);
      const input = { orderId: order.id, productId: p2, quantity: 2, expectedVersion: 1 };
      return {
        input,
        headers: c.headers,
        changed: { ...input, quantity: 3 },
        otherUser: w.admin,
        moveOn: async () => {
          await ok(
            w,
            'addOrderItem',
            { commandId: randomUUID(), orderId: order.id, productId: p3, quantity: 1 },
            c.headers,
          );
        },
      };
    },
  },
  {
    mutation: 'removeOrderItem',
    title: '',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const [p1, p2, p3] = [await newProduct(w), await newProduct(w), await newProduct(w)];
      const order = await newOrder(w, c, [
        { productId: p1, quantity: 1 },
        { productId: p2, quantity: 1 },
        { productId: p3, quantity: 1 },
      ]);
      const input = { orderId: order.id, productId: p2 };
      return {
        input,
        headers: c.headers,
        changed: { ...input, productId: p3 },
        otherUser: w.admin,
        moveOn: async () => {
          await ok(
            w,
            'removeOrderItem',
            { commandId: randomUUID(), orderId: order.id, productId: p3 },
            c.headers,
          );
        },
      };
    },
  },
  {
    mutation: 'changeShippingAddress',
    title: '',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      const input = { orderId: order.id, shippingAddress: OTHER_ADDRESS };
      return {
        input,
        headers: c.headers,
        changed: { ...input, shippingAddress: { ...OTHER_ADDRESS, city: 'Bremen' } },
        otherUser: w.admin,
        moveOn: async () => {
          await ok(
            w,
            'changeShippingAddress',
            { commandId: randomUUID(), orderId: order.id, shippingAddress: ADDRESS },
            c.headers,
          );
        },
      };
    },
  },
  {
    mutation: 'payOrder',
    title: '',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 2 }]);
      const input = { orderId: order.id, paymentId: 'pay-1', amount: order.total };
      return {
        input,
        headers: c.headers,
        changed: { ...input, paymentId: 'pay-2' },
        otherUser: w.service,
        moveOn: async () => {
          await ok(w, 'shipOrder', {
            commandId: randomUUID(),
            orderId: order.id,
            carrier: 'UPS',
            trackingNumber: '1Z',
          });
        },
      };
    },
  },
  {
    mutation: 'shipOrder',
    title: '',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      await payFully(w, order);
      const input = { orderId: order.id, carrier: 'DHL', trackingNumber: 'T-1' };
      return {
        input,
        headers: w.service,
        changed: { ...input, trackingNumber: 'T-2' },
        otherUser: await otherService(w),
      };
    },
  },
  {
    mutation: 'cancelOrder',
    title: '(a paid order: two events)',
    entityId: orderIdOf,
    async prepare(w) {
      const c = await newCustomer(w);
      const order = await newOrder(w, c, [{ productId: await newProduct(w), quantity: 1 }]);
      await payFully(w, order, c.headers);
      const input = { orderId: order.id, reason: 'Too late' };
      return {
        input,
        headers: c.headers,
        changed: { ...input, reason: 'Too slow' },
        otherUser: w.admin,
      };
    },
  },
];

describe(`idempotency of every mutation on ${engine}`, () => {
  const w = useWorld();

  it('covers every mutation', () => {
    const covered = new Set(cases.map((c) => c.mutation));
    expect([...covered].sort()).toEqual([...MUTATION_NAMES].sort());
  });

  it('a replay answers the first run’s cursor and version, and the entity as it is now', async () => {
    const customer = await newCustomer(w);
    const [mug, cup] = [await newProduct(w), await newProduct(w)];
    const commandId = randomUUID();
    const input = {
      commandId,
      customerId: customer.id,
      items: [{ productId: mug, quantity: 1 }],
      shippingAddress: ADDRESS,
    };
    // Both a selection the first run builds from its own state and one read from the
    // read models: a replay has no state of its own, so both are read as they are now.
    const narrow = `mutation($i: CreateOrderInput!) { createOrder(input: $i) {
      ... on CreateOrderSuccess { cursor version order { id version itemCount } } } }`;
    const first = (await w.s.graphql<any>(narrow, { i: input }, w.admin)).body.data.createOrder;
    expect(first).toMatchObject({ version: 1, order: { version: 1, itemCount: 1 } });
    const orderId: string = first.order.id;
    await ok(w, 'addOrderItem', { commandId: randomUUID(), orderId, productId: cup, quantity: 1 });
    const afterFirst = await writes(w);

    const replay = (await w.s.graphql<any>(narrow, { i: input }, w.admin)).body.data.createOrder;
    expect(replay).toEqual({
      cursor: first.cursor,
      version: 1,
      order: { id: orderId, version: 2, itemCount: 2 },
    });
    const full = await ok(w, 'createOrder', input);
    expect([full.cursor, full.version]).toEqual([first.cursor, 1]);
    expect(full.order).toMatchObject({ id: orderId, version: 2, itemCount: 2 });
    expect(full.order.items.map((i: any) => i.productId).sort()).toEqual([mug, cup].sort());
    expect(await writes(w)).toEqual(afterFirst);
  });

  for (const c of cases) {
    it(`${c.mutation} ${c.title}`.trim(), async () => {
      const p = await c.prepare(w);
      const commandId = randomUUID();
      const first = await ok(w, c.mutation, { commandId, ...p.input }, p.headers);
      const id = c.entityId(first);
      const firstEvents = await eventsOfCommand(w, commandId);
      expect(firstEvents.length).toBeGreaterThan(0);
      expect(firstEvents[0]!.stream_id.endsWith(id)).toBe(true);
      await p.moveOn?.();
      const afterFirst = await writes(w);

      // Replays, also with the command id in upper case (uuids compare case-insensitively).
      for (const replayId of [commandId, commandId, commandId.toUpperCase()]) {
        const replay = await ok(w, c.mutation, { commandId: replayId, ...p.input }, p.headers);
        expect(replay.cursor).toBe(first.cursor);
        expect(replay.version).toBe(first.version);
        expect(c.entityId(replay)).toBe(id);
        expect(await writes(w)).toEqual(afterFirst);
      }

      // Same id, different input.
      await refused(w, c.mutation, { commandId, ...p.changed }, p.headers, {
        typename: 'IdempotencyConflict',
        code: 'IDEMPOTENCY_CONFLICT',
      });
      // Same id and input, another user.
      await refused(w, c.mutation, { commandId, ...p.input }, p.otherUser, {
        typename: 'IdempotencyConflict',
        code: 'IDEMPOTENCY_CONFLICT',
      });
      // Same id under another mutation.
      const other: MutationName = c.mutation === 'cancelOrder' ? 'payOrder' : 'cancelOrder';
      const otherInput =
        other === 'payOrder'
          ? { paymentId: 'x', amount: { amount: 1, currency: 'EUR' } }
          : { reason: 'x' };
      await refused(w, other, { commandId, orderId: randomUUID(), ...otherInput }, w.admin, {
        typename: 'IdempotencyConflict',
      });

      // The conflicts left the first result as it was.
      const last = await ok(w, c.mutation, { commandId, ...p.input }, p.headers);
      expect([last.cursor, last.version, c.entityId(last)]).toEqual([
        first.cursor,
        first.version,
        id,
      ]);
      expect(await eventsOfCommand(w, commandId)).toEqual(firstEvents);
      expect(await writes(w)).toEqual(afterFirst);
    });
  }
});
