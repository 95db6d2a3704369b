import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { orderStreamId } from '../../src/orders/decider.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { seedOrder } from '../support/seed.js';

const STATUS = `{ projections { name generation active state eventsBehind secondsBehind cursor error { eventId } } }`;

describe(`projection administration over GraphQL and /health on ${engine}`, () => {
  const { s } = useTestApp();

  it('shows every projection with its lag to admins only, and in /health', async () => {
    const seeded = await seedOrder(s);
    const admin = await s.graphql<any>(STATUS, {}, seeded.admin);
    expect(admin.body.errors).toBeUndefined();
    const names = admin.body.data.projections.map((p: any) => p.name).sort();
    // The fulfillment process manager runs (and reports) like a projection.
    expect(names).toEqual(['catalog', 'customer_stats', 'customers', 'fulfillment', 'orders']);
    for (const p of admin.body.data.projections) {
      expect(p).toMatchObject({
        generation: 1,
        active: true,
        state: 'running',
        eventsBehind: 0,
        error: null,
      });
    }
    const customer = await s.graphql<any>(STATUS, {}, seeded.customer);
    expect(customer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const health = (await (await fetch(`${s.url}/health`)).json()) as any;
    expect(health.projections.map((p: any) => p.name).sort()).toEqual(names);
    expect(health.projections.every((p: any) => p.state === 'running')).toBe(true);
  });

  it('pauses, resumes and rebuilds a projection while queries keep answering', async () => {
    const seeded = await seedOrder(s);
    const pause = await s.graphql<any>(
      `mutation { pauseProjection(name: "orders") { state active } }`,
      {},
      seeded.admin,
    );
    expect(pause.body.data.pauseProjection).toEqual([{ state: 'paused', active: true }]);
    // The write is accepted and answered, never an error: past the mutation's own wait, the
    // paused read model's row as it stands (its number), with the command's state over it.
    s.app.services.commandReadWaitMs = 300;
    const started = Date.now();
    const paid = await s.graphql<any>(
      `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on PayOrderSuccess { caughtUp order { orderNumber status } } } }`,
      {
        i: {
          commandId: randomUUID(),
          orderId: seeded.orderId,
          paymentId: `pay-${randomUUID()}`,
          amount: seeded.total,
        },
      },
      seeded.customer,
    );
    s.app.services.commandReadWaitMs = 5_000;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(paid.body.errors).toBeUndefined();
    expect(paid.body.data.payOrder).toEqual({
      __typename: 'PayOrderSuccess',
      caughtUp: false,
      order: { orderNumber: expect.stringMatching(/^SO-\d{6}$/), status: 'PAID' },
    });
    expect(await s.app.store.streamVersion(orderStreamId(seeded.orderId))).toBe(3);
    const resume = await s.graphql<any>(
      `mutation { resumeProjection(name: "orders") { state } }`,
      {},
      seeded.admin,
    );
    expect(resume.body.data.resumeProjection).toEqual([{ state: 'running' }]);

    const rebuilt = await s.graphql<any>(
      `mutation { rebuildProjection(name: "orders") { name generation active } }`,
      {},
      seeded.admin,
    );
    expect(rebuilt.body.data.rebuildProjection).toEqual({
      name: 'orders',
      generation: 2,
      active: false,
    });
    const query = `query($id: ID!) { order(id: $id) { id status orderNumber } }`;
    const during = await s.graphql<any>(query, { id: seeded.orderId }, seeded.admin);
    expect(during.body.data.order).toMatchObject({ id: seeded.orderId });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = await s.graphql<any>(STATUS, {}, seeded.admin);
      const orders = st.body.data.projections.filter((p: any) => p.name === 'orders');
      if (orders.length === 1 && orders[0].generation === 2 && orders[0].active) break;
      if (Date.now() > deadline)
        throw new Error(`rebuild did not switch: ${JSON.stringify(orders)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await s.graphql<any>(query, { id: seeded.orderId }, seeded.admin);
    expect(after.body.data.order).toEqual({ ...during.body.data.order, status: 'PAID' });

    const unknown = await s.graphql<any>(
      `mutation { rebuildProjection(name: "nope") { name } }`,
      {},
      seeded.admin,
    );
    expect(unknown.body.errors?.[0]?.message).toMatch(/Unknown projection nope/);
  });
});
