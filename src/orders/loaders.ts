import DataLoader from 'dataloader';
import type { Queryable } from '../db/types.js';
import { byId, loaderOptions, type LoaderOptions } from '../graphql/loaders.js';
import {
  ordersByIds,
  timelinesByOrderIds,
  type OrderReadModel,
  type TimelineEntry,
} from './projections.js';
import {
  emptyStatistics,
  statisticsByCustomerIds,
  type OrderStatisticsView,
} from './statistics.js';

declare module '../graphql/context.js' {
  interface Loaders {
    order: DataLoader<string, OrderReadModel | null>;
    /** An order's timeline, oldest first ([] for an unknown order). */
    timeline: DataLoader<string, TimelineEntry[]>;
    /** A customer's order statistics (zeros for a customer without orders). */
    statistics: DataLoader<string, OrderStatisticsView>;
  }
}

export function orderLoaders(db: Queryable, o: LoaderOptions = {}) {
  const options = loaderOptions(o);
  return {
    order: byId(
      (ids) => ordersByIds(db, ids),
      (x: OrderReadModel) => x.id,
      options,
    ),
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
