import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import type { ProductInfo } from '../../src/catalog/decider.js';
import type { CommandEnvelope } from '../../src/commands/handler.js';
import { emailReservationStreamId } from '../../src/customers/email-reservation.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import type { OrderCommand } from '../../src/orders/commands.js';
import { orderDecider, orderStreamId, type OrderState } from '../../src/orders/decider.js';
import { orderEventTypes } from '../../src/orders/events.js';
import { expectDomainEvent } from '../../src/shared/events.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { ADDRESS, appendAll, customerRegistered, productRegistered } from './support.js';

/**
 * Temporal and audit queries (the event store, not the projections): the state of a
 * 120-event order at every version and at times between events, equal to the events
 * folded by hand, with frequent snapshots and without any; status history; the order's
 * events and the admin log, paged.
 */

const PRINCIPAL: Principal = { userId: 'history-test', role: 'admin' };
const T0 = Date.parse('2026-03-01T09:00:00.000Z');
const STATE_FIELDS = `version status total { amount currency } asOf
  items { productId productName quantity unitPrice { amount currency } }`;

const products = Array.from({ length: 6 }, (_, k) => ({
  id: randomUUID(),
  info: {
    name: `Item ${k}`,
    imageUrl: `https://img.example/${k}.png`,
    price: { amount: 100 + 17 * k, currency: 'EUR' },
    available: 1000,
  } satisfies ProductInfo,
}));

/** The GraphQL view of a state folded by hand. */
function expectedState(state: OrderState, version: number, asOf: Date) {
  if (state.status === 'NOT_CREATED') return null;
  return {
    version,
    status: state.status,
    total: state.total,
    asOf: asOf.toISOString(),
    items: state.items.map((l) => ({
      productId: l.productId,
      productName: l.productName,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
    })),
  };
}

