import { canActForCustomer, isStaff } from '../auth/principal.js';
import { InvalidInputError } from '../eventstore/errors.js';
import { EventConnectionRef, eventPage } from '../graphql/events.js';
import type { StoredEvent } from '../eventstore/types.js';
import { builder } from '../graphql/builder.js';
import type { GraphQLContext } from '../graphql/context.js';
import { connection, readError, requireReader, uuidArgument } from '../graphql/read.js';
import { MoneyRef } from '../graphql/shared-types.js';
import type { Money } from '../shared/money.js';
import { orderDecider, orderStreamId, type OrderStatus } from './decider.js';
import { domainEvent } from '../shared/events.js';
import { orderEventTypes, type OrderEventType, type OrderLine } from './events.js';
import { OrderItemRef, OrderStatusEnum } from './graphql.js';

/*
 * Temporal and audit queries of an order (docs/architecture.md, "Event store
 * invariants", temporal reads). They read the event store, never the
 * projections: the state as of a version or a time is folded by the command handler's
 * `load` (the newest snapshot at or below the target, then the events after it), the
 * status history and the event list come from the order's stream.
 *
 * Authorisation is the order's own: staff see every order; for a customer token another
 * customer's order is treated as one that does not exist, as `order(id)` answers null
 * for it: `at` is null, `statusHistory` and `events` are empty.
 */

interface OrderHistoryView {
  orderId: string;
  streamId: string;
  /** False when the caller may not see this order: everything then reads as empty. */
  visible: boolean;
  /** The stream, read once per request when needed. */
  stream?: Promise<StoredEvent[]>;
}

export interface OrderStateView {
  version: number;
  status: OrderStatus;
  items: OrderLine[];
  total: Money;
  asOf: Date;
}

export interface StatusChange {
  status: OrderStatus;
  at: Date;
  version: number;
}

/** The status an order event sets; null for one that leaves it as it is. */
const STATUS_OF: Record<OrderEventType, OrderStatus | null> = {
  OrderCreated: 'PENDING',
  OrderItemAdded: null,
  OrderItemRemoved: null,
  OrderShippingAddressChanged: null,
  OrderBillingAddressChanged: null,
  OrderPaid: 'PAID',
  OrderReadyToShip: null,
  OrderShipped: 'SHIPPED',
  OrderPaymentRefunded: null,
  OrderCancelled: 'CANCELLED',
};

function badInput(err: unknown): never {
  if (err instanceof InvalidInputError)
    throw readError('BAD_USER_INPUT', err.message, { argument: err.field });
  throw err;
}

const streamOf = (ctx: GraphQLContext, h: OrderHistoryView): Promise<StoredEvent[]> =>
  (h.stream ??= ctx.store.readStream(h.streamId).catch(badInput));

/** When the event that made `version` was recorded. */
async function recordedAtOf(ctx: GraphQLContext, streamId: string, version: number) {
  const [e] = await ctx.store.readStream(streamId, { fromVersion: version, toVersion: version });
  if (!e) throw new Error(`event ${version} of ${streamId} is missing`);
  return e.recordedAt;
}

/**
 * The order as of `target` (a version, a time, or now), or null where it did not exist
 * yet (or, for a version, not any more: beyond the stream's last version).
 */
export async function orderStateAt(
  ctx: GraphQLContext,
  streamId: string,
  target: { version?: number; time?: Date },
): Promise<OrderStateView | null> {
  let version = target.version;
  let asOf: Date | undefined;
  if (target.time) {
    // The version as of that time, then a load from the snapshot at or below it.
    const [last] = await ctx.store
      .readStream(streamId, { toTime: target.time, backwards: true, limit: 1 })
      .catch(badInput);
    if (!last) return null;
    version = last.version;
    asOf = target.time;
  }
  if (version === 0) return null;
  const loaded = await ctx.commands
    .load(orderDecider, streamId, version === undefined ? {} : { version })
    .catch(badInput);
  const { state } = loaded;
  if (state.status === 'NOT_CREATED') return null;
  if (version !== undefined && loaded.version < version) return null;
  asOf ??= loaded.lastEvent?.recordedAt ?? (await recordedAtOf(ctx, streamId, loaded.version));
  return {
    version: loaded.version,
    status: state.status,
    items: state.items,
    total: state.total,
    asOf,
  };
}

