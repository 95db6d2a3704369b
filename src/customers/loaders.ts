import type DataLoader from 'dataloader';
import type { Queryable } from '../db/types.js';
import { byId, loaderOptions, type LoaderOptions } from '../graphql/loaders.js';
import { customersByIds, type CustomerView } from './projections.js';

declare module '../graphql/context.js' {
  interface Loaders {
    customer: DataLoader<string, CustomerView | null>;
  }
}

export function customerLoaders(db: Queryable, o: LoaderOptions = {}) {
  return {
    customer: byId(
      (ids) => customersByIds(db, ids),
      (c: CustomerView) => c.id,
      loaderOptions(o),
    ),
  };
}
