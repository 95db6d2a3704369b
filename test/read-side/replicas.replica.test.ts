import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/types.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { closedPort } from '../support/cli.js';
import {
  createReplicatedDatabase,
  replicaPair,
  type ReplicatedDatabase,
} from '../support/replica.js';
import { ADDRESS } from './support.js';

/*
 * Read replicas against a real streaming replica (scripts/replica-pair.sh; ADR 17):
 * queries read there, mutations and their answers on the primary; `consistentWith` waits
 * for the replica's replay, and past STRATA_REPLICA_WAIT_MS reads the primary; a replica
 * that cannot be reached costs no query its answer. Pausing the replica's replay
 * (pg_wal_replay_pause) makes "which database answered" visible in the data itself.
 */

const WAIT_MS = 2_000;
const METRICS_TOKEN = 'replica-metrics-token-0123456789';

describe('read replicas (a real streaming replica)', () => {
  let rdb: ReplicatedDatabase;
  let primary: Db;
  let s: TestApp;
  let admin: Record<string, string>;
  let customer: Record<string, string>;
  let productId: string;
  let bulbId: string;
  let orderId: string;

  const start = (readUrls: string) =>
    startTestApp(
      { db: primary, url: rdb.primaryUrl, dispose: async () => undefined },
      {
        DATABASE_URL: rdb.primaryUrl,
        DATABASE_READ_URL: readUrls,
        STRATA_REPLICA_WAIT_MS: String(WAIT_MS),
        STRATA_METRICS_TOKEN: METRICS_TOKEN,
      },
      { fulfillment: false },
    );

  async function mutate(
    name: string,
    input: Record<string, unknown>,
    entity: string,
    fields: string,
    headers = admin,
  ) {
    const type = `${name[0]!.toUpperCase()}${name.slice(1)}`;
    const r = await s.graphql<any>(
      `mutation($i: ${type}Input!) { ${name}(input: $i) { __typename ... on Error { code message }
        ... on ${type}Success { cursor ${entity} { ${fields} } } } }`,
      { i: { commandId: randomUUID(), ...input } },
      headers,
    );
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data[name].__typename, JSON.stringify(r.body.data)).toMatch(/Success$/);
    return r.body.data[name];
  }

  async function query(app: TestApp, text: string, variables: Record<string, unknown>) {
    const r = await app.graphql<any>(text, variables, admin);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  }

  const stock = async (app = s) =>
    (await query(app, 'query($id: ID!) { product(id: $id) { availableStock } }', { id: productId }))
      .product.availableStock as number;
  const ORDER = 'query($id: ID!, $c: Cursor) { order(id: $id, consistentWith: $c) { version } }';
  const orderVersion = async (cursor?: string) =>
    (await query(s, ORDER, { id: orderId, c: cursor ?? null })).order.version as number;
  const counts = () => ({ ...s.app.replicas!.reads, ...s.app.replicas!.fallbacks });

  beforeAll(async () => {
    rdb = await createReplicatedDatabase(replicaPair());
    primary = openPostgres({ connectionString: rdb.primaryUrl });
    s = await start(rdb.replicaUrl);
    admin = await s.auth({ role: 'admin' });
    productId = (
      await mutate(
        'registerProduct',
        {
          name: 'Lamp',
          imageUrl: 'https://img.example/l.png',
          price: { amount: 900, currency: 'EUR' },
          initialStock: 10,
        },
        'product',
        'id',
      )
    ).product.id;
    bulbId = (
      await mutate(
        'registerProduct',
        {
          name: 'Bulb',
          imageUrl: 'https://img.example/b.png',
          price: { amount: 200, currency: 'EUR' },
          initialStock: 10,
        },
        'product',
        'id',
      )
    ).product.id;
    const customerId = (
      await mutate(
        'registerCustomer',
        { name: 'Rosa', email: `rosa-${randomUUID().slice(0, 8)}@example.org`, phone: '+49 2' },
        'customer',
        'id',
      )
    ).customer.id;
    customer = await s.auth({ role: 'customer', customerId });
    orderId = (
      await mutate(
        'createOrder',
        { customerId, items: [{ productId, quantity: 1 }], shippingAddress: ADDRESS },
        'order',
        'id',
        customer,
      )
    ).order.id;
    await rdb.caughtUp();
  });

  afterEach(async () => {
    await rdb.resumeReplay();
  });

  afterAll(async () => {
    await s?.stop();
    await primary?.close();
    await rdb?.drop();
  });

  it('answers queries from the replica, and mutations (their answers too) from the primary', async () => {
    expect(await stock()).toBe(10);
    const before = counts();
    await rdb.pauseReplay();
    // The mutation's own answer is read on the primary: it shows its write at once.
    const restocked = await mutate(
      'restockProduct',
      { productId, quantity: 5 },
      'product',
      'availableStock',
    );
    expect(restocked.product.availableStock).toBe(15);
    // A query without consistentWith reads the replica, which has not replayed it yet.
    expect(await stock()).toBe(10);
    const after = counts();
    expect(after.replica).toBeGreaterThan(before.replica);
    expect(after.fallback).toBe(before.fallback);
    expect(after.primary).toBe(before.primary);

    await rdb.resumeReplay();
    await rdb.caughtUp();
    expect(await stock()).toBe(15);
  });

  it('consistentWith waits for the replica to replay the cursor', async () => {
    const v = await orderVersion();
    await rdb.pauseReplay();
    const added = await mutate(
      'addOrderItem',
      { orderId, productId: bulbId, quantity: 2 },
      'order',
      'version',
      customer,
    );
    expect(added.order.version).toBe(v + 1);
    const before = counts();
    const read = orderVersion(added.cursor);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await rdb.resumeReplay();
    expect(await read).toBe(v + 1);
    const after = counts();
    expect(after.lag).toBe(before.lag);
    expect(after.fallback).toBe(before.fallback);
    expect(after.replica).toBeGreaterThan(before.replica);
  });

  it('past STRATA_REPLICA_WAIT_MS, a consistentWith read answers from the primary', async () => {
    await rdb.caughtUp();
    const v = await orderVersion();
    await rdb.pauseReplay();
    const removed = await mutate(
      'removeOrderItem',
      { orderId, productId: bulbId },
      'order',
      'version',
      customer,
    );
    expect(removed.order.version).toBe(v + 1);
    // Without the cursor: the replica's older state.
    expect(await orderVersion()).toBe(v);
    const before = counts();
    const started = Date.now();
    expect(await orderVersion(removed.cursor)).toBe(v + 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_MS);
    const after = counts();
    expect(after.lag).toBe(before.lag + 1);
    expect(after.fallback).toBeGreaterThan(before.fallback);
    // The next request tries the replica again (lag is no failure).
    expect(await orderVersion()).toBe(v);
  });

  it('counts reads by target in /metrics', async () => {
    await stock();
    const text = await (
      await fetch(`${s.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      })
    ).text();
    expect(text).toMatch(/^strata_read_statements_total\{target="replica"\} [1-9]\d*$/m);
    expect(text).toMatch(/^strata_replica_fallbacks_total\{reason="lag"\} [1-9]\d*$/m);
  });

  it('a replica that cannot be reached costs no query its answer: the primary gives it', async () => {
    const dead = `postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`;
    const other = await start(`${dead},${rdb.replicaUrl}`);
    try {
      await rdb.caughtUp();
      const want = await stock();
      for (let k = 0; k < 6; k++) expect(await stock(other)).toBe(want);
      const replicas = other.app.replicas!;
      expect(replicas.fallbacks.error).toBe(1); // then left alone for a while
      expect(replicas.reads.fallback).toBeGreaterThanOrEqual(1);
      expect(replicas.reads.replica).toBeGreaterThanOrEqual(1);
      expect(replicas.status().map((r) => r.up)).toEqual([false, true]);

      // Only unreachable ones: every query still answers, from the primary.
      const alone = await start(dead);
      try {
        for (let k = 0; k < 3; k++) expect(await stock(alone)).toBe(want);
        expect(alone.app.replicas!.reads.replica).toBe(0);
        expect(alone.app.replicas!.reads.primary).toBeGreaterThanOrEqual(2);
      } finally {
        await alone.stop();
      }
    } finally {
      await other.stop();
    }
  });
});
