import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventStore } from '../../src/eventstore/store.js';
import { estimateDelivery, ORDER_STREAM_TYPE, orderStreamId } from '../../src/orders/index.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { seedOrder, type Seeded } from '../support/seed.js';
import { eventually } from '../support/wait.js';

/*
 * The parts of an order the specification has beyond lines and a shipping address, through
 * GraphQL: the stock check at ordering (and the race it cannot prevent), the billing
 * address, payment and shipping methods, the delivery estimate, the product image, and
 * orders stored before these existed.
 */

const ORDER_FIELDS = `id status shippingMethod estimatedDelivery
  shippingAddress { line1 } billingAddress { line1 line2 city postalCode country }
  items { productName productImageUrl quantity }
  payment { status method transactionId paidAt amount { amount currency } }
  shipment { carrier status }
  timeline { type description at }`;
const PAYLOAD = (success: string, more = '') =>
  `{ __typename ... on ${success} { cursor order { ${ORDER_FIELDS} } } ${more}
     ... on ValidationError { code fields { path message } }
     ... on Error { code message } }`;
const SHORTAGE = `... on InsufficientStock { code message items { productId productName requested available } }`;
const CREATE = `mutation($i: CreateOrderInput!) { createOrder(input: $i) ${PAYLOAD('CreateOrderSuccess', SHORTAGE)} }`;
const ADD_ITEM = `mutation($i: AddOrderItemInput!) { addOrderItem(input: $i) ${PAYLOAD('AddOrderItemSuccess', SHORTAGE)} }`;
const CHANGE_BILLING = `mutation($i: ChangeBillingAddressInput!) { changeBillingAddress(input: $i) ${PAYLOAD('ChangeBillingAddressSuccess')} }`;
const PAY = `mutation($i: PayOrderInput!) { payOrder(input: $i) ${PAYLOAD('PayOrderSuccess')} }`;
const SHIP = `mutation($i: ShipOrderInput!) { shipOrder(input: $i) ${PAYLOAD('ShipOrderSuccess')} }`;
const ORDER = `query($id: ID!, $after: Cursor) { order(id: $id, consistentWith: $after) { ${ORDER_FIELDS} } }`;
const REGISTER_PRODUCT = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on RegisterProductSuccess { product { id } } } }`;

const HOME = { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' };
const OFFICE = {
  line1: 'Friedrichstraße 100',
  line2: 'Accounts payable',
  city: 'Berlin',
  postalCode: '10117',
  country: 'DE',
};

describe(`the whole order on ${engine}`, () => {
  const { s } = useTestApp();

  const create = async (seeded: Seeded, over: Record<string, unknown> = {}) =>
    (
      await s.graphql<any>(
        CREATE,
        {
          i: {
            commandId: randomUUID(),
            customerId: seeded.customerId,
            items: [{ productId: seeded.productId, quantity: 2 }],
            shippingAddress: HOME,
            ...over,
          },
        },
        seeded.customer,
      )
    ).body.data.createOrder;
  const pay = async (seeded: Seeded, orderId: string, over: Record<string, unknown> = {}) =>
    (
      await s.graphql<any>(
        PAY,
        {
          i: {
            commandId: randomUUID(),
            orderId,
            paymentId: `pay-${randomUUID()}`,
            amount: { amount: 2500, currency: 'EUR' },
            ...over,
          },
        },
        seeded.customer,
      )
    ).body.data.payOrder;
  const order = async (seeded: Seeded, id: string, after?: string) =>
    (await s.graphql<any>(ORDER, { id, after }, seeded.admin)).body.data.order;
  const orderEvents = async (orderId: string) =>
    (await s.app.store.readStream(orderStreamId(orderId))).map((e) => e.type);

  it('refuses an order beyond the stock on hand with InsufficientStock, writing nothing', async () => {
    const seeded = await seedOrder(s, 20);
    const id = randomUUID();
    const head = (await s.app.store.head())?.cursor;
    const refused = await create(seeded, {
      id,
      items: [{ productId: seeded.productId, quantity: 500 }],
    });
    expect(refused).toEqual({
      __typename: 'InsufficientStock',
      code: 'INSUFFICIENT_STOCK',
      message: 'Insufficient stock for items: Mug (requested 500, available 20)',
      items: [{ productId: seeded.productId, productName: 'Mug', requested: 500, available: 20 }],
    });
    // (The seeded order of 2 is not paid: stock is reserved at payment, so all 20 count.)
    expect((await s.app.store.head())?.cursor).toBe(head);
    expect(await orderEvents(id)).toEqual([]);
  });

  it('counts only what paid orders reserved, and checks added items too', async () => {
    const seeded = await seedOrder(s, 5);
    // The seeded order (2 units) is not paid yet: all 5 are available.
    const first = await create(seeded, { items: [{ productId: seeded.productId, quantity: 5 }] });
    expect(first.__typename).toBe('CreateOrderSuccess');
    await pay(seeded, seeded.orderId, { amount: seeded.total });
    await eventually('the seeded order’s reservation', async () => {
      const r = await create(seeded, { items: [{ productId: seeded.productId, quantity: 4 }] });
      return r.__typename === 'InsufficientStock' ? r : undefined;
    });
    const added = await s.graphql<any>(
      ADD_ITEM,
      {
        i: {
          commandId: randomUUID(),
          orderId: first.order.id,
          productId: seeded.productId,
          quantity: 1,
        },
      },
      seeded.customer,
    );
    // Already in the order: that rule comes before the stock.
    expect(added.body.data.addOrderItem.code).toBe('ITEM_ALREADY_IN_ORDER');
    const other = (
      await s.graphql<any>(
        REGISTER_PRODUCT,
        {
          i: {
            commandId: randomUUID(),
            name: 'Rare teapot',
            imageUrl: 'https://img.example/teapot.png',
            price: { amount: 9900, currency: 'EUR' },
            initialStock: 1,
          },
        },
        seeded.admin,
      )
    ).body.data.registerProduct.product.id;
    const tooMany = await s.graphql<any>(
      ADD_ITEM,
      { i: { commandId: randomUUID(), orderId: first.order.id, productId: other, quantity: 2 } },
      seeded.customer,
    );
    expect(tooMany.body.data.addOrderItem).toMatchObject({
      __typename: 'InsufficientStock',
      items: [{ productId: other, productName: 'Rare teapot', requested: 2, available: 1 }],
    });
    expect(await orderEvents(first.order.id)).toEqual(['OrderCreated']);
  });

  it('lets two orders pass the check for the same units; the second paid is refunded and cancelled', async () => {
    const seeded = await seedOrder(s, 3); // a PENDING order of 2
    const rival = await create(seeded, { items: [{ productId: seeded.productId, quantity: 3 }] });
    expect(rival.__typename).toBe('CreateOrderSuccess'); // 3 available: nothing is paid yet
    expect(
      (await pay(seeded, rival.order.id, { amount: { amount: 3750, currency: 'EUR' } })).__typename,
    ).toBe('PayOrderSuccess');
    const loser = await pay(seeded, seeded.orderId, { amount: seeded.total });
    expect(loser.__typename).toBe('PayOrderSuccess');
    const cancelled = await eventually('the loser refunded and cancelled', async () => {
      const o = await order(seeded, seeded.orderId);
      return o?.status === 'CANCELLED' ? o : undefined;
    });
    expect(cancelled.payment).toMatchObject({ status: 'REFUNDED' });
    expect(cancelled.estimatedDelivery).toBeNull();
    const winner = await eventually('the winner ready', async () => {
      const o = await order(seeded, rival.order.id);
      return o?.timeline.some((t: any) => t.type === 'OrderReadyToShip') ? o : undefined;
    });
    expect(winner.status).toBe('PAID');
  });

  it('keeps the billing address, shipping and payment methods, and estimates delivery at payment', async () => {
    const seeded = await seedOrder(s, 100);
    const created = await create(seeded, { billingAddress: OFFICE, shippingMethod: 'EXPRESS' });
    expect(created.order).toMatchObject({
      status: 'PENDING',
      shippingMethod: 'EXPRESS',
      estimatedDelivery: null,
      billingAddress: OFFICE,
      items: [{ productName: 'Mug', productImageUrl: 'https://img.example/mug.png', quantity: 2 }],
      payment: null,
    });
    const plain = await order(seeded, seeded.orderId);
    expect(plain).toMatchObject({
      shippingMethod: 'STANDARD',
      billingAddress: { ...HOME, line2: null },
    });

    const moved = (
      await s.graphql<any>(
        CHANGE_BILLING,
        { i: { commandId: randomUUID(), orderId: seeded.orderId, billingAddress: OFFICE } },
        seeded.customer,
      )
    ).body.data.changeBillingAddress;
    expect(moved.order.billingAddress).toEqual(OFFICE);

    const paid = await pay(seeded, created.order.id, {
      method: 'BANK_TRANSFER',
      transactionId: 'TX-2026-0001',
    });
    expect(paid.__typename).toBe('PayOrderSuccess');
    const { payment, estimatedDelivery, timeline } = paid.order;
    expect(payment).toMatchObject({
      status: 'PAID',
      method: 'BANK_TRANSFER',
      transactionId: 'TX-2026-0001',
      amount: { amount: 2500, currency: 'EUR' },
    });
    expect(estimatedDelivery).toBe(estimateDelivery('EXPRESS', payment.paidAt));
    expect(timeline.find((t: any) => t.type === 'OrderPaid').description).toMatch(
      new RegExp(
        `by bank transfer .*transaction TX-2026-0001\\); estimated delivery ${estimatedDelivery}$`,
      ),
    );

    // Paid: the billing address is history, the default method is CARD.
    const late = (
      await s.graphql<any>(
        CHANGE_BILLING,
        { i: { commandId: randomUUID(), orderId: created.order.id, billingAddress: HOME } },
        seeded.customer,
      )
    ).body.data.changeBillingAddress;
    expect(late).toMatchObject({ __typename: 'BusinessRuleViolation', code: 'ORDER_NOT_PENDING' });
    const byCard = await pay(seeded, seeded.orderId, { amount: seeded.total });
    expect(byCard.order.payment).toMatchObject({ method: 'CARD', transactionId: null });
    expect(byCard.order.estimatedDelivery).toBe(
      estimateDelivery('STANDARD', byCard.order.payment.paidAt),
    );
  });

  it('takes the carrier’s estimate at dispatch, and refuses a malformed or past one', async () => {
    const seeded = await seedOrder(s, 100);
    const paid = await pay(seeded, seeded.orderId, { amount: seeded.total });
    await eventually('the order ready to ship', async () => {
      const o = await order(seeded, seeded.orderId, paid.cursor);
      return o.timeline.some((t: any) => t.type === 'OrderReadyToShip') ? o : undefined;
    });
    const ship = (estimatedDelivery: unknown) =>
      s.graphql<any>(
        SHIP,
        {
          i: {
            commandId: randomUUID(),
            orderId: seeded.orderId,
            carrier: 'DHL',
            trackingNumber: 'JD0001',
            estimatedDelivery,
          },
        },
        seeded.admin,
      );
    const malformed = await ship('31/12/2099');
    expect(malformed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const past = (await ship('2020-01-01')).body.data.shipOrder;
    expect(past).toMatchObject({
      __typename: 'ValidationError',
      fields: [{ path: 'estimatedDelivery' }],
    });
    const shipped = (await ship('2099-12-31')).body.data.shipOrder;
    expect(shipped.order).toMatchObject({ status: 'SHIPPED', estimatedDelivery: '2099-12-31' });
    expect(shipped.order.timeline.at(-1)?.description ?? '').toMatch(
      /estimated delivery 2099-12-31/,
    );
  });

  it('reads orders stored before these fields existed with their defaults', async () => {
    const seeded = await seedOrder(s, 100);
    const orderId = randomUUID();
    // A store without the app's upcasters appends as the old code did: schema version 1.
    const old = new EventStore(s.app.db);
    const created = {
      orderId,
      customerId: seeded.customerId,
      items: [
        {
          productId: seeded.productId,
          productName: 'Mug',
          imageUrl: 'https://img.example/mug.png',
          quantity: 1,
          unitPrice: { amount: 1250, currency: 'EUR' },
        },
      ],
      shippingAddress: HOME,
      total: { amount: 1250, currency: 'EUR' },
      createdAt: '2025-03-01T10:00:00.000Z',
    };
    const paidAt = '2025-03-07T16:00:00.000Z'; // a Friday
    const r = await old.append(orderStreamId(orderId), ORDER_STREAM_TYPE, [
      { type: 'OrderCreated', data: created },
      {
        type: 'OrderPaid',
        data: { orderId, paymentId: 'pay-old', amount: created.total, paidAt },
      },
    ]);
    const o = await order(seeded, orderId, r.cursor);
    expect(o).toMatchObject({
      status: 'PAID',
      shippingMethod: 'STANDARD',
      billingAddress: { ...HOME, line2: null },
      // Five business days after Friday 7 March: Friday 14 March.
      estimatedDelivery: '2025-03-14',
      payment: { method: 'CARD', transactionId: null, paidAt },
    });
    // The write model reads them the same way.
    const history = await s.app.store.readStream(orderStreamId(orderId));
    expect(history.slice(0, 2).map((e) => e.data)).toEqual([
      { ...created, billingAddress: HOME, shippingMethod: 'STANDARD' },
      {
        orderId,
        paymentId: 'pay-old',
        amount: created.total,
        paidAt,
        method: 'CARD',
        transactionId: null,
        estimatedDelivery: '2025-03-14',
      },
    ]);
  });
});
