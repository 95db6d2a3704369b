import pg from 'pg';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { payOrder, seedOrder } from '../support/seed.js';

/**
 * What a PostgreSQL restart looks like to the server: every connection it holds is cut at
 * once (pool clients, the LISTEN connection). It must not crash, and must carry on.
 */
describe('losing every database connection (PostgreSQL)', () => {
  const { t, s } = useTestApp();

  it('keeps serving: health recovers, commands, projections and the bridge carry on', async () => {
    const seeded = await seedOrder(s);
    const database = new URL(t.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
    try {
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      );
      expect(killed.rowCount).toBeGreaterThan(2);
    } finally {
      await admin.end();
    }
    const listenerBefore = s.app.notifier.reconnects;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${s.url}/health`);
      if (res.status === 200) break;
      if (Date.now() > deadline) throw new Error('health did not recover');
      await new Promise((r) => setTimeout(r, 100));
    }
    // A command right after: its read-your-writes wait needs the projections running again.
    const paid = await payOrder(s, seeded);
    expect(paid.version).toBe(2);
    const order = await s.graphql<any>(
      `query($id: ID!) { order(id: $id) { status } }`,
      { id: seeded.orderId },
      seeded.admin,
    );
    expect(order.body.data.order.status).toBe('PAID');
    while (s.app.notifier.reconnects === listenerBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(s.app.notifier.reconnects).toBeGreaterThan(listenerBefore);
  });
});
