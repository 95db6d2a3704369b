/**
 * Helpers for the write-side tests: one database and one real HTTP server per test file,
 * the mutation documents, fixture builders and "nothing was written" checks.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, expect } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { compareLogPositions, decodeCursor } from '../../src/eventstore/cursor.js';
import { useTestApp, type TestApp } from '../support/app.js';
import type { TestDatabase } from '../support/db.js';

export type Headers = Record<string, string>;

export interface World {
  t: TestDatabase;
  s: TestApp;
  admin: Headers;
  service: Headers;
}

/** One database and one server for the whole file (tests use fresh uuids, never a fresh database). */
export function useWorld(options: { poolSize?: number } = {}): World {
  const { t, s } = useTestApp({
    poolSize: options.poolSize,
    // The write side on its own: no fulfillment process appending to the orders meanwhile.
    overrides: { fulfillment: false },
  });
  const w = { t, s } as World;
  beforeAll(async () => {
    w.admin = await s.auth({ role: 'admin', userId: 'admin-1' });
    w.service = await s.auth({ role: 'service', userId: 'service-1' });
  });
  return w;
}

// ---------------------------------------------------------------------------------------
// Documents

const MONEY = 'amount currency';
export const CUSTOMER_FIELDS = 'id name email phone';
export const PRODUCT_FIELDS = `id name imageUrl price { ${MONEY} } availableStock`;
export const ORDER_FIELDS = `id status version createdAt updatedAt customer { id email }
  items { productId productName quantity unitPrice { ${MONEY} } totalPrice { ${MONEY} } product { id } }
  itemCount total { ${MONEY} } shippingAddress { line1 line2 city postalCode country }
  payment { paymentId status amount { ${MONEY} } } shipment { carrier trackingNumber status }`;

/** Every typed error with all its fields; valid in every payload union (spread through `Error`). */
export const ERROR_SELECTION = `__typename ... on Error { code message
  ... on ValidationError { fields { path message } }
  ... on ConcurrencyError { expectedVersion actualVersion } }`;

export const MUTATIONS = {
  registerCustomer: { input: 'RegisterCustomerInput', entity: 'customer', fields: CUSTOMER_FIELDS },
  changeCustomerEmail: {
    input: 'ChangeCustomerEmailInput',
    entity: 'customer',
    fields: CUSTOMER_FIELDS,
  },
  registerProduct: { input: 'RegisterProductInput', entity: 'product', fields: PRODUCT_FIELDS },
  restockProduct: { input: 'RestockProductInput', entity: 'product', fields: PRODUCT_FIELDS },
  changeProductPrice: {
    input: 'ChangeProductPriceInput',
    entity: 'product',
    fields: PRODUCT_FIELDS,
  },
  createOrder: { input: 'CreateOrderInput', entity: 'order', fields: ORDER_FIELDS },
  addOrderItem: { input: 'AddOrderItemInput', entity: 'order', fields: ORDER_FIELDS },
  removeOrderItem: { input: 'RemoveOrderItemInput', entity: 'order', fields: ORDER_FIELDS },
  changeShippingAddress: {
    input: 'ChangeShippingAddressInput',
    entity: 'order',
    fields: ORDER_FIELDS,
  },
  payOrder: { input: 'PayOrderInput', entity: 'order', fields: ORDER_FIELDS },
  shipOrder: { input: 'ShipOrderInput', entity: 'order', fields: ORDER_FIELDS },
  cancelOrder: { input: 'CancelOrderInput', entity: 'order', fields: ORDER_FIELDS },
} as const;

export type MutationName = keyof typeof MUTATIONS;
export const MUTATION_NAMES = Object.keys(MUTATIONS) as MutationName[];

export const successTypename = (name: MutationName) =>
  `${name[0]!.toUpperCase()}${name.slice(1)}Success`;

export function mutationDocument(name: MutationName): string {
  const m = MUTATIONS[name];
  return `mutation Run($i: ${m.input}!) { ${name}(input: $i) {
    ... on ${successTypename(name)} { cursor version ${m.entity} { ${m.fields} } }
    ${ERROR_SELECTION} } }`;
}

