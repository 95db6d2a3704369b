import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogProjection } from '../../src/catalog/projections.js';
import { customersProjection } from '../../src/customers/projections.js';
import type { StoredEvent } from '../../src/eventstore/types.js';
import { ProductEvents, type ProductEvent } from '../../src/catalog/events.js';
import { CustomerEvents } from '../../src/customers/events.js';
import { OrderEvents, orderEventTypes, type OrderEvent } from '../../src/orders/events.js';
import { orderStreamId } from '../../src/orders/decider.js';
import { expectDomainEvent } from '../../src/shared/events.js';
import { BUILD_KEEP_ROWS, ordersBuildRun, ordersProjection } from '../../src/orders/projections.js';
import {
  SHIPMENT_STREAM_TYPE,
  ShipmentEvents,
  shipmentStreamId,
} from '../../src/fulfillment/events.js';
import type { Queryable } from '../../src/db/types.js';
import { describeOrderEvent, orderEventTime } from '../../src/orders/timeline.js';
import { allProjections } from '../../src/server/projections.js';
import type { Projection } from '../../src/projections/types.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';
import {
  ADDRESS,
  applyAll,
  createTables,
  EventLog,
  line,
  rowsOf,
  streams,
  total,
} from './support.js';
import { customerStatsProjection } from '../../src/orders/statistics.js';

/**
 * Each projection applied directly (`projection.apply` in a transaction, as the runtime
 * does) to hand-made events: the rows it writes, idempotent re-delivery, and independence
 * from how the log is cut into batches (so a rebuild gives the same rows, order numbers
 * included).
 */

const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const id = () => randomUUID();

const pA = id();
const pB = id();
const pC = id();
const c1 = id();
const c2 = id();
const o1 = id();
const o2 = id();
const o3 = id();
const o4 = id();

/**
 * A small but complete log: every event type of products, customers and orders; `more`
 * appends events after it.
 */
