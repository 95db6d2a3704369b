import { afterAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '../../src/commands/handler.js';
import { fingerprint } from '../../src/shared/hash.js';
import { engine } from '../support/db.js';
import { ADDRESS, call, customerHeaders, useWorld, type MutationName } from './support.js';

/**
 * The idempotency fingerprint of every mutation, pinned: the command handler fingerprints
 * the envelope's operation, caller and input, and stores the hash with each command id. A
 * change to how a mutation builds its envelope would refuse the replay of every command
 * stored before it as an IdempotencyConflict. These hashes were recorded from the
 * resolvers as they built their envelopes before the use cases existed.
 */

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const CUSTOMER = id(1);
const PRODUCT = id(2);
const ORDER = id(3);

const DELIVERED = `mutation($i: MarkShipmentDeliveredInput!) { markShipmentDelivered(input: $i) { __typename } }`;

describe(`idempotency fingerprints on ${engine}`, () => {
  const w = useWorld();
  const seen: { operation: string; hash: string }[] = [];
  let restore: (() => void) | undefined;
  afterAll(() => restore?.());

  it('stay as they were for every mutation', async () => {
    const commands = w.s.app.services.commands;
    const execute = commands.execute.bind(commands);
    commands.execute = ((...args: Parameters<typeof execute>) => {
      const env: CommandEnvelope = args[3];
      seen.push({
        operation: env.operation,
        hash: fingerprint({
          operation: env.operation,
          userId: env.principal.userId,
          input: env.input,
        }),
      });
      return execute(...args);
    }) as typeof commands.execute;
    restore = () => {
      commands.execute = execute;
    };

    const customer = await customerHeaders(w, CUSTOMER, 'user-fp');
    const run = (name: MutationName, input: Record<string, unknown>, headers = w.admin) =>
      call(w, name, { commandId: id(100 + seen.length), ...input }, headers);

    await run('registerCustomer', {
      id: CUSTOMER,
      name: 'Ann',
      email: 'ann-fp@example.org',
      phone: '030 1',
    });
    await run('registerCustomer', { name: 'Bob', email: 'bob-fp@example.org', phone: '030 2' });
    await run('changeCustomerEmail', { customerId: CUSTOMER, email: 'ann2-fp@example.org' });
    await run('registerProduct', {
      id: PRODUCT.toUpperCase(),
      name: 'Lamp',
      imageUrl: 'https://img.example.org/l.png',
      price: { amount: 1000, currency: 'EUR' },
      initialStock: 10,
    });
    await run('restockProduct', { productId: PRODUCT, quantity: 5 });
    await run('changeProductPrice', {
      productId: PRODUCT,
      price: { amount: 900, currency: 'EUR' },
    });
    await run(
      'createOrder',
      {
        id: ORDER,
        customerId: CUSTOMER,
        items: [{ productId: PRODUCT, quantity: 2 }],
        shippingAddress: { ...ADDRESS, line2: null },
      },
      customer,
    );
    await run(
      'addOrderItem',
      { orderId: ORDER, productId: id(4), quantity: 1, expectedVersion: null },
      customer,
    );
    await run(
      'removeOrderItem',
      { orderId: ORDER, productId: id(4), expectedVersion: 1 },
      customer,
    );
    await run(
      'changeShippingAddress',
      { orderId: ORDER, shippingAddress: { ...ADDRESS, line2: 'Hinterhaus' } },
      customer,
    );
    await run(
      'payOrder',
      { orderId: ORDER, paymentId: 'pay-1', amount: { amount: 1800, currency: 'EUR' } },
      customer,
    );
    await run('shipOrder', { orderId: ORDER, carrier: 'DHL', trackingNumber: 'T1' }, w.service);
    await run('cancelOrder', { orderId: ORDER, reason: 'changed my mind' }, customer);
    await w.s.graphql(DELIVERED, { i: { commandId: id(999), orderId: ORDER } }, w.service);

    expect(seen).toEqual([
      { operation: 'registerCustomer', hash: 'MmxotA-SsvnOnzP8ur6K6NoRrBGBelYb0m7lDwqtgik' },
      { operation: 'registerCustomer', hash: 'y2YdwYNB9LFy8rh1zT6H5uyxNV8DV4l3YeezOl_ABnE' },
      { operation: 'changeCustomerEmail', hash: 'a8236VVDXMCn6d7N78jnv72J8BqqRbL-ggnmOJ3yu8k' },
      { operation: 'registerProduct', hash: 'xto7rM-hTwNsIJ_gSMdEOTYWpxX3HIIxj32lkK1KHHM' },
      { operation: 'restockProduct', hash: 'mGBMKFI9AiNZkkQT-TzubnHrWJhKEfAi9bW4utlkV5g' },
      { operation: 'changeProductPrice', hash: 'MhN2qstWD9aqL3w5FEtzg3xxEEmsFs3SwgvpckXB0PI' },
      { operation: 'createOrder', hash: 'WfczdvPzpt6jRzktCXPbC2FyrcUTFQY5kCsNAnj1Uss' },
      { operation: 'addOrderItem', hash: 'Em9SA9RGQHJ49_9k_IN9JrVlAuCegkwdl8slS-Wsd6Q' },
      { operation: 'removeOrderItem', hash: 'dzvxcGNv72De0gYw9msCbXl0G-wSTdbTmbyjlWB202U' },
      { operation: 'changeShippingAddress', hash: 'pQ9iOPZofC49V_ba2ISjdtkhSRnMmerrMR5x_eka4sg' },
      { operation: 'payOrder', hash: '7TCKbqNvhHrb2tu7tj6srIocilEZqYvphSfYsm4UJJQ' },
      { operation: 'shipOrder', hash: 'jVdS4c6ToeZiTLHfaa1bQuQ9VpMo5CarNT3IUdY5gGg' },
      { operation: 'cancelOrder', hash: 'F7Bp1D0l_cG7ndeaLrG6IAbd4P7SR_2hTTBIq0i7KvE' },
      { operation: 'markShipmentDelivered', hash: 'mK-RuhTuyX8nMQoX76DDAczn4IdiWPR3X_oms_NOjj0' },
    ]);
  });
});
