import DataLoader from 'dataloader';
import type { Loaders } from './context.js';

/*
 * Helpers for the per-request DataLoaders each feature declares (its `loaders.ts`). Each
 * loader batches every `load` of one tick into one `= ANY($1)` statement, so a nested
 * query over a page of orders costs one statement per kind of thing it shows, not one
 * per row. Loaders are made per request (never shared: the cache is per request, and
 * resolvers check authorisation before anything is returned).
 */

export interface LoaderOptions {
  /**
   * Memoise per key (default true): right for one request. A long-lived context (a
   * subscription's) should pass false, so that each event reads fresh rows; loads of one
   * tick are still batched.
   */
  cache?: boolean;
}

/** The DataLoader options every loader of a request uses. */
export function loaderOptions(o: LoaderOptions = {}) {
  return { maxBatchSize: 1000, cache: o.cache ?? true };
}

/** Rows fetched for a batch of ids, handed back in the order of the ids (null: absent). */
export function byId<V>(
  fetch: (ids: readonly string[]) => Promise<V[]>,
  idOf: (v: V) => string,
  options: DataLoader.Options<string, V | null>,
): DataLoader<string, V | null> {
  return new DataLoader<string, V | null>(async (ids) => {
    const found = new Map((await fetch(ids)).map((v) => [idOf(v), v] as const));
    return ids.map((id) => found.get(id) ?? null);
  }, options);
}

/** Forgets every row a request's loaders memoised (after a read-your-writes wait). */
export function clearLoaders(loaders: Loaders): void {
  for (const loader of Object.values(loaders) as DataLoader<unknown, unknown>[]) loader.clearAll();
}
