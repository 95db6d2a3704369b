import type DataLoader from 'dataloader';
import type { Queryable } from '../db/types.js';
import { byId, loaderOptions, type LoaderOptions } from '../graphql/loaders.js';
import { productsByIds, type ProductView } from './projections.js';

declare module '../graphql/context.js' {
  interface Loaders {
    product: DataLoader<string, ProductView | null>;
  }
}

export function catalogLoaders(db: Queryable, o: LoaderOptions = {}) {
  return {
    product: byId(
      (ids) => productsByIds(db, ids),
      (p: ProductView) => p.id,
      loaderOptions(o),
    ),
  };
}
