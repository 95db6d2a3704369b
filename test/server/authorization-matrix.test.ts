import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSchema } from '../../src/server/schema.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { sse, wsClient, type WsSession } from '../support/live.js';
import { seedOrder, type Seeded } from '../support/seed.js';

/*
 * Who may do what, as one table: every query, mutation and subscription of the schema has a
 * row (a new operation without one fails the first test), and each row is tried by every
 * role over every transport (HTTP, graphql-ws, SSE). A customer's rows are aimed at the
 * data of customer A, so customer B shows what a stranger gets. Refused means an
 * UNAUTHENTICATED or FORBIDDEN error, a ForbiddenError payload, or, where the contract
 * says so, not seeing the data (`order` answers null, `orderHistory` and `orders` read as
 * empty). Allowed means none of that: a business error (an order no longer pending) still
 * counts as allowed, since authorization came first.
 */

type Access = 'anyone' | 'authenticated' | 'own' | 'staff' | 'admin';
type Role = 'anonymous' | 'customer' | 'stranger' | 'service' | 'admin';
const ROLES: Role[] = ['anonymous', 'customer', 'stranger', 'service', 'admin'];

const allowedFor: Record<Access, readonly Role[]> = {
  anyone: ROLES,
  authenticated: ['customer', 'stranger', 'service', 'admin'],
  own: ['customer', 'service', 'admin'],
  staff: ['service', 'admin'],
  admin: ['admin'],
};

interface Fixture {
  seeded: Seeded;
  firstCursor: string;
}

interface Row {
  access: Access;
  /** The operation, aimed at customer A's data. */
  op: (f: Fixture) => { query: string; variables?: Record<string, unknown> };
  /** For rows whose refusal is not seeing the data: whether the answer shows it. */
  sees?: (value: any) => boolean;
}

