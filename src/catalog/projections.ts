import type { Queryable } from '../db/types.js';
import type { StoredEvent } from '../eventstore/types.js';
import { ddlBlock, iso, loadByIds, upsertRows, type Column } from '../projections/batch.js';
import type { Projection } from '../projections/types.js';
import { domainEvent, handleEvent, type EventHandlers } from '../shared/events.js';
import type { Money } from '../shared/money.js';
import { productEventTypes, type ProductEvent } from './events.js';

/** A product as clients see it. */
export interface ProductView {
  id: string;
  name: string;
  imageUrl: string;
  price: Money;
  /** Units on hand that no order has reserved. */
  availableStock: number;
}

/** The catalogue read model: one row per product (view `products`). */
export const CATALOG_PROJECTION = 'catalog';

interface ProductRow {
  id: string;
  name: string;
  image_url: string;
  price_amount: number;
  price_currency: string;
  available_stock: number;
  version: number;
  registered_at: Date | string;
  updated_at: Date | string;
}

const PRODUCT_COLUMNS: readonly Column[] = [
  ['id', 'text'],
  ['name', 'text'],
  ['image_url', 'text'],
  ['price_amount', 'int8'],
  ['price_currency', 'text'],
  ['available_stock', 'int8'],
  ['version', 'int4'],
  ['registered_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
];

/** The row of a product that an event other than its registration changes. */
function registered(row: ProductRow | undefined, ev: ProductEvent): ProductRow {
  if (!row) throw new Error(`${ev.type} for product ${ev.data.productId}, which is not registered`);
  return row;
}

/** What each product event makes of its row (the fold sets `version`). */
const productFolds: EventHandlers<
  ProductEvent,
  ProductRow | undefined,
  Omit<ProductRow, 'version'>
> = {
  ProductRegistered: (_row, { data: d }) => ({
    id: d.productId,
    name: d.name,
    image_url: d.imageUrl,
    price_amount: d.price.amount,
    price_currency: d.price.currency,
    available_stock: d.initialStock,
    registered_at: d.registeredAt,
    updated_at: d.registeredAt,
  }),
  ProductPriceChanged: (row, ev) => ({
    ...registered(row, ev),
    price_amount: ev.data.price.amount,
    price_currency: ev.data.price.currency,
    updated_at: ev.data.changedAt,
  }),
  ProductRestocked: (row, ev) => ({
    ...registered(row, ev),
    available_stock: ev.data.availableAfter,
    updated_at: ev.data.restockedAt,
  }),
  StockReserved: (row, ev) => ({
    ...registered(row, ev),
    available_stock: ev.data.availableAfter,
    updated_at: ev.data.reservedAt,
  }),
  StockReleased: (row, ev) => ({
    ...registered(row, ev),
    available_stock: ev.data.availableAfter,
    updated_at: ev.data.releasedAt,
  }),
};

/** Folds one product event into its row; returns the row to write, or null to skip. */
function foldProduct(row: ProductRow | undefined, e: StoredEvent): ProductRow | null {
  // Idempotent per row: an event at or below the row's version was applied already.
  if (row && e.version <= row.version) return null;
  const ev = domainEvent(e, productEventTypes);
  const next = ev && handleEvent(productFolds, row, ev);
  return next && { ...next, version: e.version };
}

export const catalogProjection: Projection = {
  name: CATALOG_PROJECTION,
  version: 1,
  tables: [
    {
      name: 'products',
      ddl: (t) =>
        ddlBlock(
          `CREATE TABLE ${t} (
            id text PRIMARY KEY,
            name text NOT NULL,
            image_url text NOT NULL,
            price_amount bigint NOT NULL,
            price_currency text NOT NULL,
            available_stock bigint NOT NULL,
            version integer NOT NULL,
            registered_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
          )`,
          `CREATE INDEX ${t}_name_idx ON ${t} (name, id)`,
        ),
    },
  ],
  eventTypes: productEventTypes,
  async apply(tx, events, table) {
    const products = table('products');
    const ids = events.map((e) => (e.data as { productId: string }).productId);
    const rows = new Map(
      (await loadByIds<ProductRow>(tx, products, ids)).map((r) => [r.id, r] as const),
    );
    const changed = new Set<string>();
    for (const e of events) {
      const id = (e.data as { productId: string }).productId;
      const next = foldProduct(rows.get(id), e);
      if (!next) continue;
      rows.set(id, next);
      changed.add(id);
    }
    await upsertRows(
      tx,
      products,
      PRODUCT_COLUMNS,
      [...changed].map((id) => {
        const r = rows.get(id)!;
        return { ...r, registered_at: iso(r.registered_at), updated_at: iso(r.updated_at) };
      }),
      { key: ['id'], newerOnly: true },
    );
  },
};

// ---------------------------------------------------------------------------------------
// Reads (the `products` view only)

const PRODUCT_SELECT = `SELECT id, name, image_url, price_amount, price_currency, available_stock FROM products`;

const toView = (r: ProductRow): ProductView => ({
  id: r.id,
  name: r.name,
  imageUrl: r.image_url,
  price: { amount: r.price_amount, currency: r.price_currency },
  availableStock: r.available_stock,
});

/** The products of `ids` that exist, in no particular order. */
export async function productsByIds(db: Queryable, ids: readonly string[]): Promise<ProductView[]> {
  const r = await db.query<ProductRow>(`${PRODUCT_SELECT} WHERE id = ANY($1::text[])`, [ids]);
  return r.rows.map(toView);
}

/** Where a page of products starts: after this (name, id). */
export interface ProductKey {
  name: string;
  id: string;
}

/** A page of the catalogue ordered by name (then id); `limit + 1` rows tell if there is more. */
export async function productsPage(
  db: Queryable,
  o: { limit: number; after?: ProductKey | undefined },
): Promise<{ rows: ProductView[]; hasNextPage: boolean }> {
  const params: unknown[] = [o.limit + 1];
  let where = '';
  if (o.after) {
    params.push(o.after.name, o.after.id);
    where = 'WHERE (name, id) > ($2::text, $3::text)';
  }
  const r = await db.query<ProductRow>(
    `${PRODUCT_SELECT} ${where} ORDER BY name, id LIMIT $1`,
    params,
  );
  return {
    rows: r.rows.slice(0, o.limit).map(toView),
    hasNextPage: r.rows.length > o.limit,
  };
}

export async function countProducts(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM products');
  return r.rows[0]?.n ?? 0;
}
