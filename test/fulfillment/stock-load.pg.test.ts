import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import { startTestApp, useTestApp, type TestApp } from '../support/app.js';
import {
  checkInvariants,
  inParallel,
  makePlan,
  pay,
  runSeed,
  seedPlan,
  seededRandom,
  waitSettled,
} from './support.js';

/**
 * The stock invariant under load: 200 orders on 20 products, every product short of what
 * the orders ask, paid 16 at a time through two server processes on one database (both
 * run the fulfillment process; they compete for its lease). Afterwards no product has
 * more reserved than its stock, and every order is either ready to ship or refunded and
 * cancelled, in the event store and in the read models alike.
 */

const ORDERS = 200;
const PRODUCTS = 20;
const CUSTOMERS = 16;
const PAYERS = 16;
const SETTLE_WITHIN_MS = 60_000;
const READ_MODELS_WITHIN_MS = 15_000;

const PRODUCT = `query($id: ID!) { product(id: $id) { availableStock } }`;
const ORDER = `query($id: ID!) { order(id: $id) { status payment { status } timeline { type } } }`;

describe('fulfillment stock invariant under load (PostgreSQL)', () => {
  const env = { STRATA_MUTATIONS_PER_MINUTE: '0' };
  const { t, s } = useTestApp({ env });
  let other: TestApp;
  let otherDb: ReturnType<typeof openPostgres>;

  beforeAll(async () => {
    otherDb = openPostgres({ connectionString: t.url!, max: 10 });
    other = await startTestApp({ db: otherDb, url: t.url, dispose: async () => {} }, env);
  });
  afterAll(async () => {
    await other?.stop();
    await otherDb?.close();
  });

  it('200 orders on 20 scarce products paid concurrently: never more reserved than in stock, each order reserved or refunded and cancelled', async () => {
    const seed = runSeed();
    onTestFailed(() => console.error(`stock load seed: ${seed} (STRATA_TEST_SEED=${seed})`));
    const plan = makePlan(seededRandom(seed), {
      products: PRODUCTS,
      orders: ORDERS,
      customers: CUSTOMERS,
      scarce: Array.from({ length: PRODUCTS }, (_, n) => n),
    });
    const t0 = performance.now();
    const orders = await seedPlan(s, plan, CUSTOMERS);
    const t1 = performance.now();

    // Both servers take payments; both run the process manager, one holding the lease.
    await inParallel(orders, PAYERS, (o, n) => pay(n % 2 ? other : s, o));
    const commands = s.app.services.commands;
    await waitSettled(
      commands,
      orders.map((o) => o.id),
      SETTLE_WITHIN_MS,
    );

    const t2 = performance.now();
    const outcome = await checkInvariants(t.db, commands, plan);
    console.log(
      `stock load seed ${seed}: seeded in ${Math.round(t1 - t0)} ms, paid and settled in ${Math.round(t2 - t1)} ms; ${outcome.ready.length} ready, ${outcome.cancelled.length} cancelled (${outcome.partiallyReserved.length} after a partial reservation)`,
    );
    expect(outcome.ready.length).toBeGreaterThan(0);
    expect(outcome.cancelled.length).toBeGreaterThan(0);
    expect(outcome.ready.length + outcome.cancelled.length).toBe(ORDERS);
    for (const p of plan.products) expect(outcome.held.get(p.id) ?? 0).toBeLessThanOrEqual(p.stock);

    // The read models agree once they have caught up.
    const admin = await s.auth({ role: 'admin' });
    const ready = new Set(outcome.ready);
    const deadline = Date.now() + READ_MODELS_WITHIN_MS;
    let mismatches: string[] = [];
    do {
      if (mismatches.length) await sleep(200);
      mismatches = [];
      await inParallel(plan.products, 8, async (p) => {
        const r = await s.graphql<any>(PRODUCT, { id: p.id }, admin);
        const expected = p.stock - (outcome.held.get(p.id) ?? 0);
        const got = r.body.data?.product?.availableStock;
        expect(got).toBeGreaterThanOrEqual(0);
        if (got !== expected) mismatches.push(`product ${p.id}: ${got}, expected ${expected}`);
      });
      await inParallel(orders, 8, async (o) => {
        const r = await s.graphql<any>(ORDER, { id: o.id }, admin);
        const order = r.body.data?.order;
        const types = new Set((order?.timeline ?? []).map((e: { type: string }) => e.type));
        const good = ready.has(o.id)
          ? order?.status === 'PAID' &&
            order.payment?.status === 'PAID' &&
            types.has('ShipmentCreated')
          : order?.status === 'CANCELLED' &&
            order.payment?.status === 'REFUNDED' &&
            !types.has('ShipmentCreated');
        if (!good)
          mismatches.push(
            `order ${o.id} (${ready.has(o.id) ? 'ready' : 'cancelled'}): ${JSON.stringify(r.body)}`,
          );
      });
    } while (mismatches.length && Date.now() < deadline);
    expect(mismatches.slice(0, 5)).toEqual([]);
  }, 90_000);
});