const OrderStateRef = builder.objectRef<OrderStateView>('OrderState').implement({
  description: 'An order as it was at a version or a time, rebuilt from its events',
  fields: (t) => ({
    version: t.exposeInt('version', { description: 'The version this state is at' }),
    status: t.field({ type: OrderStatusEnum, resolve: (s) => s.status }),
    items: t.field({ type: [OrderItemRef], resolve: (s) => s.items }),
    total: t.field({ type: MoneyRef, resolve: (s) => s.total }),
    asOf: t.field({
      type: 'DateTime',
      description: 'The time asked for; for a version, when the event that made it was recorded',
      resolve: (s) => s.asOf,
    }),
  }),
});

const StatusChangeRef = builder.objectRef<StatusChange>('StatusChange').implement({
  fields: (t) => ({
    status: t.field({ type: OrderStatusEnum, resolve: (s) => s.status }),
    at: t.field({
      type: 'DateTime',
      description: 'When the event was recorded (asking `at(time:)` this time shows the status)',
      resolve: (s) => s.at,
    }),
    version: t.exposeInt('version'),
  }),
});

const OrderHistoryRef = builder.objectRef<OrderHistoryView>('OrderHistory').implement({
  description: 'The past of an order, from the event store',
  fields: (t) => ({
    orderId: t.exposeID('orderId'),
    at: t.field({
      type: OrderStateRef,
      nullable: true,
      description:
        'The state as of a time (events recorded at or before it) or a version; the current state without either. Null where the order did not exist (or the version is beyond its last).',
      args: {
        time: t.arg({ type: 'DateTime', required: false }),
        version: t.arg.int({ required: false }),
      },
      resolve: (h, args, ctx) => {
        if (args.time != null && args.version != null)
          throw readError('BAD_USER_INPUT', 'Give either time or version, not both');
        if (args.version != null && args.version < 0)
          throw readError('BAD_USER_INPUT', 'version must be 0 or more', { argument: 'version' });
        if (!h.visible) return null;
        return orderStateAt(ctx, h.streamId, {
          ...(args.version != null ? { version: args.version } : {}),
          ...(args.time != null ? { time: args.time } : {}),
        });
      },
    }),
    statusHistory: t.field({
      type: [StatusChangeRef],
      description: 'Every change of status, oldest first',
      resolve: async (h, _args, ctx) => {
        if (!h.visible) return [];
        const changes: StatusChange[] = [];
        for (const e of await streamOf(ctx, h)) {
          const ev = domainEvent(e, orderEventTypes);
          const status = ev && STATUS_OF[ev.type];
          if (status) changes.push({ status, at: e.recordedAt, version: e.version });
        }
        return changes;
      },
    }),
    events: t.field({
      type: EventConnectionRef,
      description: 'The order’s events in order (default 100 per page, at most 1000)',
      args: {
        first: t.arg.int({ required: false }),
        after: t.arg.string({ required: false }),
      },
      resolve: (h, args, ctx) => {
        if (!h.visible) return connection<StoredEvent>([], (e) => e.cursor, false);
        return eventPage(ctx, {
          streamId: h.streamId,
          first: args.first,
          after: args.after ?? null,
        });
      },
    }),
  }),
});

builder.queryField('orderHistory', (t) =>
  t.field({
    type: OrderHistoryRef,
    description: 'The past of an order, rebuilt from the event store (not the projections)',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      const orderId = uuidArgument('id', args.id);
      const streamId = orderStreamId(orderId);
      const h: OrderHistoryView = { orderId, streamId, visible: true };
      if (!isStaff(principal)) {
        const [created] = await ctx.store.readStream(streamId, { toVersion: 1 }).catch(badInput);
        const customerId =
          created?.type === 'OrderCreated'
            ? (created.data as { customerId: string }).customerId
            : undefined;
        h.visible = customerId !== undefined && canActForCustomer(principal, customerId);
      }
      return h;
    },
  }),
);
