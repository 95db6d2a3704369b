import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { ADDRESS } from './support.js';

/**
 * A committed command never answers an error because the read models lag
 * (docs/adr/0018-mutation-answers-when-read-models-lag.md): with a projection paused, every
 * mutation answers its success within its own wait (STRATA_COMMAND_READ_WAIT_MS), with
 * `caughtUp: false`, the fields its command's state answers from that state and the
 * read-model-only ones as documented; the same command id retried answers the same; once
 * the read models catch up, `caughtUp: true` with the full entity.
 */

/** The mutation's own wait in these tests, and what an answer may take beyond it. */
const WAIT_MS = 400;
const MARGIN_MS = 1_000;

const ORDER = `id orderNumber status version itemCount total { amount currency }
  items { productId quantity unitPrice { amount } } payment { status amount { amount } }
  shipment { carrier status } customer { id } timeline { version } createdAt updatedAt`;

const success = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}Success`;

describe(`mutation answers while the read models lag, on ${engine}`, () => {
  // Exact order versions: no fulfillment process appending to the orders meanwhile.
  const { s } = useTestApp({ overrides: { fulfillment: false } });
  let admin: Record<string, string>;

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
  });

  afterEach(async () => {
    for (const name of ['orders', 'customers', 'catalog']) await s.app.projections.resume(name);
    s.app.services.commandReadWaitMs = 5_000;
  });

  /** Runs `name` with `input` (commandId included), timing it; the payload and ms. */
  async function send(
    name: string,
    input: Record<string, unknown>,
    selection: string,
    headers = admin,
  ): Promise<{ payload: any; ms: number }> {
    const started = performance.now();
    const r = await s.graphql<any>(
      `mutation($i: ${name[0]!.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $i) {
        __typename ... on Error { code message } ... on ${success(name)} { ${selection} } } }`,
      { i: input },
      headers,
    );
    const ms = performance.now() - started;
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const payload = r.body.data[name];
    expect(payload.__typename, JSON.stringify(payload)).toBe(success(name));
    return { payload, ms };
  }

  const mutate = async (
    name: string,
    input: Record<string, unknown>,
    selection: string,
    headers = admin,
  ) => (await send(name, { commandId: randomUUID(), ...input }, selection, headers)).payload;

  async function fixtures() {
    const c = await mutate(
      'registerCustomer',
      { name: 'Lag', email: `lag-${randomUUID().slice(0, 8)}@example.org`, phone: '+49 5' },
      'customer { id }',
    );
    const products: string[] = [];
    for (const amount of [250, 400]) {
      const p = await mutate(
        'registerProduct',
        {
          name: `Lag ${amount}`,
          imageUrl: 'https://img.example/l.png',
          price: { amount, currency: 'EUR' },
          initialStock: 20,
        },
        'product { id }',
      );
      products.push(p.product.id);
    }
    return { customerId: c.customer.id as string, products };
  }

  it('answers order commands from their state when the orders read model is paused, and the same again on a retry', async () => {
    const { customerId, products } = await fixtures();
    s.app.services.commandReadWaitMs = WAIT_MS;
    await s.app.projections.pause('orders');

    const createInput = {
      commandId: randomUUID(),
      customerId,
      items: [{ productId: products[0], quantity: 2 }],
      shippingAddress: ADDRESS,
    };
    const created = await send(
      'createOrder',
      createInput,
      `cursor version caughtUp order { ${ORDER} }`,
    );
    expect(created.ms).toBeLessThan(WAIT_MS + MARGIN_MS);
    const { order } = created.payload;
    // No row yet: the order as its own state has it; no number, no timeline yet.
    expect(created.payload).toMatchObject({ version: 1, caughtUp: false });
    expect(order).toMatchObject({
      orderNumber: null,
      status: 'PENDING',
      version: 1,
      itemCount: 2,
      total: { amount: 500, currency: 'EUR' },
      items: [{ productId: products[0], quantity: 2, unitPrice: { amount: 250 } }],
      payment: null,
      shipment: null,
      customer: { id: customerId },
      timeline: [],
    });
    expect(order.updatedAt).toBe(order.createdAt);
    const orderId: string = order.id;

    // The same command id retried: the same cursor, version and answer.
    const again = await send(
      'createOrder',
      createInput,
      `cursor version caughtUp order { ${ORDER} }`,
    );
    expect(again.ms).toBeLessThan(WAIT_MS + MARGIN_MS);
    expect(again.payload).toEqual(created.payload);

    const added = await mutate(
      'addOrderItem',
      { orderId, productId: products[1], quantity: 1 },
      `version caughtUp order { ${ORDER} }`,
    );
    expect(added).toMatchObject({
      version: 2,
      caughtUp: false,
      order: {
        orderNumber: null,
        version: 2,
        itemCount: 3,
        total: { amount: 900 },
        items: [
          { productId: products[0], quantity: 2 },
          { productId: products[1], quantity: 1 },
        ],
      },
    });

    const paid = await mutate(
      'payOrder',
      { orderId, paymentId: 'lag-pay', amount: { amount: 900, currency: 'EUR' } },
      `version caughtUp order { status version estimatedDelivery payment { status amount { amount } } }`,
    );
    expect(paid).toMatchObject({
      version: 3,
      caughtUp: false,
      order: { status: 'PAID', version: 3, payment: { status: 'PAID', amount: { amount: 900 } } },
    });
    expect(paid.order.estimatedDelivery).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    // A selection within what the state answers: at once, and caught up, paused or not.
    const moved = await send(
      'changeShippingAddress',
      { commandId: randomUUID(), orderId, shippingAddress: { ...ADDRESS, line1: 'Lag 2' } },
      'version caughtUp order { id status version total { amount } shippingAddress { line1 } }',
    );
    expect(moved.ms).toBeLessThan(WAIT_MS);
    expect(moved.payload).toEqual({
      __typename: 'ChangeShippingAddressSuccess',
      version: 4,
      caughtUp: true,
      order: {
        id: orderId,
        status: 'PAID',
        version: 4,
        total: { amount: 900 },
        shippingAddress: { line1: 'Lag 2' },
      },
    });

    // caughtUp alone says whether the read models reached the cursor within the wait.
    const bare = await mutate(
      'changeShippingAddress',
      { orderId, shippingAddress: { ...ADDRESS, line1: 'Lag 3' } },
      'cursor version caughtUp',
    );
    expect(bare).toMatchObject({ version: 5, caughtUp: false });

    const shipped = await mutate(
      'shipOrder',
      { orderId, carrier: 'DHL', trackingNumber: 'LAG-1' },
      `version caughtUp order { orderNumber status version shipment { carrier trackingNumber status } shippingAddress { line1 } }`,
    );
    expect(shipped).toEqual({
      __typename: 'ShipOrderSuccess',
      version: 6,
      caughtUp: false,
      order: {
        orderNumber: null,
        status: 'SHIPPED',
        version: 6,
        shipment: { carrier: 'DHL', trackingNumber: 'LAG-1', status: 'SHIPPED' },
        shippingAddress: { line1: 'Lag 3' },
      },
    });

    // Once the read model has caught up: the retry answers the same cursor and version,
    // caught up, with the order as it is now (the replay's rule), number and all.
    await s.app.projections.resume('orders');
    s.app.services.commandReadWaitMs = 5_000;
    const later = await send(
      'createOrder',
      createInput,
      `cursor version caughtUp order { ${ORDER} }`,
    );
    expect(later.payload).toMatchObject({
      cursor: created.payload.cursor,
      version: 1,
      caughtUp: true,
      order: { id: orderId, status: 'SHIPPED', version: 6, itemCount: 3 },
    });
    expect(later.payload.order.orderNumber).toMatch(/^SO-\d{6}$/);
    expect(later.payload.order.timeline).toHaveLength(6);
  });

  it('answers a retry while the read model lags with the order as the first run left it', async () => {
    const { customerId, products } = await fixtures();
    const created = await mutate(
      'createOrder',
      { customerId, items: [{ productId: products[0], quantity: 1 }], shippingAddress: ADDRESS },
      'cursor order { id orderNumber }',
    );
    const orderId: string = created.order.id;
    const orderNumber: string = created.order.orderNumber;
    expect(orderNumber).toMatch(/^SO-\d{6}$/);
    const addInput = { commandId: randomUUID(), orderId, productId: products[1], quantity: 4 };
    const selection = `cursor version caughtUp order { orderNumber status version itemCount total { amount } }`;

    s.app.services.commandReadWaitMs = WAIT_MS;
    await s.app.projections.pause('orders');
    const first = await send('addOrderItem', addInput, selection);
    // The read model's row (its number), with the command's state (version 2) over it.
    expect(first.payload).toMatchObject({
      version: 2,
      caughtUp: false,
      order: { orderNumber, status: 'PENDING', version: 2, itemCount: 5, total: { amount: 1_850 } },
    });
    // A later command the read model has not applied either.
    await mutate('removeOrderItem', { orderId, productId: products[0] }, 'version');
    const again = await send('addOrderItem', addInput, selection);
    expect(again.ms).toBeLessThan(WAIT_MS + MARGIN_MS);
    expect(again.payload).toEqual(first.payload);
  });

  it('answers customer and product commands from their streams when those read models are paused', async () => {
    s.app.services.commandReadWaitMs = WAIT_MS;
    await s.app.projections.pause('customers');
    await s.app.projections.pause('catalog');

    const email = `paused-${randomUUID().slice(0, 8)}@example.org`;
    const register = {
      commandId: randomUUID(),
      name: 'Paula',
      email,
      phone: '+49 7',
    };
    const customer = await send(
      'registerCustomer',
      register,
      'cursor version caughtUp customer { id name email phone }',
    );
    expect(customer.ms).toBeLessThan(WAIT_MS + MARGIN_MS);
    expect(customer.payload).toMatchObject({
      version: 1,
      caughtUp: false,
      customer: { name: 'Paula', email, phone: '+49 7' },
    });
    const customerId: string = customer.payload.customer.id;
    const replayed = await send(
      'registerCustomer',
      register,
      'cursor version caughtUp customer { id name email phone }',
    );
    expect(replayed.payload).toEqual(customer.payload);
    const newEmail = `moved-${randomUUID().slice(0, 8)}@example.org`;
    const changed = await mutate(
      'changeCustomerEmail',
      { customerId, email: newEmail },
      'version caughtUp customer { id email }',
    );
    expect(changed).toMatchObject({
      version: 2,
      caughtUp: false,
      customer: { id: customerId, email: newEmail },
    });

    const product = await send(
      'registerProduct',
      {
        commandId: randomUUID(),
        name: 'Paused',
        imageUrl: 'https://img.example/p.png',
        price: { amount: 70, currency: 'EUR' },
        initialStock: 3,
      },
      'version caughtUp product { id name imageUrl price { amount currency } availableStock }',
    );
    expect(product.ms).toBeLessThan(WAIT_MS + MARGIN_MS);
    expect(product.payload).toMatchObject({
      version: 1,
      caughtUp: false,
      product: {
        name: 'Paused',
        price: { amount: 70, currency: 'EUR' },
        availableStock: 3,
      },
    });
    const productId: string = product.payload.product.id;
    const restocked = await mutate(
      'restockProduct',
      { productId, quantity: 4 },
      'version caughtUp product { availableStock price { amount } }',
    );
    expect(restocked).toEqual({
      __typename: 'RestockProductSuccess',
      version: 2,
      caughtUp: false,
      product: { availableStock: 7, price: { amount: 70 } },
    });

    await s.app.projections.resume('customers');
    await s.app.projections.resume('catalog');
    s.app.services.commandReadWaitMs = 5_000;
    const caughtUp = await send(
      'registerCustomer',
      register,
      'cursor version caughtUp customer { id name email phone }',
    );
    expect(caughtUp.payload).toEqual({
      ...customer.payload,
      caughtUp: true,
      customer: { ...customer.payload.customer, email: newEmail },
    });
  });
});
