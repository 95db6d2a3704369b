import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { engine } from '../support/db.js';
import {
  ADDRESS,
  OTHER_ADDRESS,
  call,
  customerHeaders,
  eventsOfCommand,
  newCustomer,
  newOrder,
  newProduct,
  ok,
  payFully,
  refused,
  successTypename,
  useWorld,
  writes,
  type Customer,
  type Headers,
  type MutationName,
  type World,
} from './support.js';

/**
 * Who may run which mutation. Customers act only for themselves; products and shipping are
 * for admin and service. No token, or a token that is expired or not ours: HTTP 401 with a
 * GraphQL error (UNAUTHENTICATED, TOKEN_EXPIRED), before any resolver runs.
 */
type Caller =
  | 'admin'
  | 'service'
  | 'customer A'
  | 'customer B'
  | 'no token'
  | 'expired token'
  | 'garbage token'
  | 'forged token'
  | 'wrong scheme';

const CALLERS: Caller[] = [
  'admin',
  'service',
  'customer A',
  'customer B',
  'no token',
  'expired token',
  'garbage token',
  'forged token',
  'wrong scheme',
];

/** `owner`: admin, service and the customer concerned; `staff`: admin and service only. */
type Rule = 'owner' | 'staff';

interface Cell {
  /** The customer the command concerns: "customer A" in the matrix. */
  owner: Customer;
  input: Record<string, unknown>;
}

interface Row {
  mutation: MutationName;
  rule: Rule;
  /** Fresh state for one cell, so every allowed cell can succeed. */
  prepare(w: World): Promise<Cell>;
}

async function orderOf(w: World, owner: Customer, items = 1) {
  const items_ = [];
  for (let i = 0; i < items; i++) items_.push({ productId: await newProduct(w), quantity: 1 });
  return newOrder(w, owner, items_);
}

const ROWS: Row[] = [
  {
    mutation: 'registerCustomer',
    rule: 'owner',
    async prepare(w) {
      // "Customer A" is a customer id not registered yet, with a token bound to it.
      const id = randomUUID();
      const owner: Customer = {
        id,
        email: `new-${id}@example.org`,
        userId: `user-${id}`,
        headers: await customerHeaders(w, id, `user-${id}`),
      };
      return {
        owner,
        input: { id, name: 'New', email: owner.email, phone: '0301234' },
      };
    },
  },
  {
    mutation: 'changeCustomerEmail',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      return { owner, input: { customerId: owner.id, email: `changed-${owner.id}@example.org` } };
    },
  },
  {
    mutation: 'registerProduct',
    rule: 'staff',
    async prepare(w) {
      return {
        owner: await newCustomer(w),
        input: {
          id: randomUUID(),
          name: 'Lamp',
          imageUrl: 'https://img.example.org/lamp.png',
          price: { amount: 100, currency: 'EUR' },
          initialStock: 1,
        },
      };
    },
  },
  {
    mutation: 'restockProduct',
    rule: 'staff',
    async prepare(w) {
      return {
        owner: await newCustomer(w),
        input: { productId: await newProduct(w), quantity: 5 },
      };
    },
  },
  {
    mutation: 'changeProductPrice',
    rule: 'staff',
    async prepare(w) {
      return {
        owner: await newCustomer(w),
        input: { productId: await newProduct(w), price: { amount: 4242, currency: 'EUR' } },
      };
    },
  },
  {
    mutation: 'createOrder',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      return {
        owner,
        input: {
          customerId: owner.id,
          items: [{ productId: await newProduct(w), quantity: 1 }],
          shippingAddress: ADDRESS,
        },
      };
    },
  },
  {
    mutation: 'addOrderItem',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner);
      return {
        owner,
        input: { orderId: order.id, productId: await newProduct(w), quantity: 1 },
      };
    },
  },
  {
    mutation: 'removeOrderItem',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner, 2);
      return { owner, input: { orderId: order.id, productId: order.items[1].productId } };
    },
  },
  {
    mutation: 'changeShippingAddress',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner);
      return { owner, input: { orderId: order.id, shippingAddress: OTHER_ADDRESS } };
    },
  },
  {
    mutation: 'payOrder',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner);
      return { owner, input: { orderId: order.id, paymentId: 'pay-1', amount: order.total } };
    },
  },
  {
    mutation: 'shipOrder',
    rule: 'staff',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner);
      await payFully(w, order);
      return { owner, input: { orderId: order.id, carrier: 'DHL', trackingNumber: 'T-1' } };
    },
  },
  {
    mutation: 'cancelOrder',
    rule: 'owner',
    async prepare(w) {
      const owner = await newCustomer(w);
      const order = await orderOf(w, owner);
      return { owner, input: { orderId: order.id, reason: 'No longer needed' } };
    },
  },
];

type Outcome = 'allowed' | 'forbidden' | 'missing (401)' | 'expired (401)' | 'invalid (401)';

function expected(rule: Rule, caller: Caller): Outcome {
  switch (caller) {
    case 'admin':
    case 'service':
      return 'allowed';
    case 'customer A':
      return rule === 'owner' ? 'allowed' : 'forbidden';
    case 'customer B':
      return 'forbidden';
    case 'no token':
      return 'missing (401)';
    case 'expired token':
      return 'expired (401)';
    default:
      return 'invalid (401)';
  }
}

