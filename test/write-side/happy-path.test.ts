import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeCursor } from '../../src/eventstore/cursor.js';
import { engine } from '../support/db.js';
import {
  ADDRESS,
  customerHeaders,
  eventsOfCommand,
  eventsOfStream,
  expectCursorOfLastEvent,
  expectCursorsIncreasing,
  newCustomer,
  newOrder,
  newProduct,
  ok,
  OTHER_ADDRESS,
  payFully,
  useWorld,
} from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe(`write side happy path through HTTP on ${engine}`, () => {
  const w = useWorld();

  it('registers customers (by admin, and a customer itself) and changes an email', async () => {
    const id = randomUUID();
    const commandId = randomUUID();
    const reg = await ok(w, 'registerCustomer', {
      commandId,
      id,
      name: 'Ann Example',
      email: `Ann.${id}@Example.org`,
      phone: '+49 (30) 123-456',
    });
    expect(reg.version).toBe(1);
    expect(reg.customer).toEqual({
      id,
      name: 'Ann Example',
      email: `Ann.${id}@Example.org`,
      phone: '+49 (30) 123-456',
    });
    // The customer's event and its email reservation, in one transaction.
    const events = await expectCursorOfLastEvent(w, commandId, reg.cursor);
    expect(events.map((e) => [e.stream_type, e.event_type, e.stream_version])).toEqual([
      ['customer', 'CustomerRegistered', 1],
      ['customer-email', 'EmailClaimed', 1],
    ]);
    expect(new Set(events.map((e) => e.transaction_id)).size).toBe(1);

    // A customer token registers its own id when none is given.
    const selfId = randomUUID();
    const self = await ok(
      w,
      'registerCustomer',
      {
        commandId: randomUUID(),
        name: 'Bea',
        email: `bea-${selfId}@example.org`,
        phone: '0301234',
      },
      await customerHeaders(w, selfId),
    );
    expect(self.customer.id).toBe(selfId);

    // Admin without an id: the server picks one.
    const picked = await ok(w, 'registerCustomer', {
      commandId: randomUUID(),
      name: 'Cy',
      email: `cy-${selfId}@example.org`,
      phone: '0301234',
    });
    expect(picked.customer.id).toMatch(UUID);
    expect(picked.customer.id).not.toBe(selfId);

    // Email change: claims the new address, releases the old one.
    const changeId = randomUUID();
    const change = await ok(w, 'changeCustomerEmail', {
      commandId: changeId,
      customerId: id,
      email: `ann.new.${id}@example.org`,
    });
    expect(change.version).toBe(2);
    expect(change.customer.email).toBe(`ann.new.${id}@example.org`);
    expectCursorsIncreasing([reg.cursor, change.cursor]);
    const changed = await expectCursorOfLastEvent(w, changeId, change.cursor);
    expect(changed.map((e) => e.event_type)).toEqual([
      'CustomerEmailChanged',
      'EmailClaimed',
      'EmailReleased',
    ]);
    // The old address is free again (case-insensitively the same mailbox).
    const again = await ok(w, 'registerCustomer', {
      commandId: randomUUID(),
      id: randomUUID(),
      name: 'Dee',
      email: `ann.${id}@example.org`,
      phone: '0301234',
    });
    expect(again.version).toBe(1);
  });

  it('registers, restocks and reprices a product; orders capture the price of their time', async () => {
    const id = randomUUID();
    const reg = await ok(w, 'registerProduct', {
      commandId: randomUUID(),
      id,
      name: 'Desk lamp',
      imageUrl: 'https://img.example.org/lamp.png',
      price: { amount: 1999, currency: 'EUR' },
      initialStock: 5,
    });
    expect(reg).toMatchObject({
      version: 1,
      product: {
        id,
        name: 'Desk lamp',
        imageUrl: 'https://img.example.org/lamp.png',
        price: { amount: 1999, currency: 'EUR' },
        availableStock: 5,
      },
    });
    const restock = await ok(
      w,
      'restockProduct',
      { commandId: randomUUID(), productId: id, quantity: 7 },
      w.service,
    );
    expect(restock).toMatchObject({ version: 2, product: { availableStock: 12 } });
    const customer = await newCustomer(w);
    const before = await newOrder(w, customer, [{ productId: id, quantity: 2 }]);
    const price = await ok(w, 'changeProductPrice', {
      commandId: randomUUID(),
      productId: id,
      price: { amount: 2499, currency: 'EUR' },
    });
    expect(price).toMatchObject({ version: 3, product: { price: { amount: 2499 } } });
    expectCursorsIncreasing([reg.cursor, restock.cursor, price.cursor]);
    const after = await newOrder(w, customer, [{ productId: id, quantity: 2 }]);
    expect(before.items[0].unitPrice).toEqual({ amount: 1999, currency: 'EUR' });
    expect(before.total).toEqual({ amount: 3998, currency: 'EUR' });
    expect(after.items[0].unitPrice).toEqual({ amount: 2499, currency: 'EUR' });
    expect(after.total).toEqual({ amount: 4998, currency: 'EUR' });
  });

  it('takes an order through its whole life with consecutive versions and rising cursors', async () => {
    const customer = await newCustomer(w);
    const [p1, p2, p3] = [
      await newProduct(w, { amount: 1000, currency: 'EUR' }),
      await newProduct(w, { amount: 250, currency: 'EUR' }),
      await newProduct(w, { amount: 3333, currency: 'EUR' }),
    ];
    const me = customer.headers;
    const service = await w.s.auth({ role: 'service', userId: 'svc-shipping' });
    const correlation = `corr-${randomUUID()}`;
    const headers = { ...me, 'x-correlation-id': correlation };

    const orderId = randomUUID();
    const steps: {
      mutation: string;
      commandId: string;
      payload: any;
      user: string;
      role: string;
    }[] = [];
    const step = async (
      mutation: Parameters<typeof ok>[1],
      input: Record<string, unknown>,
      h = headers,
      user = customer.userId,
      role = 'customer',
    ) => {
      const commandId = randomUUID();
      const payload = await ok(w, mutation, { commandId, ...input }, h);
      steps.push({ mutation, commandId, payload, user, role });
      return payload;
    };

    const created = await step('createOrder', {
      id: orderId,
      customerId: customer.id,
      items: [
        { productId: p1, quantity: 2 },
        { productId: p2, quantity: 4 },
      ],
      shippingAddress: ADDRESS,
    });
    expect(created.order).toMatchObject({
      id: orderId,
      status: 'PENDING',
      version: 1,
      customer: { id: customer.id, email: customer.email },
      itemCount: 6,
      total: { amount: 3000, currency: 'EUR' },
      shippingAddress: { ...ADDRESS, line2: null },
      payment: null,
      shipment: null,
    });
    expect(created.order.items).toEqual([
      {
        productId: p1,
        productName: `Product ${p1.slice(0, 8)}`,
        quantity: 2,
        unitPrice: { amount: 1000, currency: 'EUR' },
        totalPrice: { amount: 2000, currency: 'EUR' },
        product: { id: p1 },
      },
      {
        productId: p2,
        productName: `Product ${p2.slice(0, 8)}`,
        quantity: 4,
        unitPrice: { amount: 250, currency: 'EUR' },
        totalPrice: { amount: 1000, currency: 'EUR' },
        product: { id: p2 },
      },
    ]);

    const added = await step('addOrderItem', { orderId, productId: p3, quantity: 1 });
    expect(added.order).toMatchObject({ version: 2, itemCount: 7, total: { amount: 6333 } });
    expect(added.order.items.map((i: any) => i.productId)).toEqual([p1, p2, p3]);

    const removed = await step('removeOrderItem', { orderId, productId: p2, expectedVersion: 2 });
    expect(removed.order).toMatchObject({ version: 3, itemCount: 3, total: { amount: 5333 } });
    expect(removed.order.items.map((i: any) => i.productId)).toEqual([p1, p3]);

    const moved = await step('changeShippingAddress', { orderId, shippingAddress: OTHER_ADDRESS });
    expect(moved.order).toMatchObject({ version: 4, shippingAddress: OTHER_ADDRESS });

    const paid = await step('payOrder', {
      orderId,
      paymentId: 'psp-123',
      amount: { amount: 5333, currency: 'EUR' },
    });
    expect(paid.order).toMatchObject({
      version: 5,
      status: 'PAID',
      payment: { paymentId: 'psp-123', status: 'PAID', amount: { amount: 5333, currency: 'EUR' } },
      shipment: null,
    });

    const shipped = await step(
      'shipOrder',
      { orderId, carrier: 'DHL', trackingNumber: 'JJD000390007' },
      { ...service, 'x-correlation-id': correlation },
      'svc-shipping',
      'service',
    );
    expect(shipped.order).toMatchObject({
      version: 6,
      status: 'SHIPPED',
      payment: { status: 'PAID' },
      shipment: { carrier: 'DHL', trackingNumber: 'JJD000390007', status: 'SHIPPED' },
    });

    // Versions consecutive; cursors strictly increasing in the order they were returned.
    expect(steps.map((s) => s.payload.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.map((s) => s.payload.order.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expectCursorsIncreasing(steps.map((s) => s.payload.cursor));

    // The stored stream: one event per step, each one's metadata naming who, why and how.
    const stream = await eventsOfStream(w, `order-${orderId}`);
    expect(stream.map((e) => [e.stream_version, e.event_type])).toEqual([
      [1, 'OrderCreated'],
      [2, 'OrderItemAdded'],
      [3, 'OrderItemRemoved'],
      [4, 'OrderShippingAddressChanged'],
      [5, 'OrderPaid'],
      [6, 'OrderShipped'],
    ]);
    for (const [i, s] of steps.entries()) {
      const e = stream[i]!;
      expect(e.metadata).toMatchObject({
        userId: s.user,
        role: s.role,
        commandId: s.commandId,
        correlationId: correlation,
        causationId: s.commandId,
        mutation: s.mutation,
      });
      expect(e.correlation_id).toBe(correlation);
      expect(e.causation_id).toBe(s.commandId);
      // The returned cursor is this very event's position, and decodes to it.
      expect(decodeCursor(s.payload.cursor)).toEqual({
        transactionId: e.transaction_id,
        globalPosition: e.global_position,
      });
    }
    expect(stream[0]!.data).toMatchObject({ orderId, customerId: customer.id });
    expect(stream[4]!.data).toMatchObject({ paymentId: 'psp-123', amount: { amount: 5333 } });
  });

  it('cancels a pending order (nothing to refund) and a paid one (refunded)', async () => {
    const customer = await newCustomer(w);
    const product = await newProduct(w, { amount: 1500, currency: 'USD' });

    const pending = await newOrder(w, customer, [{ productId: product, quantity: 1 }]);
    const cancelPendingId = randomUUID();
    const cancelled = await ok(
      w,
      'cancelOrder',
      { commandId: cancelPendingId, orderId: pending.id, reason: 'Changed my mind' },
      customer.headers,
    );
    expect(cancelled).toMatchObject({ version: 2, order: { status: 'CANCELLED', payment: null } });
    const pendingEvents = await expectCursorOfLastEvent(w, cancelPendingId, cancelled.cursor);
    expect(pendingEvents.map((e) => e.event_type)).toEqual(['OrderCancelled']);
    expect(pendingEvents[0]!.data).toMatchObject({ refunded: false, reason: 'Changed my mind' });

    const order = await newOrder(w, customer, [{ productId: product, quantity: 3 }]);
    const pay = await payFully(w, order, customer.headers);
    expect(pay).toMatchObject({
      version: 2,
      order: { status: 'PAID', payment: { status: 'PAID' } },
    });
    const cancelPaidId = randomUUID();
    const refunded = await ok(w, 'cancelOrder', {
      commandId: cancelPaidId,
      orderId: order.id,
      reason: 'Out of stock\nat the warehouse',
    });
    // Two events, one command: the refund, then the cancellation.
    expect(refunded).toMatchObject({
      version: 4,
      order: {
        status: 'CANCELLED',
        version: 4,
        payment: { status: 'REFUNDED', amount: { amount: 4500, currency: 'USD' } },
      },
    });
    expectCursorsIncreasing([pay.cursor, refunded.cursor]);
    const events = await expectCursorOfLastEvent(w, cancelPaidId, refunded.cursor);
    expect(events.map((e) => [e.event_type, e.stream_version])).toEqual([
      ['OrderPaymentRefunded', 3],
      ['OrderCancelled', 4],
    ]);
    expect(new Set(events.map((e) => e.transaction_id)).size).toBe(1);
    for (const e of events) {
      expect(e.metadata).toMatchObject({
        userId: 'admin-1',
        role: 'admin',
        commandId: cancelPaidId,
        causationId: cancelPaidId,
        mutation: 'cancelOrder',
      });
    }
  });

  it('makes up a correlation id when the header is missing or unusable', async () => {
    const customer = await newCustomer(w);
    const product = await newProduct(w);
    const ids: string[] = [];
    for (const header of [undefined, 'has spaces in it', 'x'.repeat(129), 'ok:id.1-2_3']) {
      const commandId = randomUUID();
      await ok(
        w,
        'createOrder',
        {
          commandId,
          customerId: customer.id,
          items: [{ productId: product, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        header === undefined
          ? customer.headers
          : { ...customer.headers, 'x-correlation-id': header },
      );
      const [e] = await eventsOfCommand(w, commandId);
      ids.push(e!.correlation_id!);
      expect(e!.metadata.correlationId).toBe(e!.correlation_id);
    }
    expect(ids[0]).toMatch(UUID);
    expect(ids[1]).toMatch(UUID);
    expect(ids[2]).toMatch(UUID);
    expect(ids[3]).toBe('ok:id.1-2_3');
    expect(new Set(ids).size).toBe(4);
  });
});