function scenario(more?: (log: EventLog, at: () => string) => void): StoredEvent[] {
  const log = new EventLog();
  let minute = 0;
  const at = () => new Date(T0 + 60_000 * minute++).toISOString();
  const product = (pid: string, event: ProductEvent) => log.add(streams.product(pid), event);
  const order = (oid: string, event: OrderEvent) => log.add(streams.order(oid), event);

  product(
    pA,
    ProductEvents.ProductRegistered({
      productId: pA,
      name: 'Mug',
      imageUrl: 'https://img.example/mug.png',
      price: { amount: 1000, currency: 'EUR' },
      initialStock: 10,
      registeredAt: at(),
    }),
  );
  product(
    pB,
    ProductEvents.ProductRegistered({
      productId: pB,
      name: 'Tea',
      imageUrl: 'https://img.example/tea.png',
      price: { amount: 250, currency: 'EUR' },
      initialStock: 5,
      registeredAt: at(),
    }),
  );
  product(
    pC,
    ProductEvents.ProductRegistered({
      productId: pC,
      name: 'Pot',
      imageUrl: 'https://img.example/pot.png',
      price: { amount: 999, currency: 'USD' },
      initialStock: 1,
      registeredAt: at(),
    }),
  );
  product(
    pA,
    ProductEvents.ProductPriceChanged({
      productId: pA,
      previousPrice: { amount: 1000, currency: 'EUR' },
      price: { amount: 1200, currency: 'EUR' },
      changedAt: at(),
    }),
  );
  product(
    pA,
    ProductEvents.ProductRestocked({
      productId: pA,
      quantity: 5,
      availableAfter: 15,
      restockedAt: at(),
    }),
  );
  log.add(
    streams.customer(c1),
    CustomerEvents.CustomerRegistered({
      customerId: c1,
      name: 'Ann',
      email: 'ann@example.org',
      phone: '+49 1',
      registeredAt: at(),
    }),
  );
  log.add(
    streams.customer(c2),
    CustomerEvents.CustomerRegistered({
      customerId: c2,
      name: 'Bob',
      email: 'bob@example.org',
      phone: '+49 2',
      registeredAt: at(),
    }),
  );
  // o1: created, item added and removed, address changed, paid, ready, shipped.
  const o1Items = [line(pA, 2, 1000, 'EUR', 'Mug')];
  order(
    o1,
    OrderEvents.OrderCreated({
      orderId: o1,
      customerId: c1,
      items: o1Items,
      shippingAddress: ADDRESS,
      billingAddress: ADDRESS,
      shippingMethod: 'STANDARD',
      total: total(o1Items),
      createdAt: at(),
    }),
  );
  order(
    o1,
    OrderEvents.OrderItemAdded({
      orderId: o1,
      item: line(pB, 1, 250, 'EUR', 'Tea'),
      total: { amount: 2250, currency: 'EUR' },
      addedAt: at(),
    }),
  );
  // o2 interleaved with o1: created, paid, refunded and cancelled.
  const o2Items = [line(pB, 4, 250, 'EUR', 'Tea')];
  order(
    o2,
    OrderEvents.OrderCreated({
      orderId: o2,
      customerId: c2,
      items: o2Items,
      shippingAddress: ADDRESS,
      billingAddress: ADDRESS,
      shippingMethod: 'STANDARD',
      total: total(o2Items),
      createdAt: at(),
    }),
  );
  order(
    o1,
    OrderEvents.OrderItemRemoved({
      orderId: o1,
      productId: pB,
      productName: 'Tea',
      total: { amount: 2000, currency: 'EUR' },
      removedAt: at(),
    }),
  );
  order(
    o1,
    OrderEvents.OrderShippingAddressChanged({
      orderId: o1,
      shippingAddress: { ...ADDRESS, line1: 'Side 2', line2: 'Back' },
      changedAt: at(),
    }),
  );
  order(
    o1,
    OrderEvents.OrderPaid({
      orderId: o1,
      paymentId: 'pay-1',
      amount: { amount: 2000, currency: 'EUR' },
      method: 'CARD',
      transactionId: null,
      estimatedDelivery: '2026-01-09',
      paidAt: at(),
    }),
  );
  product(
    pA,
    ProductEvents.StockReserved({
      productId: pA,
      orderId: o1,
      quantity: 2,
      availableAfter: 13,
      reservedAt: at(),
    }),
  );
  order(o1, OrderEvents.OrderReadyToShip({ orderId: o1, shipmentId: 'ship-1', readyAt: at() }));
  order(
    o1,
    OrderEvents.OrderShipped({
      orderId: o1,
      carrier: 'DHL',
      trackingNumber: 'T-1',
      estimatedDelivery: null,
      shippedAt: at(),
    }),
  );
  order(
    o2,
    OrderEvents.OrderPaid({
      orderId: o2,
      paymentId: 'pay-2',
      amount: { amount: 1000, currency: 'EUR' },
      method: 'CARD',
      transactionId: null,
      estimatedDelivery: '2026-01-09',
      paidAt: at(),
    }),
  );
  product(
    pB,
    ProductEvents.StockReserved({
      productId: pB,
      orderId: o2,
      quantity: 4,
      availableAfter: 1,
      reservedAt: at(),
    }),
  );
  order(
    o2,
    OrderEvents.OrderPaymentRefunded({
      orderId: o2,
      paymentId: 'pay-2',
      amount: { amount: 1000, currency: 'EUR' },
      reason: 'changed mind',
      refundedAt: at(),
    }),
  );
  order(
    o2,
    OrderEvents.OrderCancelled({
      orderId: o2,
      reason: 'changed mind',
      cancelledAt: at(),
      refunded: true,
    }),
  );
  product(
    pB,
    ProductEvents.StockReleased({
      productId: pB,
      orderId: o2,
      quantity: 4,
      availableAfter: 5,
      releasedAt: at(),
    }),
  );
  // o3 in USD, left pending; o4 cancelled unpaid.
  const o3Items = [line(pC, 1, 999, 'USD', 'Pot')];
  order(
    o3,
    OrderEvents.OrderCreated({
      orderId: o3,
      customerId: c1,
      items: o3Items,
      shippingAddress: ADDRESS,
      billingAddress: ADDRESS,
      shippingMethod: 'STANDARD',
      total: total(o3Items),
      createdAt: at(),
    }),
  );
  const o4Items = [line(pA, 1, 1200, 'EUR', 'Mug')];
  order(
    o4,
    OrderEvents.OrderCreated({
      orderId: o4,
      customerId: c1,
      items: o4Items,
      shippingAddress: ADDRESS,
      billingAddress: ADDRESS,
      shippingMethod: 'STANDARD',
      total: total(o4Items),
      createdAt: at(),
    }),
  );
  order(
    o4,
    OrderEvents.OrderCancelled({ orderId: o4, reason: 'oops', cancelledAt: at(), refunded: false }),
  );
  // Ann's new e-mail must reach the copies in her orders.
  log.add(
    streams.customer(c1),
    CustomerEvents.CustomerEmailChanged({
      customerId: c1,
      previousEmail: 'ann@example.org',
      email: 'Ann.New@Example.org',
      changedAt: at(),
    }),
  );
  more?.(log, at);
  return log.events;
}