describe(`authorization matrix on ${engine}`, () => {
  const w = useWorld();
  let b: Customer;
  const tokens = {} as Record<Caller, Headers>;
  const users = {} as Record<Caller, { userId: string; role: string }>;

  beforeAll(async () => {
    b = await newCustomer(w);
    tokens.admin = await w.s.auth({ role: 'admin', userId: 'matrix-admin' });
    users.admin = { userId: 'matrix-admin', role: 'admin' };
    tokens.service = await w.s.auth({ role: 'service', userId: 'matrix-service' });
    users.service = { userId: 'matrix-service', role: 'service' };
    tokens['customer B'] = b.headers;
    tokens['no token'] = {};
    // Even an admin token is refused once expired.
    const expired = await w.s.app.tokens.mint({ userId: 'old-admin', role: 'admin' }, -60);
    tokens['expired token'] = { authorization: `Bearer ${expired}` };
    tokens['garbage token'] = { authorization: 'Bearer not.a.jwt' };
    // Well-formed and unexpired, but signed with someone else's secret.
    const forger = createTokenService({ secret: 'another-secret-another-secret-0123456789' });
    const forged = await forger.mint({ userId: 'evil', role: 'admin' });
    tokens['forged token'] = { authorization: `Bearer ${forged}` };
    tokens['wrong scheme'] = {
      authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`,
    };
  });

  it('mints tokens that expire: the expired one really is past its exp', async () => {
    const token = tokens['expired token'].authorization!.slice('Bearer '.length);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims.exp).toBeLessThan(Date.now() / 1000 - 30);
    await expect(w.s.app.tokens.verify(token)).rejects.toMatchObject({ reason: 'expired' });
  });

  for (const row of ROWS) {
    describe(row.mutation, () => {
      // A refused call writes nothing, so the refused callers of a row share one prepared
      // cell (the row's last test proves it still usable); allowed ones get fresh state.
      let shared: Promise<Cell> | undefined;
      for (const caller of CALLERS) {
        const outcome = expected(row.rule, caller);
        it(`${caller}: ${outcome}`, async () => {
          const cell =
            outcome === 'allowed' ? await row.prepare(w) : await (shared ??= row.prepare(w));
          const headers = caller === 'customer A' ? cell.owner.headers : tokens[caller];
          const who =
            caller === 'customer A'
              ? { userId: cell.owner.userId, role: 'customer' }
              : users[caller];
          const commandId = randomUUID();
          const input = { commandId, ...cell.input };
          switch (outcome) {
            case 'allowed': {
              const payload = await ok(w, row.mutation, input, headers);
              expect(payload.__typename).toBe(successTypename(row.mutation));
              const events = await eventsOfCommand(w, commandId);
              expect(events.length).toBeGreaterThan(0);
              for (const e of events) expect(e.metadata).toMatchObject(who);
              break;
            }
            case 'forbidden':
              await refused(w, row.mutation, input, headers, {
                typename: 'ForbiddenError',
                code: 'FORBIDDEN',
              });
              break;
            default: {
              const before = await writes(w);
              const a = await call(w, row.mutation, input, headers);
              expect(a.status).toBe(401);
              expect(a.body.data ?? null).toBeNull();
              expect(a.errors).toHaveLength(1);
              expect(a.errors![0]!.extensions?.code).toBe(
                outcome === 'expired (401)' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED',
              );
              // The message never echoes the token.
              if (headers.authorization)
                expect(a.errors![0]!.message).not.toContain(headers.authorization.slice(7, 40));
              expect(await writes(w)).toEqual(before);
            }
          }
        });
      }
      it('the input the refused callers sent succeeds for an admin', async () => {
        const cell = await (shared ??= row.prepare(w));
        await ok(w, row.mutation, { commandId: randomUUID(), ...cell.input }, tokens.admin);
      });
    });
  }

  describe('customers act only for themselves', () => {
    it('a customer token registers its own id when it names none, and no other', async () => {
      const id = randomUUID();
      const headers = await customerHeaders(w, id);
      await refused(
        w,
        'registerCustomer',
        {
          commandId: randomUUID(),
          id: randomUUID(),
          name: 'X',
          email: `x-${id}@example.org`,
          phone: '0301234',
        },
        headers,
        { typename: 'ForbiddenError' },
      );
      const own = await ok(
        w,
        'registerCustomer',
        { commandId: randomUUID(), name: 'X', email: `x-${id}@example.org`, phone: '0301234' },
        headers,
      );
      expect(own.customer.id).toBe(id);
    });

    it('another customer cannot take over an order id, nor order for someone else', async () => {
      const a = await newCustomer(w);
      const order = await orderOf(w, a);
      const productId = await newProduct(w);
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          id: order.id,
          customerId: b.id,
          items: [{ productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        b.headers,
        { typename: 'ForbiddenError' },
      );
      await refused(
        w,
        'createOrder',
        {
          commandId: randomUUID(),
          customerId: a.id,
          items: [{ productId, quantity: 1 }],
          shippingAddress: ADDRESS,
        },
        b.headers,
        { typename: 'ForbiddenError' },
      );
    });

    it('a token whose customer id differs only in case is the same customer', async () => {
      const a = await newCustomer(w);
      const upper = await w.s.auth({
        role: 'customer',
        customerId: a.id.toUpperCase(),
        userId: a.userId,
      });
      const order = await newOrder(w, a, [{ productId: await newProduct(w), quantity: 1 }], upper);
      expect(order.customer.id).toBe(a.id);
    });
  });
});
