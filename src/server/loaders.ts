import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { CATALOG_PROJECTION, productsByIds } from '../catalog/projections.js';
import type { ProductView } from '../catalog/graphql.js';
import {
  CUSTOMER_STATS_PROJECTION,
  CUSTOMERS_PROJECTION,
  customersByIds,
  emptyStatistics,
  statisticsByCustomerIds,
  type OrderStatisticsView,
} from '../customers/projections.js';
import type { CustomerView } from '../customers/graphql.js';
import type { Queryable } from '../db/types.js';
import {
  ORDERS_PROJECTION,
  ordersByIds,
  timelinesByOrderIds,
  type OrderReadModel,
  type TimelineEntry,
} from '../orders/projections.js';
import { ReadTimeoutError } from '../projections/runtime.js';
import type { GraphQLContext } from '../graphql/context.js';

/**
 * Per-request DataLoaders over the read models' views. Each batches every `load` of one
 * tick into one `= ANY($1)` statement, so a nested query over a page of orders costs one
 * statement per kind of thing it shows (orders, customers, products, timelines…), not
 * one per row. Created for each request (never shared: the cache is per request, and
 * authorisation is checked by the resolvers before anything is returned).
 */
export interface Loaders {
  order: DataLoader<string, OrderReadModel | null>;
  customer: DataLoader<string, CustomerView | null>;
  product: DataLoader<string, ProductView | null>;
  /** An order's timeline, oldest first ([] for an unknown order). */
  timeline: DataLoader<string, TimelineEntry[]>;
  /** A customer's order statistics (zeros for a customer without orders). */
  statistics: DataLoader<string, OrderStatisticsView>;
}

export interface LoaderOptions {
  /**
   * Memoise per key (default true): right for one request. A long-lived context (a
   * subscription's) should pass false, so that each event reads fresh rows; loads of one
   * tick are still batched.
   */
  cache?: boolean;
}

/** Rows fetched for a batch of ids, handed back in the order of the ids. */
function byId<V>(
  fetch: (ids: readonly string[]) => Promise<V[]>,
  idOf: (v: V) => string,
  options: DataLoader.Options<string, V | null>,
): DataLoader<string, V | null> {
  return new DataLoader<string, V | null>(async (ids) => {
    const found = new Map((await fetch(ids)).map((v) => [idOf(v), v] as const));
    return ids.map((id) => found.get(id) ?? null);
  }, options);
}

export function createLoaders(db: Queryable, o: LoaderOptions = {}): Loaders {
  const options = { maxBatchSize: 1000, cache: o.cache ?? true };
  const orderId = (x: OrderReadModel) => x.id;
  const customerId = (x: CustomerView) => x.id;
  const productId = (x: ProductView) => x.id;
  return {
    order: byId((ids) => ordersByIds(db, ids), orderId, options),
    customer: byId((ids) => customersByIds(db, ids), customerId, options),
    product: byId((ids) => productsByIds(db, ids), productId, options),
    timeline: new DataLoader<string, TimelineEntry[]>(async (ids) => {
      const groups = new Map<string, TimelineEntry[]>(ids.map((id) => [id, []]));
      for (const entry of await timelinesByOrderIds(db, ids))
        groups.get(entry.orderId)?.push(entry);
      return ids.map((id) => groups.get(id)!);
    }, options),
    statistics: new DataLoader<string, OrderStatisticsView>(async (ids) => {
      const found = new Map(
        (await statisticsByCustomerIds(db, ids)).map((s) => [s.customerId, s] as const),
      );
      return ids.map((id) => found.get(id) ?? emptyStatistics(id));
    }, options),
  };
}

// ---------------------------------------------------------------------------------------
// Read-your-writes

/**
 * The projections an `Order` or a `Customer` can reach (its orders, their lines'
 * products, the customer's statistics): a read with `consistentWith` waits for all of
 * them, so whatever part of the graph the client selects reflects the write.
 */
export const ORDER_READ_MODELS: readonly string[] = [
  ORDERS_PROJECTION,
  CUSTOMERS_PROJECTION,
  CATALOG_PROJECTION,
  CUSTOMER_STATS_PROJECTION,
];
export const CUSTOMER_READ_MODELS = ORDER_READ_MODELS;
export const PRODUCT_READ_MODELS: readonly string[] = [CATALOG_PROJECTION];

export const DEFAULT_READ_TIMEOUT_MS = 5_000;

/**
 * Resolves once the named projections have applied the log up to `cursor`; after the
 * read timeout (`readTimeoutMs` of the services, default 5 s) a GraphQL error with code
 * READ_TIMEOUT. A null/empty cursor returns at once.
 *
 * The request's loaders are emptied after the wait: something another field (or an
 * earlier mutation of the same operation) loaded before may be older than the cursor.
 */
export async function awaitReadModels(
  ctx: Pick<GraphQLContext, 'projections' | 'readTimeoutMs' | 'loaders'>,
  cursor: string | null | undefined,
  names: readonly string[],
): Promise<void> {
  if (!cursor) return;
  const timeout = ctx.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  try {
    await ctx.projections.waitFor(cursor, names, timeout);
  } catch (err) {
    if (err instanceof ReadTimeoutError) {
      throw new GraphQLError(
        `The read models did not reach cursor ${cursor} within ${timeout} ms; try again shortly`,
        { extensions: { code: 'READ_TIMEOUT', cursor, waitedMs: timeout } },
      );
    }
    throw err;
  }
  clearLoaders(ctx.loaders);
}

function clearLoaders(loaders: Loaders): void {
  for (const loader of Object.values(loaders) as DataLoader<string, unknown>[]) loader.clearAll();
}

/**
 * The entity a mutation's success shows: from the read model, once it has caught up with
 * the command's cursor (API.md: read-your-writes). If the read models do not catch up in
 * time the mutation answers READ_TIMEOUT; its command stays applied (a retry with the
 * same commandId appends nothing and answers with the same cursor).
 */
export async function readAfterWrite<T>(
  ctx: GraphQLContext,
  cursor: string,
  names: readonly string[],
  load: (loaders: Loaders) => Promise<T | null>,
  what: string,
): Promise<T> {
  await awaitReadModels(ctx, cursor, names);
  const entity = await load(ctx.loaders);
  if (entity === null) throw new Error(`${what} is missing from the read model at ${cursor}`);
  return entity;
}