/** Every table of a projection, rows in key order. */
async function contents(db: TestDatabase['db'], p: Projection, table: (n: string) => string) {
  const out: Record<string, unknown[]> = {};
  for (const t of p.tables) out[t.name] = await rowsOf(db, table(t.name), '1, 2');
  return out;
}

describe(`projections applied directly on ${engine}`, () => {
  let t: TestDatabase;
  const events = scenario();
  let suffix = 0;
  const fresh = (p: Projection) => createTables(t.db, p, `t${++suffix}`);

  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('registers the four projections, each with its own tables', () => {
    const ps = allProjections();
    expect(ps.map((p) => p.name).sort()).toEqual([
      'catalog',
      'customer_stats',
      'customers',
      'orders',
    ]);
    const tables = ps.flatMap((p) => p.tables.map((x) => x.name));
    expect(new Set(tables).size).toBe(tables.length);
  });

  it('catalog: products with price, image and available stock', async () => {
    const table = await fresh(catalogProjection);
    await applyAll(t.db, catalogProjection, events, table);
    const rows = await rowsOf(t.db, table('products'), 'name');
    expect(rows).toEqual([
      expect.objectContaining({
        id: pA,
        name: 'Mug',
        image_url: 'https://img.example/mug.png',
        price_amount: 1200,
        price_currency: 'EUR',
        available_stock: 13,
        version: 4,
      }),
      expect.objectContaining({
        id: pC,
        name: 'Pot',
        price_currency: 'USD',
        available_stock: 1,
        version: 1,
      }),
      expect.objectContaining({
        id: pB,
        name: 'Tea',
        price_amount: 250,
        available_stock: 5,
        version: 3,
      }),
    ]);
  });

  it('customers: registration and e-mail change', async () => {
    const table = await fresh(customersProjection);
    await applyAll(t.db, customersProjection, events, table);
    expect(await rowsOf(t.db, table('customers'), 'name')).toEqual([
      expect.objectContaining({
        id: c1,
        name: 'Ann',
        email: 'Ann.New@Example.org',
        phone: '+49 1',
        version: 2,
      }),
      expect.objectContaining({
        id: c2,
        name: 'Bob',
        email: 'bob@example.org',
        phone: '+49 2',
        version: 1,
      }),
    ]);
  });

  it('orders: list rows with numbers in commit order, denormalised customer, details', async () => {
    const table = await fresh(ordersProjection);
    await applyAll(t.db, ordersProjection, events, table);
    const rows = await rowsOf(t.db, table('order_list'), 'order_seq');
    expect(rows.map((r) => [r.id, r.order_number])).toEqual([
      [o1, 'SO-000001'],
      [o2, 'SO-000002'],
      [o3, 'SO-000003'],
      [o4, 'SO-000004'],
    ]);
    const [r1, r2, r3, r4] = rows;
    expect(r1).toMatchObject({
      customer_id: c1,
      customer_name: 'Ann',
      customer_email: 'Ann.New@Example.org',
      status: 'SHIPPED',
      total_amount: 2000,
      currency: 'EUR',
      item_count: 2,
      items: [line(pA, 2, 1000, 'EUR', 'Mug')],
      shipping_address: { ...ADDRESS, line1: 'Side 2', line2: 'Back' },
      payment: { paymentId: 'pay-1', status: 'PAID', amount: { amount: 2000, currency: 'EUR' } },
      shipment: { carrier: 'DHL', trackingNumber: 'T-1', status: 'SHIPPED' },
      version: 7,
    });
    expect(r2).toMatchObject({
      customer_email: 'bob@example.org',
      status: 'CANCELLED',
      item_count: 4,
      total_amount: 1000,
      payment: { paymentId: 'pay-2', status: 'REFUNDED' },
      shipment: null,
      version: 4,
    });
    expect(r3).toMatchObject({
      status: 'PENDING',
      currency: 'USD',
      customer_email: 'Ann.New@Example.org',
    });
    expect(r4).toMatchObject({ status: 'CANCELLED', payment: null, version: 2 });
    const created = events.find(
      (e) => e.type === 'OrderCreated' && e.streamId === orderStreamId(o1),
    )!;
    expect(new Date(r1!.created_at as Date).toISOString()).toBe(
      (created.data as { createdAt: string }).createdAt,
    );

    // One timeline row per order event, described from the event alone.
    const timeline = await rowsOf(t.db, table('order_timeline'), 'order_id, version');
    const orderEvents = events.filter((e) => e.streamType === 'order');
    expect(timeline).toHaveLength(orderEvents.length);
    for (const e of orderEvents) {
      const ev = expectDomainEvent(e, orderEventTypes);
      const row = timeline.find(
        (r) => orderStreamId(r.order_id as string) === e.streamId && r.version === e.version,
      );
      expect(row).toMatchObject({
        type: e.type,
        description: describeOrderEvent(ev),
        cursor: e.cursor,
      });
      expect(new Date(row!.at as Date).toISOString()).toBe(orderEventTime(ev));
    }
  });

  it('customer statistics: counts per status, spent (PAID + SHIPPED), by currency', async () => {
    const table = await fresh(customerStatsProjection);
    await applyAll(t.db, customerStatsProjection, events, table);
    const stats = await rowsOf(t.db, table('customer_order_stats'), 'customer_id');
    const byCustomer = new Map(stats.map((r) => [r.customer_id, r]));
    expect(byCustomer.get(c1)).toMatchObject({
      order_count: 3,
      pending_count: 1,
      paid_count: 0,
      shipped_count: 1,
      cancelled_count: 1,
      currency: 'EUR',
      spent_amount: 2000,
      spent_orders: 1,
      spent_by_currency: [{ currency: 'EUR', amount: 2000, orders: 1 }],
    });
    expect(byCustomer.get(c2)).toMatchObject({
      order_count: 1,
      cancelled_count: 1,
      spent_amount: 0,
      spent_orders: 0,
      spent_by_currency: [],
    });
  });

  it('customer statistics: the per-currency sums are those of the per-order rows, whatever the batches', async () => {
    for (const size of [1, 4]) {
      const table = await fresh(customerStatsProjection);
      await applyAll(t.db, customerStatsProjection, events, table, size);
      const recount = await t.db.query(
        `SELECT customer_id, currency, count(*)::int8 AS n,
                count(*) FILTER (WHERE status = 'PENDING')::int8 AS pending,
                count(*) FILTER (WHERE status = 'PAID')::int8 AS paid,
                count(*) FILTER (WHERE status = 'SHIPPED')::int8 AS shipped,
                count(*) FILTER (WHERE status = 'CANCELLED')::int8 AS cancelled,
                count(*) FILTER (WHERE status IN ('PAID', 'SHIPPED'))::int8 AS spent_n,
                coalesce(sum(total_amount) FILTER (WHERE status IN ('PAID', 'SHIPPED')), 0)::int8 AS spent
         FROM ${table('customer_stats_orders')} GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      expect(recount.rows.length).toBeGreaterThan(2);
      expect(await rowsOf(t.db, table('customer_stats_currency'), '1, 2')).toEqual(recount.rows);
    }
  });

  for (const p of [
    catalogProjection,
    customersProjection,
    ordersProjection,
    customerStatsProjection,
  ]) {
    it(`${p.name}: the same batch applied twice in one transaction changes nothing`, async () => {
      const once = await fresh(p);
      await applyAll(t.db, p, events, once);
      const twice = await fresh(p);
      const batch = events.filter((e) => p.eventTypes.includes(e.type));
      await t.db.transaction(async (tx) => {
        await p.apply(tx, batch, twice);
        await p.apply(tx, batch, twice);
      });
      const expected = await contents(t.db, p, once);
      expect(await contents(t.db, p, twice)).toEqual(expected);
      // …and again later, in its own transaction, and as an overlapping re-delivery.
      await applyAll(t.db, p, events, twice);
      await applyAll(t.db, p, events.slice(5, 20), twice, 4);
      expect(await contents(t.db, p, twice)).toEqual(expected);
    });

    it(`${p.name}: the rows do not depend on how the log is cut into batches`, async () => {
      const whole = await fresh(p);
      await applyAll(t.db, p, events, whole);
      const expected = await contents(t.db, p, whole);
      for (const size of [1, 3, 7]) {
        const cut = await fresh(p);
        await applyAll(t.db, p, events, cut, size);
        expect(await contents(t.db, p, cut)).toEqual(expected);
      }
    });
  }

  it('orders: a build run gives the rows apply gives, whatever the batches and the rows it keeps', async () => {
    // After the scenario: o1's shipment delivered, then o1 changed again (the mark must
    // survive); Ann's e-mail changed again, then an order of hers changed in a later batch.
    const log = scenario((more, at) => {
      more.add(
        { type: SHIPMENT_STREAM_TYPE, id: shipmentStreamId('ship-1') },
        ShipmentEvents.ShipmentDelivered({ shipmentId: 'ship-1', orderId: o1, deliveredAt: at() }),
      );
      more.add(
        streams.order(o1),
        OrderEvents.OrderShippingAddressChanged({
          orderId: o1,
          shippingAddress: { ...ADDRESS, line1: 'Late change' },
          changedAt: at(),
        }),
      );
      more.add(
        streams.customer(c1),
        CustomerEvents.CustomerEmailChanged({
          customerId: c1,
          previousEmail: 'Ann.New@Example.org',
          email: 'ann.third@example.org',
          changedAt: at(),
        }),
      );
      for (const oid of [o3, o4])
        more.add(
          streams.order(oid),
          OrderEvents.OrderShippingAddressChanged({
            orderId: oid,
            shippingAddress: { ...ADDRESS, line1: `Later ${oid.slice(0, 4)}` },
            changedAt: at(),
          }),
        );
    });
    const events = log.filter((e) => ordersProjection.eventTypes.includes(e.type));
    const applied = await fresh(ordersProjection);
    await applyAll(t.db, ordersProjection, log, applied);
    const expected = await contents(t.db, ordersProjection, applied);
    expect(
      (expected.order_list as { id: string; shipment: { status: string } | null }[]).find(
        (r) => r.id === o1,
      )?.shipment?.status,
    ).toBe('DELIVERED');
    for (const size of [1, 2, 5, 50]) {
      for (const keep of [0, 3, BUILD_KEEP_ROWS]) {
        const built = await fresh(ordersProjection);
        const run = ordersBuildRun(keep);
        // As the runtime does, at worst: each batch folded before the last one is written
        // (the database shows the folding nothing of it).
        let unwritten: ((tx: Queryable) => Promise<void>) | undefined;
        for (let i = 0; i < events.length; i += size) {
          const write = await run.fold(t.db, events.slice(i, i + size), built);
          if (unwritten) await t.db.transaction(unwritten);
          unwritten = write;
        }
        if (unwritten) await t.db.transaction(unwritten);
        expect(
          await contents(t.db, ordersProjection, built),
          `batches of ${size}, keep ${keep}`,
        ).toEqual(expected);
      }
    }
  });

  it('orders: a batch of 1000 events costs a few statements, not one per event', async () => {
    const log = new EventLog();
    const customer = id();
    log.add(
      streams.customer(customer),
      CustomerEvents.CustomerRegistered({
        customerId: customer,
        name: 'Many',
        email: 'many@example.org',
        phone: '1',
        registeredAt: new Date(T0).toISOString(),
      }),
    );
    for (let i = 0; i < 500; i++) {
      const oid = id();
      const items = [line(pA, 1 + (i % 3), 1000)];
      log.add(
        streams.order(oid),
        OrderEvents.OrderCreated({
          orderId: oid,
          customerId: customer,
          items,
          shippingAddress: ADDRESS,
          billingAddress: ADDRESS,
          shippingMethod: 'STANDARD',
          total: total(items),
          createdAt: new Date(T0 + i).toISOString(),
        }),
      );
      log.add(
        streams.order(oid),
        OrderEvents.OrderPaid({
          orderId: oid,
          paymentId: `p${i}`,
          amount: total(items),
          method: 'CARD',
          transactionId: null,
          estimatedDelivery: '2026-01-09',
          paidAt: new Date(T0 + i).toISOString(),
        }),
      );
    }
    for (const p of [ordersProjection, customerStatsProjection]) {
      const table = await fresh(p);
      let statements = 0;
      await t.db.transaction(async (tx) => {
        const counted = {
          query: <R>(sql: string, params?: readonly unknown[]) => {
            statements++;
            return tx.query<R>(sql, params);
          },
        };
        await p.apply(
          counted,
          log.events.filter((e) => p.eventTypes.includes(e.type)),
          table,
        );
      });
      expect(statements).toBeLessThanOrEqual(7);
      const n = await t.db.query<{ n: number }>(
        `SELECT count(*)::int8 AS n FROM ${table(p.tables[0]!.name)}`,
      );
      expect(n.rows[0]!.n).toBe(500);
    }
  });
});
