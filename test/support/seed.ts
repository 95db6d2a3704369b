import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';

// The order mutations select `orderNumber`, which only the read models hold: so each answers
// once they have applied it, and a test may read them right after without `consistentWith`.
const REGISTER_CUSTOMER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on RegisterCustomerSuccess { cursor customer { id } } ... on Error { code message } } }`;
const REGISTER_PRODUCT = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on RegisterProductSuccess { cursor product { id } } ... on Error { code message } } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { cursor version order { id total { amount currency } orderNumber } } ... on Error { code message } } }`;
export const PAY_ORDER = `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on PayOrderSuccess { cursor version order { orderNumber } } ... on Error { code message } } }`;
export const CANCEL_ORDER = `mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { __typename ... on CancelOrderSuccess { cursor version order { orderNumber } } ... on Error { code message } } }`;

function ok<T>(r: { body: { data?: any; errors?: unknown } }, field: string, typename: string): T {
  const v = r.body.data?.[field];
  if (!v || v.__typename !== typename)
    throw new Error(`${field} failed: ${JSON.stringify(r.body)}`);
  return v as T;
}

export interface Seeded {
  admin: { authorization: string };
  customer: { authorization: string };
  customerId: string;
  productId: string;
  orderId: string;
  total: { amount: number; currency: string };
}

/** A customer with one PENDING order of one product, made through the API. */
export async function seedOrder(s: TestApp, stock = 100): Promise<Seeded> {
  const admin = await s.auth({ role: 'admin' });
  const c = ok<any>(
    await s.graphql(
      REGISTER_CUSTOMER,
      {
        i: {
          commandId: randomUUID(),
          name: 'Ann',
          email: `ann-${randomUUID()}@example.org`,
          phone: '+49 30 1234',
        },
      },
      admin,
    ),
    'registerCustomer',
    'RegisterCustomerSuccess',
  );
  const p = ok<any>(
    await s.graphql(
      REGISTER_PRODUCT,
      {
        i: {
          commandId: randomUUID(),
          name: 'Mug',
          imageUrl: 'https://img.example/mug.png',
          price: { amount: 1250, currency: 'EUR' },
          initialStock: stock,
        },
      },
      admin,
    ),
    'registerProduct',
    'RegisterProductSuccess',
  );
  const customerId = c.customer.id as string;
  const customer = await s.auth({ role: 'customer', customerId });
  const o = ok<any>(
    await s.graphql(
      CREATE_ORDER,
      {
        i: {
          commandId: randomUUID(),
          customerId,
          items: [{ productId: p.product.id, quantity: 2 }],
          shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      customer,
    ),
    'createOrder',
    'CreateOrderSuccess',
  );
  return {
    admin,
    customer,
    customerId,
    productId: p.product.id,
    orderId: o.order.id,
    total: o.order.total,
  };
}

/**
 * Another order of the seeded customer for `quantity` units of the seeded product, paid at
 * once: its reservation comes first, so the seeded order, paid after it, may find the stock
 * short although it passed the check when it was placed.
 */
export async function rivalOrder(s: TestApp, seeded: Seeded, quantity: number): Promise<Seeded> {
  const o = ok<any>(
    await s.graphql(
      CREATE_ORDER,
      {
        i: {
          commandId: randomUUID(),
          customerId: seeded.customerId,
          items: [{ productId: seeded.productId, quantity }],
          shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
        },
      },
      seeded.customer,
    ),
    'createOrder',
    'CreateOrderSuccess',
  );
  const rival = { ...seeded, orderId: o.order.id as string, total: o.order.total };
  await payOrder(s, rival);
  return rival;
}

/** Pays (then, if asked, cancels and refunds) an order; returns the success payloads. */
export async function payOrder(
  s: TestApp,
  seeded: Seeded,
  headers: Record<string, string> = seeded.customer,
) {
  return ok<{ cursor: string; version: number }>(
    await s.graphql(
      PAY_ORDER,
      {
        i: {
          commandId: randomUUID(),
          orderId: seeded.orderId,
          paymentId: `pay-${randomUUID()}`,
          amount: seeded.total,
        },
      },
      headers,
    ),
    'payOrder',
    'PayOrderSuccess',
  );
}

export async function cancelOrder(
  s: TestApp,
  seeded: Seeded,
  headers: Record<string, string> = seeded.customer,
) {
  return ok<{ cursor: string; version: number }>(
    await s.graphql(
      CANCEL_ORDER,
      { i: { commandId: randomUUID(), orderId: seeded.orderId, reason: 'changed my mind' } },
      headers,
    ),
    'cancelOrder',
    'CancelOrderSuccess',
  );
}
