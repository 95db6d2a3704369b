import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';
import { iso, loadByIds, upsertRows, type Column } from '../projections/batch.js';
import type { Projection } from '../projections/types.js';
import { domainEvent, handleEvent, type EventHandlers } from '../shared/events.js';
import { customerEventTypes, type CustomerEvent } from './events.js';

/** A customer as clients see it. */
export interface CustomerView {
  id: string;
  name: string;
  email: string;
  phone: string;
}

// =======================================================================================
// Customers: one row per registered customer (view `customers`).

export const CUSTOMERS_PROJECTION = 'customers';

interface CustomerRow {
  id: string;
  name: string;
  email: string;
  phone: string;
  version: number;
  registered_at: Date | string;
  updated_at: Date | string;
}

const CUSTOMER_COLUMNS: readonly Column[] = [
  ['id', 'text'],
  ['name', 'text'],
  ['email', 'text'],
  ['phone', 'text'],
  ['version', 'int4'],
  ['registered_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

/** What each customer event makes of its row (the fold sets `version`). */
const customerFolds: EventHandlers<
  CustomerEvent,
  CustomerRow | undefined,
  Omit<CustomerRow, 'version'>
> = {
  CustomerRegistered: (_row, { data: d }) => ({
    id: d.customerId,
    name: d.name,
    email: d.email,
    phone: d.phone,
    registered_at: d.registeredAt,
    updated_at: d.registeredAt,
  }),
  CustomerEmailChanged: (row, ev) => {
    if (!row) throw new Error(`email change of customer ${ev.data.customerId}, not registered`);
    return { ...row, email: ev.data.email, updated_at: ev.data.changedAt };
  },
};

function foldCustomer(row: CustomerRow | undefined, e: StoredEvent): CustomerRow | null {
  if (row && e.version <= row.version) return null;
  const ev = domainEvent(e, customerEventTypes);
  const next = ev && handleEvent(customerFolds, row, ev);
  return next && { ...next, version: e.version };
}

export const customersProjection: Projection = {
  name: CUSTOMERS_PROJECTION,
  version: 1,
  tables: [
    {
      name: 'customers',
      ddl: (t) =>
        `CREATE TABLE ${t} (
          id text PRIMARY KEY,
          name text NOT NULL,
          email text NOT NULL,
          phone text NOT NULL,
          version integer NOT NULL,
          registered_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        )`,
    },
  ],
  eventTypes: customerEventTypes,
  async apply(tx, events, table) {
    const customers = table('customers');
    const ids = events.map((e) => (e.data as { customerId: string }).customerId);
    const rows = new Map(
      (await loadByIds<CustomerRow>(tx, customers, ids)).map((r) => [r.id, r] as const),
    );
    const changed = new Set<string>();
    for (const e of events) {
      const id = (e.data as { customerId: string }).customerId;
      const next = foldCustomer(rows.get(id), e);
      if (!next) continue;
      rows.set(id, next);
      changed.add(id);
    }
    await upsertRows(
      tx,
      customers,
      CUSTOMER_COLUMNS,
      [...changed].map((id) => {
        const r = rows.get(id)!;
        return { ...r, registered_at: iso(r.registered_at), updated_at: iso(r.updated_at) };
      }),
      { key: ['id'], newerOnly: true },
    );
  },
};

/** The customers of `ids` that exist, in no particular order. */
export async function customersByIds(
  db: Queryable,
  ids: readonly string[],
): Promise<CustomerView[]> {
  const r = await db.query<CustomerView>(
    `SELECT id, name, email, phone FROM customers WHERE id = ANY($1::text[])`,
    [ids],
  );
  return r.rows;
}
