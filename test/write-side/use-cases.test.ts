import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { registerProduct } from '../../src/catalog/use-cases.js';
import { CommandHandler, type CommandEnvelope } from '../../src/commands/handler.js';
import type { UseCaseDeps } from '../../src/commands/use-case.js';
import { registerCustomer } from '../../src/customers/use-cases.js';
import { IdempotencyConflictError } from '../../src/eventstore/errors.js';
import { SnapshotStore } from '../../src/eventstore/snapshots.js';
import { EventStore } from '../../src/eventstore/store.js';
import { cancelOrder, createOrder } from '../../src/orders/use-cases.js';
import { DomainError } from '../../src/shared/decider.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';

/**
 * The use cases on their own, without GraphQL: a command handler over a fresh database, a
 * fixed clock and an id generator are all they need.
 */

const NOW = new Date('2025-03-01T10:00:00.000Z');
const ADDRESS = { line1: 'Jungfernstieg 1', city: 'Hamburg', postalCode: '20095', country: 'DE' };
const admin: Principal = { userId: 'admin-uc', role: 'admin' };
const customerOf = (customerId: string): Principal => ({
  userId: `user-${customerId.slice(0, 8)}`,
  role: 'customer',
  customerId,
});

/** The envelope a mutation would build for `input`. */
const envelope = (
  principal: Principal,
  operation: string,
  { commandId, ...input }: { commandId: string } & Record<string, unknown>,
): CommandEnvelope => ({ commandId, principal, correlationId: randomUUID(), operation, input });

describe(`use cases on ${engine}`, () => {
  let t: TestDatabase;
  let store: EventStore;
  let deps: UseCaseDeps;
  let customerId: string;
  let productId: string;

  const expectRefusal = async (run: Promise<unknown>, kind: string, code: string) => {
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind, code });
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    store = new EventStore(t.db);
    deps = {
      commands: new CommandHandler(store, new SnapshotStore(t.db), {
        snapshotEvery: 50,
      }),
      now: () => NOW,
      newId: randomUUID,
    };
    const customer = { name: 'Ann', email: `ann-${randomUUID()}@example.org`, phone: '030 1' };
    const c = await registerCustomer(
      deps,
      customer,
      envelope(admin, 'registerCustomer', { commandId: randomUUID(), ...customer }),
    );
    customerId = c.customerId;
    const product = {
      name: 'Lamp',
      imageUrl: 'https://img.example.org/lamp.png',
      price: { amount: 1999, currency: 'EUR' },
      initialStock: 10,
    };
    const p = await registerProduct(
      deps,
      product,
      envelope(admin, 'registerProduct', { commandId: randomUUID(), ...product }),
    );
    productId = p.productId;
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('createOrder places an order at the catalogue price, and a replay answers the same', async () => {
    const commandId = randomUUID();
    const input = { customerId, items: [{ productId, quantity: 2 }], shippingAddress: ADDRESS };
    const env = envelope(customerOf(customerId), 'createOrder', { commandId, ...input });
    const first = await createOrder(deps, input, env);
    expect(first.version).toBe(1);
    expect(first.cursor).toMatch(/^c1\./);

    const [created] = await store.readStream(`order-${first.orderId}`);
    expect(created).toMatchObject({
      type: 'OrderCreated',
      data: {
        customerId,
        total: { amount: 3998, currency: 'EUR' },
        createdAt: NOW.toISOString(),
        items: [{ productId, quantity: 2, unitPrice: { amount: 1999, currency: 'EUR' } }],
      },
      metadata: { userId: env.principal.userId, commandId, mutation: 'createOrder' },
    });

    // The server-chosen id differs on the second run; the replay still names the first order.
    const head = await store.head();
    const again = await createOrder(deps, input, { ...env, correlationId: randomUUID() });
    // The first run also hands back the order as it left it; a replay answers where it
    // left the log (its state is read from the read models, if asked for).
    expect(first.state).toMatchObject({ status: 'PENDING', customerId });
    const { state: _state, ...answer } = first;
    expect(again).toEqual(answer);
    expect(await store.head()).toEqual(head);

    // The same command id with other input is a conflict.
    const other = { ...input, items: [{ productId, quantity: 3 }] };
    await expect(
      createOrder(deps, other, envelope(env.principal, 'createOrder', { commandId, ...other })),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('createOrder is refused for an unknown product or customer, writing nothing', async () => {
    const head = await store.head();
    const unknown = randomUUID();
    const input = {
      customerId,
      items: [{ productId: unknown, quantity: 1 }],
      shippingAddress: ADDRESS,
    };
    await expectRefusal(
      createOrder(
        deps,
        input,
        envelope(admin, 'createOrder', { commandId: randomUUID(), ...input }),
      ),
      'notFound',
      'PRODUCT_NOT_FOUND',
    );
    const stranger = { ...input, customerId: randomUUID(), items: [{ productId, quantity: 1 }] };
    await expectRefusal(
      createOrder(
        deps,
        stranger,
        envelope(admin, 'createOrder', { commandId: randomUUID(), ...stranger }),
      ),
      'notFound',
      'CUSTOMER_NOT_FOUND',
    );
    expect(await store.head()).toEqual(head);
  });

  it('a customer acts only for itself and on its own orders', async () => {
    const input = { customerId, items: [{ productId, quantity: 1 }], shippingAddress: ADDRESS };
    const someoneElse = customerOf(randomUUID());
    await expectRefusal(
      createOrder(
        deps,
        input,
        envelope(someoneElse, 'createOrder', { commandId: randomUUID(), ...input }),
      ),
      'forbidden',
      'FORBIDDEN',
    );
    const order = await createOrder(
      deps,
      input,
      envelope(customerOf(customerId), 'createOrder', { commandId: randomUUID(), ...input }),
    );
    const cancel = { orderId: order.orderId, reason: 'not mine' };
    await expectRefusal(
      cancelOrder(
        deps,
        cancel,
        envelope(someoneElse, 'cancelOrder', { commandId: randomUUID(), ...cancel }),
      ),
      'forbidden',
      'FORBIDDEN',
    );
  });
});
