/**
 * Helpers for the read-side tests: hand-made events for projections applied directly,
 * and fixtures appended straight to the event store (fast: no HTTP, no command handler).
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../src/db/types.js';
import { encodeCursor } from '../../src/eventstore/cursor.js';
import type { EventStore } from '../../src/eventstore/store.js';
import type { StoredEvent, StreamAppend } from '../../src/eventstore/types.js';
import { OrderEvents, type Address, type OrderLine } from '../../src/orders/events.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../../src/orders/decider.js';
import { CustomerEvents } from '../../src/customers/events.js';
import { CUSTOMER_STREAM_TYPE, customerStreamId } from '../../src/customers/decider.js';
import { ProductEvents } from '../../src/catalog/events.js';
import { PRODUCT_STREAM_TYPE, productStreamId } from '../../src/catalog/decider.js';
import type { DomainEvent } from '../../src/shared/decider.js';
import type { Projection } from '../../src/projections/types.js';
import type { ProjectionRuntime } from '../../src/projections/runtime.js';

export const ADDRESS: Address = {
  line1: 'Main 1',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};

// ---------------------------------------------------------------------------------------
// Hand-made stored events, in log order

/** A stream as {@link EventLog.add} takes it: its type and id. */
export interface Stream {
  type: string;
  id: string;
}

/** The streams of a product, customer or order, named by their own helpers. */
export const streams = {
  product: (id: string): Stream => ({ type: PRODUCT_STREAM_TYPE, id: productStreamId(id) }),
  customer: (id: string): Stream => ({ type: CUSTOMER_STREAM_TYPE, id: customerStreamId(id) }),
  order: (id: string): Stream => ({ type: ORDER_STREAM_TYPE, id: orderStreamId(id) }),
};

/** Builds StoredEvents as the store would hand them out: versions per stream, positions. */
export class EventLog {
  private position = 0;
  private readonly versions = new Map<string, number>();
  readonly events: StoredEvent[] = [];

  /** Appends `event` (made by a feature's builders) to `stream`. */
  add(stream: Stream, { type, data }: DomainEvent, at = new Date()): StoredEvent {
    const { type: streamType, id: streamId } = stream;
    const version = (this.versions.get(streamId) ?? 0) + 1;
    this.versions.set(streamId, version);
    const globalPosition = ++this.position;
    const transactionId = String(1000 + globalPosition);
    const e: StoredEvent = {
      eventId: randomUUID(),
      streamId,
      streamType,
      type,
      schemaVersion: 1,
      version,
      globalPosition,
      transactionId,
      cursor: encodeCursor({ transactionId, globalPosition }),
      recordedAt: at,
      data,
      metadata: {},
      correlationId: null,
      causationId: null,
    };
    this.events.push(e);
    return e;
  }
}

/** Creates a projection's tables with a suffix of the test's choosing; returns the mapping. */
export async function createTables(
  db: Queryable,
  p: Projection,
  suffix: string,
): Promise<(name: string) => string> {
  for (const t of p.tables) await db.query(t.ddl(`${t.name}_${suffix}`));
  return (name) => `${name}_${suffix}`;
}

/** Applies `events` as the runtime does: only the types the projection reads, in one transaction. */
export async function applyAll(
  db: Db,
  p: Projection,
  events: readonly StoredEvent[],
  table: (name: string) => string,
  batchSize = events.length,
): Promise<void> {
  const handled = new Set(p.eventTypes);
  for (let i = 0; i < events.length; i += Math.max(1, batchSize)) {
    const batch = events.slice(i, i + Math.max(1, batchSize)).filter((e) => handled.has(e.type));
    if (batch.length) await db.transaction((tx) => p.apply(tx, batch, table));
  }
}

/** Every row of a table, ordered by all its columns' text: comparable with toEqual. */
export async function rowsOf(db: Queryable, table: string, orderBy: string) {
  return (await db.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`)).rows;
}

// ---------------------------------------------------------------------------------------
// Fixtures appended to a real store

export const line = (
  productId: string,
  quantity: number,
  amount: number,
  currency = 'EUR',
  name = `Product ${productId.slice(0, 4)}`,
): OrderLine => ({
  productId,
  productName: name,
  imageUrl: `https://img.example/${productId}.png`,
  quantity,
  unitPrice: { amount, currency },
});

export const total = (items: readonly OrderLine[]) => ({
  amount: items.reduce((n, l) => n + l.unitPrice.amount * l.quantity, 0),
  currency: items[0]!.unitPrice.currency,
});

export function customerRegistered(id: string, name: string, email: string, at = new Date()) {
  return {
    streamId: customerStreamId(id),
    streamType: CUSTOMER_STREAM_TYPE,
    expected: 'noStream' as const,
    events: [
      CustomerEvents.CustomerRegistered({
        customerId: id,
        name,
        email,
        phone: '+49 30 1',
        registeredAt: at.toISOString(),
      }),
    ],
  } satisfies StreamAppend;
}

export function productRegistered(
  id: string,
  name: string,
  amount: number,
  currency = 'EUR',
  stock = 100,
  at = new Date(),
) {
  return {
    streamId: productStreamId(id),
    streamType: PRODUCT_STREAM_TYPE,
    expected: 'noStream' as const,
    events: [
      ProductEvents.ProductRegistered({
        productId: id,
        name,
        imageUrl: `https://img.example/${id}.png`,
        price: { amount, currency },
        initialStock: stock,
        registeredAt: at.toISOString(),
      }),
    ],
  } satisfies StreamAppend;
}

export function orderCreated(
  id: string,
  customerId: string,
  items: OrderLine[],
  createdAt: Date,
): StreamAppend {
  return {
    streamId: orderStreamId(id),
    streamType: ORDER_STREAM_TYPE,
    expected: 'noStream',
    events: [
      OrderEvents.OrderCreated({
        orderId: id,
        customerId,
        items,
        shippingAddress: ADDRESS,
        billingAddress: ADDRESS,
        shippingMethod: 'STANDARD',
        total: total(items),
        createdAt: createdAt.toISOString(),
      }),
    ],
  };
}

/** Appends many streams, at most `chunk` per transaction (the store takes ≤ 1000 events). */
export async function appendAll(store: EventStore, appends: StreamAppend[], chunk = 200) {
  let cursor = '';
  for (let i = 0; i < appends.length; i += chunk) {
    const r = await store.appendMany(appends.slice(i, i + chunk));
    cursor = r.cursor;
  }
  return cursor;
}

/** Waits until every projection has applied the log up to `cursor` (bounded: 30 s). */
export const caughtUp = (projections: ProjectionRuntime, cursor: string) =>
  projections.waitFor(
    cursor,
    projections.projections.map((p) => p.name),
    30_000,
  );