// ---------------------------------------------------------------------------------------
// Calls

export interface Answer {
  status: number;
  /** `data[name]`, the payload union member (undefined when the request failed). */
  payload: any;
  errors: { message: string; extensions?: Record<string, unknown> }[] | undefined;
  body: any;
}

export async function call(
  w: World,
  name: MutationName,
  input: Record<string, unknown>,
  headers: Headers = {},
): Promise<Answer> {
  const r = await w.s.graphql<any>(mutationDocument(name), { i: input }, headers);
  return { status: r.status, payload: r.body.data?.[name], errors: r.body.errors, body: r.body };
}

/** Runs a mutation that must succeed; returns its `…Success` payload. */
export async function ok(
  w: World,
  name: MutationName,
  input: Record<string, unknown>,
  headers: Headers = w.admin,
): Promise<any> {
  const a = await call(w, name, input, headers);
  expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
  expect(a.status).toBe(200);
  expect(a.payload, JSON.stringify(a.payload)).toMatchObject({
    __typename: successTypename(name),
  });
  return a.payload;
}

// ---------------------------------------------------------------------------------------
// "Nothing written"

export interface Writes {
  events: number;
  commands: number;
  streams: number;
  snapshots: number;
}

export async function writes(w: World): Promise<Writes> {
  const r = await w.t.db.query<Writes>(
    `SELECT (SELECT count(*) FROM events)::int AS events,
            (SELECT count(*) FROM processed_commands)::int AS commands,
            (SELECT count(*) FROM streams)::int AS streams,
            (SELECT count(*) FROM snapshots)::int AS snapshots`,
  );
  return r.rows[0]!;
}

export async function eventCount(w: World): Promise<number> {
  const r = await w.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
  return r.rows[0]!.n;
}

export interface Refusal {
  typename: string;
  code?: string;
  /** Field paths a ValidationError must name (it may name more). */
  paths?: string[];
}

/**
 * Runs a mutation that must be refused with a typed error (HTTP 200, no GraphQL errors) and
 * must write nothing; returns the error payload.
 */
export async function refused(
  w: World,
  name: MutationName,
  input: Record<string, unknown>,
  headers: Headers,
  expected: Refusal,
): Promise<any> {
  const before = await writes(w);
  const a = await call(w, name, input, headers);
  expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
  expect(a.status).toBe(200);
  expect(a.payload, JSON.stringify(a.payload)).toMatchObject({ __typename: expected.typename });
  expect(typeof a.payload.message).toBe('string');
  expect(a.payload.message.length).toBeGreaterThan(0);
  if (expected.code !== undefined) expect(a.payload.code).toBe(expected.code);
  if (expected.paths) {
    const paths = (a.payload.fields as { path: string }[]).map((f) => f.path);
    for (const p of expected.paths) expect(paths, JSON.stringify(a.payload)).toContain(p);
  }
  expect(await writes(w)).toEqual(before);
  return a.payload;
}

/** A request that GraphQL itself rejects (validation or coercion); nothing written. */
export async function rejected(
  w: World,
  query: string,
  variables: Record<string, unknown> | undefined,
  headers: Headers = w.admin,
): Promise<{ status: number; body: any }> {
  const before = await writes(w);
  const r = await w.s.graphql<any>(query, variables, headers);
  expect(r.body.errors?.length, JSON.stringify(r.body)).toBeGreaterThan(0);
  expect(r.body.data ?? null).toBeNull();
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(await writes(w)).toEqual(before);
  return r;
}

// ---------------------------------------------------------------------------------------
// Cursors and stored events

export function expectCursorsIncreasing(cursors: string[]): void {
  for (let i = 1; i < cursors.length; i++) {
    const a = decodeCursor(cursors[i - 1]!);
    const b = decodeCursor(cursors[i]!);
    expect(compareLogPositions(a, b), `${cursors[i - 1]} < ${cursors[i]}`).toBeLessThan(0);
  }
}

