import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { isTransientDatabaseError } from '../../src/db/errors.js';
import { useTestApp } from '../support/app.js';
import { seedOrder } from '../support/seed.js';

/*
 * Database sessions killed while commands run (a failover, an operator's
 * pg_terminate_backend): a command then either succeeds or answers UNAVAILABLE with
 * `retryable: true`, never a masked internal error, and so does a read. Sent again with the same commandId,
 * every UNAVAILABLE command ends with exactly one effect, whether or not its first run had
 * committed.
 */

// Answered from the command's own state: no read-model wait that a kill could time out.
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) {
  __typename ... on CreateOrderSuccess { order { id } } ... on Error { code message } } }`;

const WORKERS = 6;
/** Commands stop once this many answered UNAVAILABLE, or at MAX_COMMANDS. */
const WANTED_UNAVAILABLE = 3;
const MAX_COMMANDS = 600;

describe('transient database failures during commands (PostgreSQL)', () => {
  const { t, s } = useTestApp();

  it('classifies what a lost connection looks like', () => {
    expect(isTransientDatabaseError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isTransientDatabaseError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDatabaseError(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
    expect(isTransientDatabaseError(new Error('boom'))).toBe(false);
  });

  it('answers UNAVAILABLE (retryable) or success; retried, every command has one effect', async () => {
    const seeded = await seedOrder(s, 1_000_000);
    const database = new URL(t.url!).pathname.slice(1);
    const input = (commandId: string) => ({
      i: {
        commandId,
        customerId: seeded.customerId,
        items: [{ productId: seeded.productId, quantity: 1 }],
        shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
      },
    });
    const send = async (commandId: string) => {
      const r = await s.graphql<any>(CREATE_ORDER, input(commandId), seeded.customer);
      return r.body;
    };

    const answers: { commandId: string; body: any }[] = [];
    const isUnavailable = (body: any) => body.errors?.[0]?.extensions?.code === 'UNAVAILABLE';
    let seen = 0;
    const more = () => seen < WANTED_UNAVAILABLE && answers.length < MAX_COMMANDS;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (more()) {
        const commandId = randomUUID();
        const body = await send(commandId);
        answers.push({ commandId, body });
        if (isUnavailable(body)) seen++;
      }
    });
    // Reads meanwhile: answered, or UNAVAILABLE; never a masked internal error.
    const reads: any[] = [];
    const reader = (async () => {
      while (more()) {
        const r = await s.graphql<any>(
          `query($id: ID!) { order(id: $id) { id status } }`,
          { id: seeded.orderId },
          seeded.customer,
        );
        reads.push(r.body);
      }
    })();
    const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
    let killed = 0;
    let load = true;
    const killer = (async () => {
      while (load) {
        await new Promise((r) => setTimeout(r, 50));
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`,
          [database],
        );
        killed += r.rowCount ?? 0;
      }
    })();
    await Promise.all([...workers, reader]);
    load = false;
    await killer;
    await admin.end();
    expect(killed, 'sessions were terminated under load').toBeGreaterThan(0);

    for (const body of reads) {
      if (body.data?.order?.id === seeded.orderId) continue;
      expect(body.errors?.[0]?.extensions, JSON.stringify(body)).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
      });
    }

    const unavailable: string[] = [];
    for (const { commandId, body } of answers) {
      const payload = body.data?.createOrder;
      if (payload?.__typename === 'CreateOrderSuccess') continue;
      const e = body.errors?.[0];
      expect(e, JSON.stringify(body)).toBeDefined();
      expect(e.extensions, JSON.stringify(body)).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
      });
      expect(e.message).toMatch(/commandId/);
      unavailable.push(commandId);
    }

    expect(unavailable.length, 'some commands met a killed session').toBeGreaterThan(0);
    // Retried with the same commandId until it succeeds (the database is back by now).
    for (const commandId of unavailable) {
      let body = await send(commandId);
      for (
        let attempt = 0;
        attempt < 20 && body.data?.createOrder?.__typename !== 'CreateOrderSuccess';
        attempt++
      ) {
        await new Promise((r) => setTimeout(r, 100));
        body = await send(commandId);
      }
      expect(body.data?.createOrder?.__typename, JSON.stringify(body)).toBe('CreateOrderSuccess');
    }

    // Exactly one OrderCreated per command id: none lost, none doubled.
    const ids = answers.map((a) => a.commandId);
    const created = await t.db.query<{ command_id: string; n: number }>(
      `SELECT metadata->>'commandId' AS command_id, count(*)::int AS n FROM events
       WHERE event_type = 'OrderCreated' AND metadata->>'commandId' = ANY($1::text[])
       GROUP BY 1`,
      [ids],
    );
    expect(created.rows).toHaveLength(ids.length);
    expect(created.rows.every((r) => r.n === 1)).toBe(true);
  });
});
