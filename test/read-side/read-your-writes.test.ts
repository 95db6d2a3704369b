import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../../src/orders/decider.js';
import { OrderEvents } from '../../src/orders/events.js';
import { ADDRESS } from './support.js';

/**
 * Read-your-writes through HTTP: every mutation's success shows the read model as of its
 * own cursor, and a query with `consistentWith: <that cursor>` always sees the change.
 * A read model that cannot catch up in time gives a query READ_TIMEOUT; a mutation still
 * answers its success (`caughtUp: false`, test/read-side/lagging-answers.test.ts).
 */

const MONEY = 'amount currency';
const ORDER = `id orderNumber status version itemCount total { ${MONEY} } items { productId quantity }
  customer { id email } payment { status } shipment { carrier } timeline { version type }`;

describe(`read-your-writes on ${engine}`, () => {
  // Exact order versions: no fulfillment process appending to the orders meanwhile.
  const { s } = useTestApp({ overrides: { fulfillment: false } });
  let admin: Record<string, string>;

  async function mutate(
    name: string,
    input: Record<string, unknown>,
    entity: string,
    fields: string,
    headers = admin,
  ) {
    const r = await s.graphql<any>(
      `mutation($i: ${name[0]!.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $i) {
        __typename ... on Error { code message }
        ... on ${name[0]!.toUpperCase()}${name.slice(1)}Success { cursor version ${entity} { ${fields} } } } }`,
      { i: { commandId: randomUUID(), ...input } },
      headers,
    );
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const payload = r.body.data[name];
    expect(payload.__typename, JSON.stringify(payload)).toMatch(/Success$/);
    return payload;
  }

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
  });

  it('shows every mutation’s effect in its success and in reads consistent with its cursor', async () => {
    const products: string[] = [];
    for (let k = 0; k < 4; k++) {
      const p = await mutate(
        'registerProduct',
        {
          name: `Thing ${k}`,
          imageUrl: 'https://img.example/t.png',
          price: { amount: 100 * (k + 1), currency: 'EUR' },
          initialStock: 50,
        },
        'product',
        'id name availableStock price { amount }',
      );
      expect(p.product).toMatchObject({
        name: `Thing ${k}`,
        availableStock: 50,
        price: { amount: 100 * (k + 1) },
      });
      products.push(p.product.id);
    }
    const restocked = await mutate(
      'restockProduct',
      { productId: products[0], quantity: 7 },
      'product',
      'availableStock',
    );
    expect(restocked.product.availableStock).toBe(57);

    const c = await mutate(
      'registerCustomer',
      { name: 'Rita', email: `rita-${randomUUID().slice(0, 8)}@example.org`, phone: '+49 1' },
      'customer',
      'id email statistics { orderCount }',
    );
    const customerId = c.customer.id;
    const rita = await s.auth({ role: 'customer', customerId });

    const created = await mutate(
      'createOrder',
      { customerId, items: [{ productId: products[0], quantity: 1 }], shippingAddress: ADDRESS },
      'order',
      ORDER,
      rita,
    );
    expect(created.order).toMatchObject({
      version: 1,
      status: 'PENDING',
      customer: { id: customerId },
    });
    expect(created.order.orderNumber).toMatch(/^SO-\d{6}$/);
    expect(created.order.timeline).toEqual([{ version: 1, type: 'OrderCreated' }]);
    const orderId = created.order.id;
    const orderNumber: string = created.order.orderNumber;

    const check = async (payload: any) => {
      // The success itself is the read model at (at least) its own version…
      expect(payload.order.version).toBe(payload.version);
      // …and so is every read that names its cursor.
      const d = (
        await s.graphql<any>(
          `query($id: ID!, $c: Cursor!, $cust: ID!, $no: ID!, $lower: ID!) {
            order(id: $id, consistentWith: $c) { ${ORDER} }
            byNumber: order(id: $no, consistentWith: $c) { ${ORDER} }
            lower: order(id: $lower, consistentWith: $c) { version }
            orders(filter: { customerId: $cust }, first: 1, consistentWith: $c) { edges { node { id version status } } }
            stats: order(id: $id, consistentWith: $c) { customer { statistics { byStatus { status count } } } } }`,
          {
            id: orderId,
            c: payload.cursor,
            cust: customerId,
            no: orderNumber,
            lower: orderNumber.toLowerCase(),
          },
          rita,
        )
      ).body.data;
      expect(d.order).toEqual(payload.order);
      expect(d.byNumber).toEqual(payload.order);
      expect(d.lower).toEqual({ version: payload.version });
      expect(d.orders.edges[0].node).toEqual({
        id: orderId,
        version: payload.version,
        status: payload.order.status,
      });
      expect(d.order.timeline.map((e: any) => e.version)).toEqual(
        Array.from({ length: payload.version }, (_, n) => n + 1),
      );
      const byStatus = Object.fromEntries(
        d.stats.customer.statistics.byStatus.map((b: any) => [b.status, b.count]),
      );
      expect(byStatus[payload.order.status]).toBe(1);
    };
    await check(created);

    for (let k = 1; k <= 6; k++) {
      const productId = products[1 + (k % 3)]!;
      const added = await mutate(
        'addOrderItem',
        { orderId, productId, quantity: k },
        'order',
        ORDER,
        rita,
      );
      expect(added.order.items).toContainEqual({ productId, quantity: k });
      await check(added);
      const removed = await mutate('removeOrderItem', { orderId, productId }, 'order', ORDER, rita);
      expect(removed.order.items).not.toContainEqual({ productId, quantity: k });
      await check(removed);
    }
    const paid = await mutate(
      'payOrder',
      { orderId, paymentId: 'pay-1', amount: { amount: 100, currency: 'EUR' } },
      'order',
      ORDER,
      rita,
    );
    expect(paid.order).toMatchObject({ status: 'PAID', payment: { status: 'PAID' } });
    await check(paid);
    const shipped = await mutate(
      'shipOrder',
      { orderId, carrier: 'DHL', trackingNumber: 'T1' },
      'order',
      ORDER,
    );
    expect(shipped.order).toMatchObject({ status: 'SHIPPED', shipment: { carrier: 'DHL' } });
    await check(shipped);

    // A new e-mail reaches the copies in the orders list at once.
    const email = `Rita.New-${randomUUID().slice(0, 8)}@Example.org`;
    const changed = await mutate(
      'changeCustomerEmail',
      { customerId, email },
      'customer',
      'email',
      rita,
    );
    expect(changed.customer.email).toBe(email);
    const found = await s.graphql<any>(
      `query($e: String!, $c: Cursor!) { orders(filter: { customerEmail: $e }, consistentWith: $c) {
        edges { node { id customer { email } } } } }`,
      { e: email.toUpperCase(), c: changed.cursor },
      admin,
    );
    expect(found.body.data.orders.edges).toEqual([{ node: { id: orderId, customer: { email } } }]);
  });

  it('answers each mutation of one operation with its own state', async () => {
    const c = await mutate(
      'registerCustomer',
      { name: 'Duo', email: `duo-${randomUUID().slice(0, 8)}@example.org`, phone: '+49 3' },
      'customer',
      'id',
    );
    const price = { amount: 10, currency: 'EUR' };
    const image = 'https://img.example/d.png';
    const p1 = await mutate(
      'registerProduct',
      { name: 'D1', imageUrl: image, price, initialStock: 9 },
      'product',
      'id',
    );
    const p2 = await mutate(
      'registerProduct',
      { name: 'D2', imageUrl: image, price, initialStock: 9 },
      'product',
      'id',
    );
    const o = await mutate(
      'createOrder',
      {
        customerId: c.customer.id,
        items: [{ productId: p1.product.id, quantity: 1 }],
        shippingAddress: ADDRESS,
      },
      'order',
      'id',
    );
    const orderId = o.order.id;
    const r = await s.graphql<any>(
      `mutation($a: AddOrderItemInput!, $b: RemoveOrderItemInput!, $c: PayOrderInput!) {
        a: addOrderItem(input: $a) { ... on AddOrderItemSuccess { version order { version itemCount timeline { version } } } }
        b: removeOrderItem(input: $b) { ... on RemoveOrderItemSuccess { version order { version itemCount timeline { version } } } }
        c: payOrder(input: $c) { ... on PayOrderSuccess { version order { version status } } } }`,
      {
        a: { commandId: randomUUID(), orderId, productId: p2.product.id, quantity: 2 },
        b: { commandId: randomUUID(), orderId, productId: p2.product.id },
        c: { commandId: randomUUID(), orderId, paymentId: 'duo', amount: price },
      },
      admin,
    );
    expect(r.body.errors).toBeUndefined();
    const versions = (n: number) => Array.from({ length: n }, (_, k) => ({ version: k + 1 }));
    expect(r.body.data).toEqual({
      a: { version: 2, order: { version: 2, itemCount: 3, timeline: versions(2) } },
      b: { version: 3, order: { version: 3, itemCount: 1, timeline: versions(3) } },
      c: { version: 4, order: { version: 4, status: 'PAID' } },
    });
  });

  it('answers a replayed mutation from the read model too', async () => {
    const input = {
      commandId: randomUUID(),
      name: 'Replay',
      imageUrl: 'https://img.example/r.png',
      price: { amount: 5, currency: 'EUR' },
      initialStock: 1,
    };
    const q = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) {
      ... on RegisterProductSuccess { cursor version product { id name availableStock } } } }`;
    const first = await s.graphql<any>(q, { i: input }, admin);
    const again = await s.graphql<any>(q, { i: input }, admin);
    expect(again.body.data.registerProduct).toEqual(first.body.data.registerProduct);
  });

  it('gives a query READ_TIMEOUT when the read models cannot reach the cursor in time, and answers once they do', async () => {
    const c = await mutate(
      'registerCustomer',
      { name: 'Tim', email: `tim-${randomUUID().slice(0, 8)}@example.org`, phone: '+49 2' },
      'customer',
      'id',
    );
    const p = await mutate(
      'registerProduct',
      {
        name: 'Slow',
        imageUrl: 'https://img.example/s.png',
        price: { amount: 10, currency: 'EUR' },
        initialStock: 5,
      },
      'product',
      'id',
    );
    const o = await mutate(
      'createOrder',
      {
        customerId: c.customer.id,
        items: [{ productId: p.product.id, quantity: 1 }],
        shippingAddress: ADDRESS,
      },
      'order',
      'id',
    );
    const orderId = o.order.id;
    const { orderNumber } = (
      await s.graphql<any>(
        `query($id: ID!, $c: Cursor!) { order(id: $id, consistentWith: $c) { orderNumber } }`,
        { id: orderId, c: o.cursor },
        admin,
      )
    ).body.data.order;
    s.app.services.readTimeoutMs = 200;
    await s.app.projections.pause('orders');
    try {
      const appended = await s.app.store.append(
        orderStreamId(orderId),
        ORDER_STREAM_TYPE,
        [
          OrderEvents.OrderShippingAddressChanged({
            orderId,
            shippingAddress: { ...ADDRESS, line1: 'New 1' },
            changedAt: new Date().toISOString(),
          }),
        ],
        { expected: 1 },
      );
      const read = await s.graphql<any>(
        `query($id: ID!, $c: Cursor!) { order(id: $id, consistentWith: $c) { version } }`,
        { id: orderId, c: appended.cursor },
        admin,
      );
      expect(read.body.errors?.[0]?.extensions?.code).toBe('READ_TIMEOUT');
      expect(read.body.errors?.[0]?.message).toMatch(/did not reach/);
      const byNumber = await s.graphql<any>(
        `query($no: ID!, $c: Cursor!) { order(id: $no, consistentWith: $c) { version } }`,
        { no: orderNumber, c: appended.cursor },
        admin,
      );
      expect(byNumber.body.errors?.[0]?.extensions?.code).toBe('READ_TIMEOUT');
      // A malformed id is refused at once: there is nothing to wait for.
      const malformed = await s.graphql<any>(
        `query($c: Cursor!) { order(id: "SO-1", consistentWith: $c) { version } }`,
        { c: appended.cursor },
        admin,
      );
      expect(malformed.body.errors?.[0]?.extensions).toEqual({
        code: 'BAD_USER_INPUT',
        argument: 'id',
      });
      // Without consistentWith, the read model as it stands: before the change.
      const stale = await s.graphql<any>(
        `query($no: ID!) { order(id: $no) { version shippingAddress { line1 } } }`,
        { no: orderNumber },
        admin,
      );
      expect(stale.body.data.order).toEqual({
        version: 1,
        shippingAddress: { line1: ADDRESS.line1 },
      });
      const list = await s.graphql<any>(
        `query($c: Cursor!) { orders(consistentWith: $c) { totalCount } }`,
        { c: appended.cursor },
        admin,
      );
      expect(list.body.errors?.[0]?.extensions?.code).toBe('READ_TIMEOUT');
      // A mutation's command is applied, and its answer never an error: past its own wait,
      // the read model as it stands (its number), with the command's state over it.
      s.app.services.commandReadWaitMs = 200;
      const paid = await s.graphql<any>(
        `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on PayOrderSuccess { caughtUp order { orderNumber status version } } } }`,
        {
          i: {
            commandId: randomUUID(),
            orderId,
            paymentId: 'p',
            amount: { amount: 10, currency: 'EUR' },
          },
        },
        admin,
      );
      expect(paid.body.errors).toBeUndefined();
      expect(paid.body.data.payOrder).toEqual({
        __typename: 'PayOrderSuccess',
        caughtUp: false,
        order: { orderNumber, status: 'PAID', version: 3 },
      });
      expect(await s.app.store.streamVersion(orderStreamId(orderId))).toBe(3);
      // An answer within what the command's own resulting state holds needs no read model:
      // it comes at once, read model paused or not.
      const moved = await s.graphql<any>(
        `mutation($i: ChangeShippingAddressInput!) { changeShippingAddress(input: $i) {
           __typename ... on ChangeShippingAddressSuccess { version order { id status version shippingAddress { line1 } } } } }`,
        {
          i: {
            commandId: randomUUID(),
            orderId,
            shippingAddress: { ...ADDRESS, line1: 'Newer 2' },
          },
        },
        admin,
      );
      expect(moved.body.errors).toBeUndefined();
      expect(moved.body.data.changeShippingAddress).toEqual({
        __typename: 'ChangeShippingAddressSuccess',
        version: 4,
        order: { id: orderId, status: 'PAID', version: 4, shippingAddress: { line1: 'Newer 2' } },
      });
    } finally {
      await s.app.projections.resume('orders');
      delete s.app.services.readTimeoutMs;
      s.app.services.commandReadWaitMs = 5_000;
    }
    const head = (
      await s.app.store.readStream(orderStreamId(orderId), { backwards: true, limit: 1 })
    )[0]!;
    const d = await s.graphql<any>(
      `query($id: ID!, $no: ID!, $c: Cursor!) {
        order(id: $id, consistentWith: $c) { version status shippingAddress { line1 } }
        byNumber: order(id: $no, consistentWith: $c) { version status shippingAddress { line1 } } }`,
      { id: orderId, no: orderNumber, c: head.cursor },
      admin,
    );
    // The read model, caught up, holds what the state-built answer said.
    const caughtUp = { version: 4, status: 'PAID', shippingAddress: { line1: 'Newer 2' } };
    expect(d.body.data).toEqual({ order: caughtUp, byNumber: caughtUp });
  });
});