export interface EventRow {
  stream_id: string;
  stream_type: string;
  stream_version: number;
  event_type: string;
  global_position: number;
  transaction_id: string;
  data: any;
  metadata: Record<string, unknown>;
  correlation_id: string | null;
  causation_id: string | null;
}

const EVENT_COLUMNS = `stream_id, stream_type, stream_version, event_type, global_position::int8 AS global_position,
  transaction_id::text AS transaction_id, data, metadata, correlation_id, causation_id`;

/** The events a command appended, in commit order. */
export async function eventsOfCommand(w: World, commandId: string): Promise<EventRow[]> {
  const r = await w.t.db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE metadata->>'commandId' = $1
     ORDER BY transaction_id, global_position`,
    [commandId],
  );
  return r.rows.map((row) => ({ ...row, global_position: Number(row.global_position) }));
}

export async function eventsOfStream(w: World, streamId: string): Promise<EventRow[]> {
  const r = await w.t.db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`,
    [streamId],
  );
  return r.rows.map((row) => ({ ...row, global_position: Number(row.global_position) }));
}

/** The cursor a success must carry: that of the last event its command appended. */
export async function expectCursorOfLastEvent(
  w: World,
  commandId: string,
  cursor: string,
): Promise<EventRow[]> {
  const events = await eventsOfCommand(w, commandId);
  expect(events.length).toBeGreaterThan(0);
  const last = events[events.length - 1]!;
  expect(decodeCursor(cursor)).toEqual({
    transactionId: last.transaction_id,
    globalPosition: last.global_position,
  });
  return events;
}

// ---------------------------------------------------------------------------------------
// Fixtures

export const ADDRESS = {
  line1: '1 Main Street',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};
export const OTHER_ADDRESS = {
  line1: '5 Side Road',
  line2: 'Flat 3',
  city: 'Hamburg',
  postalCode: '20095',
  country: 'DE',
};

export interface Customer {
  id: string;
  email: string;
  /** A customer token bound to this customer (one user id, so replays match). */
  headers: Headers;
  userId: string;
}

export async function customerHeaders(
  w: World,
  customerId: string,
  userId = `user-${customerId.slice(0, 8)}`,
): Promise<Headers> {
  return w.s.auth({ role: 'customer', customerId, userId });
}

export async function newCustomer(w: World, email?: string): Promise<Customer> {
  const id = randomUUID();
  const address = email ?? `c-${id}@example.org`;
  await ok(w, 'registerCustomer', {
    commandId: randomUUID(),
    id,
    name: 'Test Customer',
    email: address,
    phone: '+49 30 123456',
  });
  const userId = `user-${id}`;
  return { id, email: address, userId, headers: await customerHeaders(w, id, userId) };
}

export async function newProduct(
  w: World,
  price: { amount: number; currency: string } = { amount: 1000, currency: 'EUR' },
  initialStock = 100,
): Promise<string> {
  const id = randomUUID();
  await ok(w, 'registerProduct', {
    commandId: randomUUID(),
    id,
    name: `Product ${id.slice(0, 8)}`,
    imageUrl: `https://img.example.org/${id}.png`,
    price,
    initialStock,
  });
  return id;
}

export async function newOrder(
  w: World,
  customer: Customer,
  items: { productId: string; quantity: number }[],
  headers: Headers = customer.headers,
): Promise<any> {
  const p = await ok(
    w,
    'createOrder',
    { commandId: randomUUID(), customerId: customer.id, items, shippingAddress: ADDRESS },
    headers,
  );
  return p.order;
}

export async function payFully(w: World, order: any, headers: Headers = w.admin): Promise<any> {
  return ok(
    w,
    'payOrder',
    {
      commandId: randomUUID(),
      orderId: order.id,
      paymentId: `pay-${randomUUID()}`,
      amount: order.total,
    },
    headers,
  );
}

export type Who = Partial<Principal> & Pick<Principal, 'role'>;
