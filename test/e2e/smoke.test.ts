import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';

describe(`write side smoke on ${engine}`, () => {
  const { s } = useTestApp();

  it('registers, orders, pays and ships', async () => {
    const admin = await s.auth({ role: 'admin' });
    const c = await s.graphql<any>(
      `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on RegisterCustomerSuccess { cursor version customer { id email } } ... on Error { code message } } }`,
      {
        i: { commandId: randomUUID(), name: 'Ann', email: 'ann@example.org', phone: '+49 30 1234' },
      },
      admin,
    );
    expect(c.body.errors).toBeUndefined();
    expect(c.body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
    const customerId = c.body.data.registerCustomer.customer.id;
    const p = await s.graphql<any>(
      `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on RegisterProductSuccess { product { id availableStock price { amount currency } } } ... on Error { code message } } }`,
      {
        i: {
          commandId: randomUUID(),
          name: 'Mug',
          imageUrl: 'https://img.example/mug.png',
          price: { amount: 1999, currency: 'EUR' },
          initialStock: 5,
        },
      },
      admin,
    );
    expect(p.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
    const productId = p.body.data.registerProduct.product.id;
    const customer = await s.auth({ role: 'customer', customerId });
    const o = await s.graphql<any>(
      `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { version order { id status total { amount } customer { email } items { productName totalPrice { amount } product { name } } } } ... on Error { code message } } }`,
      {
        i: {
          commandId: randomUUID(),
          customerId,
          items: [{ productId, quantity: 3 }],
          shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      customer,
    );
    expect(o.body.errors).toBeUndefined();
    expect(o.body.data.createOrder).toMatchObject({
      __typename: 'CreateOrderSuccess',
      version: 1,
      order: { status: 'PENDING', total: { amount: 5997 } },
    });
    const orderId = o.body.data.createOrder.order.id;
    const pay = await s.graphql<any>(
      `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on PayOrderSuccess { order { status payment { amount { amount } } } } ... on Error { code message } } }`,
      {
        i: {
          commandId: randomUUID(),
          orderId,
          paymentId: 'pay-1',
          amount: { amount: 5997, currency: 'EUR' },
        },
      },
      customer,
    );
    expect(pay.body.data.payOrder).toMatchObject({
      __typename: 'PayOrderSuccess',
      order: { status: 'PAID' },
    });
    const shipByCustomer = await s.graphql<any>(
      `mutation($i: ShipOrderInput!) { shipOrder(input: $i) { __typename ... on Error { code message } } }`,
      { i: { commandId: randomUUID(), orderId, carrier: 'DHL', trackingNumber: 'T1' } },
      customer,
    );
    expect(shipByCustomer.body.data.shipOrder.__typename).toBe('ForbiddenError');
    const ship = await s.graphql<any>(
      `mutation($i: ShipOrderInput!) { shipOrder(input: $i) { __typename ... on ShipOrderSuccess { order { status shipment { carrier } } } ... on Error { code message } } }`,
      { i: { commandId: randomUUID(), orderId, carrier: 'DHL', trackingNumber: 'T1' } },
      admin,
    );
    expect(ship.body.data.shipOrder).toMatchObject({
      __typename: 'ShipOrderSuccess',
      order: { status: 'SHIPPED' },
    });
  });
});
