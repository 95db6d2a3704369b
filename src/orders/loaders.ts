import DataLoader from 'dataloader';
import type { Queryable } from '../db/types.js';
import { byId, loaderOptions, type LoaderOptions } from '../graphql/loaders.js';
import {
  ordersByIds,
  ordersByNumbers,
  ordersWithTimelinesByIds,
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
    /**
     * An order, read together with its timeline (one statement), which it primes the
     * `order` and `timeline` loaders with: for a query that shows both.
     */
    orderWithTimeline: DataLoader<string, OrderReadModel | null>;
    /** An order by its canonical number (`SO-000042`); primes the `order` loader. */
    orderByNumber: DataLoader<string, OrderReadModel | null>;
    /** An order's timeline, oldest first ([] for an unknown order). */
    timeline: DataLoader<string, TimelineEntry[]>;
    /** A customer's order statistics (zeros for a customer without orders). */
    statistics: DataLoader<string, OrderStatisticsView>;
  }
}

export function orderLoaders(db: Queryable, o: LoaderOptions = {}) {
  const options = loaderOptions(o);
  const timeline = new DataLoader<string, TimelineEntry[]>(async (ids) => {
    const groups = new Map<string, TimelineEntry[]>(ids.map((id) => [id, []]));
    for (const entry of await timelinesByOrderIds(db, ids)) groups.get(entry.orderId)?.push(entry);
    return ids.map((id) => groups.get(id)!);
  }, options);
  const order = byId(
    (ids) => ordersByIds(db, ids),
    (x: OrderReadModel) => x.id,
    options,
  );
  return {
    order,
    orderWithTimeline: byId(
      async (ids) => {
        const rows = await ordersWithTimelinesByIds(db, ids);
        for (const r of rows) {
          order.prime(r.order.id, r.order);
          timeline.prime(r.order.id, r.timeline);
        }
        return rows.map((r) => r.order);
      },
      (x: OrderReadModel) => x.id,
      options,
    ),
    orderByNumber: byId(
      async (numbers) => {
        const rows = await ordersByNumbers(db, numbers);
        for (const r of rows) order.prime(r.id, r);
        return rows;
      },
      (x: OrderReadModel) => x.orderNumber,
      options,
    ),
    timeline,
    statistics: new DataLoader<string, OrderStatisticsView>(async (ids) => {
      const found = new Map(
        (await statisticsByCustomerIds(db, ids)).map((s) => [s.customerId, s] as const),
      );
      return ids.map((id) => found.get(id) ?? emptyStatistics(id));
    }, options),
  };
}