for (const config of [
  { label: 'a snapshot every 7 events', every: 7, snapshots: Math.floor(120 / 7) },
  { label: 'no snapshots', every: 1_000_000, snapshots: 0 },
]) {
  describe(`order history on ${engine} with ${config.label}`, () => {
    const { s } = useTestApp({
      env: {
        STRATA_SNAPSHOT_EVERY: String(config.every),
        // One query below asks for all 122 states at once: far over the default abuse limits.
        STRATA_MAX_ALIASES: '200',
        STRATA_MAX_TOKENS: '20000',
        STRATA_MAX_DOCUMENT_BYTES: '65536',
      },
    });
    let admin: Record<string, string>;
    const orderId = randomUUID();
    const customerId = randomUUID();
    let events: StoredEvent[];
    /** Hand-folded state after each version (index = version). */
    let states: OrderState[];

    const gql = async (query: string, variables: Record<string, unknown> = {}, headers = admin) => {
      const r = await s.graphql<any>(query, variables, headers);
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      return r.body.data;
    };

    async function run(command: OrderCommand, id = orderId) {
      const envelope: CommandEnvelope = {
        commandId: randomUUID(),
        principal: PRINCIPAL,
        correlationId: randomUUID(),
        operation: 'test',
        input: command,
      };
      return s.app.services.commands.execute(orderDecider, orderStreamId(id), command, envelope);
    }

    beforeAll(async () => {
      admin = await s.auth({ role: 'admin' });
      // These queries read the event store only: the projections need not run meanwhile.
      for (const p of s.app.projections.projections) await s.app.projections.pause(p.name);
      // The catalogue and the customer exist, as they would (a process may react to orders).
      await appendAll(s.app.store, [
        customerRegistered(customerId, 'Hilda', `hilda-${customerId.slice(0, 8)}@example.org`),
        ...products.map((p) => productRegistered(p.id, p.info.name, p.info.price.amount)),
      ]);
      // 120 events through the command handler (which writes the snapshots): created,
      // 118 item and address changes, cancelled. (Unpaid: nothing else reacts to it.)
      let minute = 0;
      const now = () => new Date(T0 + 60_000 * minute++).toISOString();
      await run({
        type: 'CreateOrder',
        data: {
          orderId,
          customerId,
          customerExists: true,
          items: [{ productId: products[0]!.id, quantity: 2 }],
          products: { [products[0]!.id]: products[0]!.info },
          shippingAddress: ADDRESS,
          now: now(),
        },
      });
      let extra: string | null = null;
      let last;
      for (let j = 0; j < 118; j++) {
        // Distinct recording times now and then, so that some events have a gap between them.
        if (j % 8 === 0) await sleep(3);
        if (j % 13 === 12) {
          last = await run({
            type: 'ChangeShippingAddress',
            data: { orderId, shippingAddress: { ...ADDRESS, line1: `Street ${j}` }, now: now() },
          });
        } else if (extra === null) {
          const p = products[1 + (j % 5)]!;
          extra = p.id;
          last = await run({
            type: 'AddOrderItem',
            data: { orderId, productId: p.id, quantity: 1 + (j % 4), product: p.info, now: now() },
          });
        } else {
          last = await run({
            type: 'RemoveOrderItem',
            data: { orderId, productId: extra, now: now() },
          });
          extra = null;
        }
      }
      expect(last!.version).toBe(119);
      const cancelled = await run({
        type: 'CancelOrder',
        data: { orderId, reason: 'changed my mind', now: now() },
      });
      expect(cancelled.version).toBe(120);

      events = await s.app.store.readStream(orderStreamId(orderId));
      states = [orderDecider.initialState];
      for (const e of events) {
        states.push(
          orderDecider.evolve(states[states.length - 1]!, expectDomainEvent(e, orderEventTypes)),
        );
      }
    });

    it(`has ${config.snapshots} snapshots of the order`, async () => {
      const r = await s.app.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM snapshots WHERE stream_id = $1',
        [orderStreamId(orderId)],
      );
      expect(r.rows[0]!.n).toBe(config.snapshots);
    });

    it('rebuilds the state at every one of the 120 versions as folded by hand', async () => {
      const query = `query($id: ID!) { orderHistory(id: $id) { orderId
        ${events.map((e) => `v${e.version}: at(version: ${e.version}) { ${STATE_FIELDS} }`).join('\n')}
        now: at { ${STATE_FIELDS} }
        v0: at(version: 0) { version }
        beyond: at(version: 121) { version } } }`;
      const h = (await gql(query, { id: orderId })).orderHistory;
      expect(h.orderId).toBe(orderId);
      for (const e of events) {
        expect(h[`v${e.version}`], `version ${e.version}`).toEqual(
          expectedState(states[e.version]!, e.version, e.recordedAt),
        );
      }
      expect(h.now).toEqual(h.v120);
      expect(h.v120.status).toBe('CANCELLED');
      expect(h.v119.status).toBe('PENDING');
      expect(h.v0).toBeNull();
      expect(h.beyond).toBeNull();
    });

    if (config.snapshots > 0) {
      it('reads as of a version or a time from the newest snapshot at or below it', async () => {
        // Mark the snapshot at version 63: only a state loaded through it shows the mark.
        const streamId = orderStreamId(orderId);
        const mark = (name: string) =>
          s.app.db.query(
            `UPDATE snapshots SET state = jsonb_set(state, '{items,0,productName}', to_jsonb($2::text))
             WHERE stream_id = $1 AND version = 63`,
            [streamId, name],
          );
        await mark('MARKED');
        try {
          const at65 = events[64]!.recordedAt;
          // Events recorded in the same millisecond as version 65 are part of "as of" it too.
          const expectedVersion = events.filter((e) => e.recordedAt <= at65).length;
          expect(expectedVersion).toBeLessThan(70);
          const h = (
            await gql(
              `query($id: ID!, $t: DateTime!) { orderHistory(id: $id) {
                v62: at(version: 62) { items { productName } }
                v63: at(version: 63) { items { productName } }
                v65: at(version: 65) { items { productName } }
                t65: at(time: $t) { version items { productName } } } }`,
              { id: orderId, t: at65.toISOString() },
            )
          ).orderHistory;
          expect(h.v62.items[0].productName).toBe('Item 0');
          expect(h.v63.items[0].productName).toBe('MARKED');
          expect(h.v65.items[0].productName).toBe('MARKED');
          expect(h.t65.version).toBe(expectedVersion);
          expect(h.t65.items[0].productName).toBe('MARKED');
        } finally {
          await mark('Item 0');
        }
      });
    }

    it('rebuilds the state at times between two events', async () => {
      const pairs = events
        .slice(0, -1)
        .map((e, k) => [e, events[k + 1]!] as const)
        .filter(([a, b]) => b.recordedAt.getTime() > a.recordedAt.getTime());
      expect(pairs.length).toBeGreaterThanOrEqual(10);
      const chosen = pairs.filter((_, k) => k % Math.floor(pairs.length / 10) === 0);
      const times = chosen.map(
        ([a, b]) =>
          new Date(
            a.recordedAt.getTime() +
              Math.floor((b.recordedAt.getTime() - a.recordedAt.getTime()) / 2),
          ),
      );
      const before = new Date(events[0]!.recordedAt.getTime() - 1);
      const query = `query($id: ID!, ${times.map((_, k) => `$t${k}: DateTime!`).join(', ')}, $before: DateTime!, $later: DateTime!) {
        orderHistory(id: $id) {
          ${times.map((_, k) => `t${k}: at(time: $t${k}) { ${STATE_FIELDS} }`).join('\n')}
          before: at(time: $before) { version }
          later: at(time: $later) { version status } } }`;
      const h = (
        await gql(query, {
          id: orderId,
          ...Object.fromEntries(times.map((time, k) => [`t${k}`, time.toISOString()])),
          before: before.toISOString(),
          later: new Date(Date.now() + 3_600_000).toISOString(),
        })
      ).orderHistory;
      chosen.forEach(([a], k) => {
        expect(h[`t${k}`], `between v${a.version} and v${a.version + 1}`).toEqual(
          expectedState(states[a.version]!, a.version, times[k]!),
        );
      });
      expect(h.before).toBeNull();
      expect(h.later).toEqual({ version: 120, status: 'CANCELLED' });
    });

    it('lists the status changes, each visible at its own time', async () => {
      const h = (
        await gql(
          `query($id: ID!) { orderHistory(id: $id) { statusHistory { status at version } } }`,
          { id: orderId },
        )
      ).orderHistory;
      const at = (v: number) => events[v - 1]!.recordedAt.toISOString();
      expect(h.statusHistory).toEqual([
        { status: 'PENDING', at: at(1), version: 1 },
        { status: 'CANCELLED', at: at(120), version: 120 },
      ]);
      const back = (
        await gql(
          `query($id: ID!, $t: DateTime!) { orderHistory(id: $id) { at(time: $t) { status } } }`,
          {
            id: orderId,
            t: at(120),
          },
        )
      ).orderHistory;
      expect(back.at.status).toBe('CANCELLED');

      // A paid order cancelled: the refund is no status of its own.
      const other = randomUUID();
      await run(
        {
          type: 'CreateOrder',
          data: {
            orderId: other,
            customerId,
            customerExists: true,
            items: [{ productId: products[1]!.id, quantity: 1 }],
            products: { [products[1]!.id]: products[1]!.info },
            shippingAddress: ADDRESS,
            now: new Date().toISOString(),
          },
        },
        other,
      );
      await run(
        {
          type: 'PayOrder',
          data: {
            orderId: other,
            paymentId: 'p',
            amount: products[1]!.info.price,
            now: new Date().toISOString(),
          },
        },
        other,
      );
      await run(
        {
          type: 'CancelOrder',
          data: { orderId: other, reason: 'no', now: new Date().toISOString() },
        },
        other,
      );
      const c = (
        await gql(
          `query($id: ID!) { orderHistory(id: $id) { statusHistory { status version } } }`,
          { id: other },
        )
      ).orderHistory;
      // Versions as the stream has them (a fulfillment process may add events of its own).
      const stream = await s.app.store.readStream(orderStreamId(other));
      const versionOf = (type: string) => stream.find((e) => e.type === type)!.version;
      expect(stream.map((e) => e.type)).toContain('OrderPaymentRefunded');
      expect(c.statusHistory).toEqual([
        { status: 'PENDING', version: 1 },
        { status: 'PAID', version: versionOf('OrderPaid') },
        { status: 'CANCELLED', version: versionOf('OrderCancelled') },
      ]);
      const unknown = (
        await gql(
          `query($id: ID!) { orderHistory(id: $id) { at { version } statusHistory { status } events { edges { cursor } } } }`,
          {
            id: randomUUID(),
          },
        )
      ).orderHistory;
      expect(unknown).toEqual({ at: null, statusHistory: [], events: { edges: [] } });
    });

    it('pages through the order’s events in version order', async () => {
      const seen: any[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const d: any = await gql(
          `query($id: ID!, $after: String) { orderHistory(id: $id) { events(first: 50, after: $after) {
            edges { cursor node { eventId streamId streamType type version schemaVersion globalPosition cursor recordedAt data metadata correlationId causationId } }
            pageInfo { hasNextPage endCursor } } } }`,
          { id: orderId, after },
        );
        const c = d.orderHistory.events;
        seen.push(...c.edges.map((e: any) => e.node));
        if (!c.pageInfo.hasNextPage) break;
        after = c.pageInfo.endCursor;
      }
      expect(seen.map((e) => e.version)).toEqual(events.map((e) => e.version));
      const e = events[119]!;
      expect(seen[119]).toEqual({
        eventId: e.eventId,
        streamId: e.streamId,
        streamType: 'order',
        type: 'OrderCancelled',
        version: 120,
        schemaVersion: e.schemaVersion,
        globalPosition: String(e.globalPosition),
        cursor: e.cursor,
        recordedAt: e.recordedAt.toISOString(),
        data: e.data,
        metadata: e.metadata,
        correlationId: e.correlationId,
        causationId: e.causationId,
      });
      expect(seen[119].metadata).toMatchObject({ userId: 'history-test', role: 'admin' });
    });

    it('refuses ambiguous or malformed arguments', async () => {
      const both = await s.graphql<any>(
        `query($id: ID!) { orderHistory(id: $id) { at(version: 3, time: "2026-01-01T00:00:00Z") { version } } }`,
        { id: orderId },
        admin,
      );
      expect(both.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const badAfter = await s.graphql<any>(
        `query($id: ID!) { orderHistory(id: $id) { events(after: "nope") { edges { cursor } } } }`,
        { id: orderId },
        admin,
      );
      expect(badAfter.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const tooMany = await s.graphql<any>(
        `{ events(first: 1001) { edges { cursor } } }`,
        {},
        admin,
      );
      expect(tooMany.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // Ids: the order's own (a uuid; its number is for `order`), a stream's with its type.
      for (const [query, id, argument] of [
        [`query($v: ID!) { orderHistory(id: $v) { orderId } }`, 'SO-000001', 'id'],
        [`query($v: ID!) { orderHistory(id: $v) { orderId } }`, `order-${orderId}`, 'id'],
        [`query($v: ID) { events(streamId: $v) { edges { cursor } } }`, orderId, 'streamId'],
        [`query($v: ID) { events(streamId: $v) { edges { cursor } } }`, 'order-1', 'streamId'],
      ] as const) {
        const r = await s.graphql<any>(query, { v: id }, admin);
        expect(r.body.errors, id).toHaveLength(1);
        expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
      }
    });

    it('pages the whole log for admins in commit order, with filters', async () => {
      const all = await s.app.store.readAll({ limit: 10_000 });
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 100; page++) {
        const d: any = await gql(
          `query($after: Cursor) { events(first: 37, after: $after) { edges { cursor node { eventId cursor } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        for (const edge of d.events.edges) {
          expect(edge.cursor).toBe(edge.node.cursor);
          seen.push(edge.node.eventId);
        }
        if (!d.events.pageInfo.hasNextPage) break;
        after = d.events.pageInfo.endCursor;
      }
      // Everything that was there before, in the same order (anything later comes after).
      expect(seen.slice(0, all.length)).toEqual(all.map((e) => e.eventId));
      const cancelled = await gql(
        `{ events(eventTypes: ["OrderCancelled"], streamTypes: ["order"]) { edges { node { type streamId } } } }`,
      );
      expect(cancelled.events.edges.map((e: any) => e.node.type)).toEqual(
        all.filter((e) => e.type === 'OrderCancelled').map(() => 'OrderCancelled'),
      );
      expect(cancelled.events.edges[0].node.streamId).toBe(orderStreamId(orderId));
      const one = await gql(
        `query($s: ID!) { events(streamId: $s, first: 1000) { edges { node { version } } } }`,
        {
          s: orderStreamId(orderId),
        },
      );
      expect(one.events.edges).toHaveLength(120);
      // Ids are lower case; any case is read as such.
      const upper = await gql(
        `query($s: ID!) { events(streamId: $s, first: 1000) { edges { node { version } } } }`,
        { s: orderStreamId(orderId).toUpperCase() },
      );
      expect(upper).toEqual(one);
      // An e-mail reservation's stream is named by a hash, not a uuid: a stream id too.
      const reservation = await gql(
        `query($s: ID!) { events(streamId: $s) { edges { node { streamId } } } }`,
        { s: emailReservationStreamId('nobody@example.org') },
      );
      expect(reservation.events.edges).toEqual([]);
      const none = await gql(
        `{ events(streamTypes: ["no-such-type"]) { edges { cursor } pageInfo { hasNextPage endCursor } } }`,
      );
      expect(none.events).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });
  });
}