const cmd = () => randomUUID();
const ADDRESS = { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' };
const PAYLOAD = '{ __typename }';

const ROWS: Record<string, Row> = {
  'Query.serverInfo': { access: 'anyone', op: () => ({ query: '{ serverInfo { engine } }' }) },
  'Query.products': {
    access: 'authenticated',
    op: () => ({ query: '{ products { totalCount } }' }),
  },
  'Query.product': {
    access: 'authenticated',
    op: (f) => ({ query: `{ product(id: "${f.seeded.productId}") { id } }` }),
    sees: (v) => v !== null,
  },
  'Query.customer': {
    access: 'own',
    op: (f) => ({ query: `{ customer(id: "${f.seeded.customerId}") { id } }` }),
    sees: (v) => v !== null,
  },
  'Query.order': {
    access: 'own',
    op: (f) => ({ query: `{ order(id: "${f.seeded.orderId}") { id } }` }),
    sees: (v) => v !== null,
  },
  'Query.orders': {
    access: 'own',
    op: (f) => ({
      query: `{ orders(filter: { customerId: "${f.seeded.customerId}" }) { totalCount } }`,
    }),
    sees: (v) => v?.totalCount > 0,
  },
  'Query.orderHistory': {
    access: 'own',
    op: (f) => ({
      query: `{ orderHistory(id: "${f.seeded.orderId}") { events { edges { cursor } } } }`,
    }),
    sees: (v) => v?.events?.edges?.length > 0,
  },
  'Query.orderStatistics': {
    access: 'own',
    op: (f) => ({
      query: `{ orderStatistics(customerId: "${f.seeded.customerId}") { orderCount } }`,
    }),
  },
  'Query.fulfillmentProcess': {
    access: 'staff',
    op: (f) => ({ query: `{ fulfillmentProcess(orderId: "${f.seeded.orderId}") { __typename } }` }),
  },
  'Query.events': {
    access: 'admin',
    op: () => ({ query: '{ events(first: 1) { edges { cursor } } }' }),
  },
  'Query.projections': { access: 'admin', op: () => ({ query: '{ projections { name } }' }) },

  'Mutation.registerCustomer': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          id: f.seeded.customerId,
          name: 'A',
          email: `a-${cmd()}@example.org`,
          phone: '030 1',
        },
      },
    }),
  },
  'Mutation.changeCustomerEmail': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: ChangeCustomerEmailInput!) { changeCustomerEmail(input: $i) ${PAYLOAD} }`,
      variables: {
        i: { commandId: cmd(), customerId: f.seeded.customerId, email: `a-${cmd()}@example.org` },
      },
    }),
  },
  'Mutation.createOrder': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: CreateOrderInput!) { createOrder(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          customerId: f.seeded.customerId,
          items: [{ productId: f.seeded.productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
      },
    }),
  },
  'Mutation.addOrderItem': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: AddOrderItemInput!) { addOrderItem(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          orderId: f.seeded.orderId,
          productId: f.seeded.productId,
          quantity: 1,
        },
      },
    }),
  },
  'Mutation.removeOrderItem': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: RemoveOrderItemInput!) { removeOrderItem(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), orderId: f.seeded.orderId, productId: randomUUID() } },
    }),
  },
  'Mutation.changeShippingAddress': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: ChangeShippingAddressInput!) { changeShippingAddress(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), orderId: f.seeded.orderId, shippingAddress: ADDRESS } },
    }),
  },
  'Mutation.changeBillingAddress': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: ChangeBillingAddressInput!) { changeBillingAddress(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), orderId: f.seeded.orderId, billingAddress: ADDRESS } },
    }),
  },
  'Mutation.payOrder': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: PayOrderInput!) { payOrder(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          orderId: f.seeded.orderId,
          paymentId: cmd(),
          amount: { amount: 1, currency: 'EUR' },
        },
      },
    }),
  },
  'Mutation.cancelOrder': {
    access: 'own',
    op: (f) => ({
      query: `mutation($i: CancelOrderInput!) { cancelOrder(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), orderId: f.seeded.orderId, reason: 'matrix' } },
    }),
  },
  'Mutation.registerProduct': {
    access: 'staff',
    op: () => ({
      query: `mutation($i: RegisterProductInput!) { registerProduct(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          name: 'Cup',
          imageUrl: 'https://img.example/cup.png',
          price: { amount: 100, currency: 'EUR' },
          initialStock: 1,
        },
      },
    }),
  },
  'Mutation.changeProductPrice': {
    access: 'staff',
    op: (f) => ({
      query: `mutation($i: ChangeProductPriceInput!) { changeProductPrice(input: $i) ${PAYLOAD} }`,
      variables: {
        i: {
          commandId: cmd(),
          productId: f.seeded.productId,
          price: { amount: 1300, currency: 'EUR' },
        },
      },
    }),
  },
  'Mutation.restockProduct': {
    access: 'staff',
    op: (f) => ({
      query: `mutation($i: RestockProductInput!) { restockProduct(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), productId: f.seeded.productId, quantity: 1 } },
    }),
  },
  'Mutation.shipOrder': {
    access: 'staff',
    op: (f) => ({
      query: `mutation($i: ShipOrderInput!) { shipOrder(input: $i) ${PAYLOAD} }`,
      variables: {
        i: { commandId: cmd(), orderId: f.seeded.orderId, carrier: 'DHL', trackingNumber: 'T1' },
      },
    }),
  },
  'Mutation.markShipmentDelivered': {
    access: 'staff',
    op: (f) => ({
      query: `mutation($i: MarkShipmentDeliveredInput!) { markShipmentDelivered(input: $i) ${PAYLOAD} }`,
      variables: { i: { commandId: cmd(), orderId: f.seeded.orderId } },
    }),
  },
  'Mutation.rebuildProjection': {
    access: 'admin',
    op: () => ({
      query: 'mutation { rebuildProjection(name: "no-such-projection") { __typename } }',
    }),
  },
  'Mutation.pauseProjection': {
    access: 'admin',
    op: () => ({
      query: 'mutation { pauseProjection(name: "no-such-projection") { __typename } }',
    }),
  },
  'Mutation.resumeProjection': {
    access: 'admin',
    op: () => ({
      query: 'mutation { resumeProjection(name: "no-such-projection") { __typename } }',
    }),
  },

  'Subscription.orderTimeline': {
    access: 'own',
    op: (f) => ({
      query: `subscription { orderTimeline(orderId: "${f.seeded.orderId}") { cursor } }`,
    }),
  },
  'Subscription.orderUpdates': {
    access: 'own',
    op: (f) => ({
      query: `subscription($a: Cursor) { orderUpdates(customerId: "${f.seeded.customerId}", after: $a) { cursor } }`,
      variables: { a: f.firstCursor },
    }),
  },
  'Subscription.events': {
    access: 'admin',
    op: (f) => ({
      query: 'subscription($a: Cursor) { events(after: $a) { cursor } }',
      variables: { a: f.firstCursor },
    }),
  },
};

