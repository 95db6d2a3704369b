import { catalogLoaders } from '../catalog/loaders.js';
import { customerLoaders } from '../customers/loaders.js';
import type { Queryable } from '../db/types.js';
import type { Loaders } from '../graphql/context.js';
import type { LoaderOptions } from '../graphql/loaders.js';
import { orderLoaders } from '../orders/loaders.js';

/** A request's DataLoaders: every feature's, made fresh for each request (or subscription). */
export function createLoaders(db: Queryable, o: LoaderOptions = {}): Loaders {
  return { ...catalogLoaders(db, o), ...customerLoaders(db, o), ...orderLoaders(db, o) };
}