const schema = getSchema();
const rootFields = (['Query', 'Mutation', 'Subscription'] as const).flatMap((root) =>
  Object.keys(
    (root === 'Query'
      ? schema.getQueryType()
      : root === 'Mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType())!.getFields(),
  ).map((name) => `${root}.${name}`),
);

/** The first result of an operation over graphql-ws (or its error), then unsubscribes. */
function wsFirst(session: WsSession, query: string, variables: Record<string, unknown>) {
  return new Promise<any>((resolve) => {
    const timer = setTimeout(() => {
      stop();
      resolve({ errors: [{ message: 'no answer within 5 s' }] });
    }, 5_000);
    const stop = session.client.subscribe(
      { query, variables },
      {
        next: (r) => {
          clearTimeout(timer);
          stop();
          resolve(r);
        },
        error: (e) => {
          clearTimeout(timer);
          resolve({ errors: Array.isArray(e) ? e : [e] });
        },
        complete: () => clearTimeout(timer),
      },
    );
  });
}

/** Allowed (true) or refused (false), from one answer of the operation's root field. */
function allowed(key: string, body: any): boolean {
  const field = key.split('.')[1]!;
  const codes = (body.errors ?? []).map((e: any) => e.extensions?.code);
  if (codes.includes('FORBIDDEN') || codes.includes('UNAUTHENTICATED')) return false;
  const value = body.data?.[field];
  if (value?.__typename === 'ForbiddenError') return false;
  const row = ROWS[key]!;
  if (row.sees && !row.sees(value)) return false;
  if (!body.data && codes.length === 0)
    throw new Error(`${key}: no answer: ${JSON.stringify(body)}`);
  return true;
}

describe(`the authorization matrix on ${engine}`, () => {
  const { s } = useTestApp();
  let f: Fixture;
  const tokens = {} as Record<Role, Record<string, string>>;
  const sockets = {} as Record<Exclude<Role, 'anonymous'>, WsSession>;

  beforeAll(async () => {
    const seeded = await seedOrder(s, 1_000);
    const first = await s.graphql<any>(
      '{ events(first: 1) { edges { cursor } } }',
      {},
      seeded.admin,
    );
    f = { seeded, firstCursor: first.body.data.events.edges[0].cursor };
    tokens.anonymous = {};
    tokens.customer = seeded.customer;
    tokens.stranger = await s.auth({ role: 'customer', customerId: randomUUID() });
    tokens.service = await s.auth({ role: 'service' });
    tokens.admin = seeded.admin;
    for (const role of ['customer', 'stranger', 'service', 'admin'] as const) {
      sockets[role] = wsClient(s.url, tokens[role].authorization);
    }
  });
  afterAll(async () => {
    for (const x of Object.values(sockets)) await x.dispose();
  });

  it('has a row for every query, mutation and subscription, and none for anything else', () => {
    expect(Object.keys(ROWS).sort()).toEqual([...rootFields].sort());
  });

  it('graphql-ws refuses a connection without a token', async () => {
    const ws = wsClient(s.url);
    try {
      expect((await ws.closed).code).toBe(4401);
    } finally {
      await ws.dispose();
    }
  });

  it('every role gets what its row says, over HTTP, SSE and graphql-ws', async () => {
    const wrong: string[] = [];
    for (const [key, row] of Object.entries(ROWS)) {
      const subscription = key.startsWith('Subscription.');
      for (const role of ROLES) {
        const expected = allowedFor[row.access].includes(role);
        const check = (transport: string, body: any) => {
          const got = allowed(key, body);
          if (got !== expected)
            wrong.push(
              `${key} as ${role} over ${transport}: ${got ? 'allowed' : 'refused'}, expected ${expected ? 'allowed' : 'refused'}: ${JSON.stringify(body).slice(0, 200)}`,
            );
        };
        if (!subscription) {
          const { query, variables } = row.op(f);
          check('HTTP', (await s.graphql<any>(query, variables ?? {}, tokens[role])).body);
        }
        {
          const { query, variables } = row.op(f);
          const [first] = await sse<any>(s.url, query, variables ?? {}, tokens[role], 1, 5_000);
          check('SSE', first ?? {});
        }
        if (role !== 'anonymous') {
          const { query, variables } = row.op(f);
          const body = await wsFirst(sockets[role], query, variables ?? {});
          check('graphql-ws', body);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
