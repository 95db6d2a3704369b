import { GraphQLError } from 'graphql';
import { canActForCustomer, isStaff } from '../auth/principal.js';
import { compareLogPositions, decodeCursor } from '../eventstore/cursor.js';
import { builder } from '../graphql/builder.js';
import { requireCursorInLog } from '../graphql/consistency.js';
import { StoredEventRef } from '../graphql/events.js';
import type { GraphQLContext } from '../graphql/context.js';
import { optionalUuidArgument, readError, requireReader, uuidArgument } from '../graphql/read.js';
import { cutOffError, deliver, isCutOff, type CutOff } from '../live/delivery.js';
import type { LiveEvent } from '../live/hub.js';
import { orderDecider, orderStreamId, ORDER_STREAM_TYPE, type OrderStatus } from './decider.js';
import { expectDomainEvent } from '../shared/events.js';
import { orderEventTypes } from './events.js';
import { OrderStatusEnum } from './graphql.js';
import { ORDER_MILESTONES } from './live.js';
import { timelineLine } from './timeline.js';
import {
  FULFILLMENT_STREAM_TYPE,
  fulfillmentStreamId,
  SHIPMENT_STREAM_TYPE,
  shipmentIdFor,
  shipmentStreamId,
} from '../fulfillment/events.js';

/** One step of an order's life, as live feeds show it. */
interface TimelineEvent {
  event: LiveEvent;
  orderId: string;
  description: string;
  at: string;
  status: OrderStatus;
}

/**
 * The streams of an order's timeline: the order, its fulfillment process and its shipment
 * (whose id follows from the order's). Their milestones are lines of the same timeline.
 */
const timelineStreams = (orderId: string): string[] => [
  orderStreamId(orderId),
  fulfillmentStreamId(orderId),
  shipmentStreamId(shipmentIdFor(orderId)),
];

/**
 * The order's status at a fulfillment milestone: its own events up to that point of the
 * log, folded. Milestones are few per order, and an order stream is short.
 */
function statusAtMilestone(ctx: GraphQLContext, e: LiveEvent): Promise<OrderStatus> {
  // Every subscriber of the order asks for the same milestone: the log does not change, so
  // one read answers them all.
  let status = milestoneStatus.get(e.eventId);
  if (!status) {
    status = foldOrderUpTo(ctx, e);
    status.catch(() => milestoneStatus.delete(e.eventId));
    milestoneStatus.set(e.eventId, status);
    if (milestoneStatus.size > MILESTONE_CACHE) {
      milestoneStatus.delete(milestoneStatus.keys().next().value!);
    }
  }
  return status;
}

/** Recent milestones' order status, by event id (oldest first, for eviction). */
const milestoneStatus = new Map<string, Promise<OrderStatus>>();
const MILESTONE_CACHE = 1_000;

async function foldOrderUpTo(ctx: GraphQLContext, e: LiveEvent): Promise<OrderStatus> {
  const orderId = (e.data as { orderId: string }).orderId;
  const at = decodeCursor(e.cursor);
  const events = await ctx.store.readStream(orderStreamId(orderId));
  let state = orderDecider.initialState;
  for (const ev of events) {
    if (compareLogPositions(decodeCursor(ev.cursor), at) > 0) break;
    state = orderDecider.evolve(state, expectDomainEvent(ev, orderEventTypes));
  }
  return state.status === 'NOT_CREATED' ? 'PENDING' : state.status;
}

/** The order's status right after `event`; only an address change needs the aggregate. */
async function statusAfter(ctx: GraphQLContext, e: LiveEvent): Promise<OrderStatus> {
  if (e.streamType !== ORDER_STREAM_TYPE) return statusAtMilestone(ctx, e);
  const event = expectDomainEvent(e, orderEventTypes);
  switch (event.type) {
    case 'OrderCreated':
    case 'OrderItemAdded':
    case 'OrderItemRemoved':
    case 'OrderBillingAddressChanged':
      return 'PENDING';
    case 'OrderPaid':
    case 'OrderReadyToShip':
    case 'OrderPaymentRefunded':
      return 'PAID';
    case 'OrderShipped':
      return 'SHIPPED';
    case 'OrderCancelled':
      return 'CANCELLED';
    case 'OrderShippingAddressChanged': {
      const { state } = await ctx.commands.load(orderDecider, e.streamId, { version: e.version });
      return state.status === 'NOT_CREATED' ? 'PENDING' : state.status;
    }
    default:
      return event satisfies never;
  }
}

async function toTimelineEvent(
  ctx: GraphQLContext,
  item: LiveEvent | CutOff,
): Promise<TimelineEvent> {
  if (isCutOff(item)) throw cutOffError(item);
  return {
    event: item,
    ...timelineLine(item, item.streamType === ORDER_STREAM_TYPE),
    status: await statusAfter(ctx, item),
  };
}

const OrderTimelineEventRef = builder.objectRef<TimelineEvent>('OrderTimelineEvent').implement({
  description: 'An event of an order, live',
  fields: (t) => ({
    cursor: t.field({
      type: 'Cursor',
      description: 'Resume the feed after this event',
      resolve: (e) => e.event.cursor,
    }),
    orderId: t.id({ resolve: (e) => e.orderId }),
    type: t.string({ resolve: (e) => e.event.type }),
    version: t.int({ resolve: (e) => e.event.version }),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
    description: t.string({ resolve: (e) => e.description }),
    status: t.field({
      type: OrderStatusEnum,
      description: 'The order status after this event',
      resolve: (e) => e.status,
    }),
    event: t.field({ type: StoredEventRef, resolve: (e) => e.event }),
  }),
});

builder.subscriptionField('orderTimeline', (t) =>
  t.field({
    type: OrderTimelineEventRef,
    description:
      "An order's events from its start (or after `after`), then live; with the milestones of its fulfillment (stock reserved, shipment created, …)",
    args: {
      orderId: t.arg.id({ required: true }),
      after: t.arg({ type: 'Cursor', required: false }),
    },
    subscribe: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      const orderId = uuidArgument('orderId', args.orderId);
      const { state } = await ctx.commands.load(orderDecider, orderStreamId(orderId));
      if (state.status === 'NOT_CREATED') {
        // Not yet created is fine for staff (watch an order being placed); customers see only their own.
        if (!isStaff(principal))
          throw new GraphQLError(`Order ${orderId} not found`, {
            extensions: { code: 'NOT_FOUND' },
          });
      } else if (!canActForCustomer(principal, state.customerId)) {
        throw readError('FORBIDDEN', 'This order belongs to another customer');
      }
      if (args.after) await requireCursorInLog(ctx, args.after, 'after');
      const sub = ctx.live.subscribe(
        {
          streamIds: timelineStreams(orderId),
          // Of the fulfillment streams, only the milestones (as on the read model's timeline).
          where: (e) => e.streamType === ORDER_STREAM_TYPE || ORDER_MILESTONES.has(e.type),
        },
        args.after ? { replay: 'after', after: args.after } : { replay: 'all' },
      );
      return deliver(ctx, sub);
    },
    resolve: (item, _args, ctx) => toTimelineEvent(ctx, item),
  }),
);

builder.subscriptionField('orderUpdates', (t) =>
  t.field({
    type: OrderTimelineEventRef,
    description:
      'Every order event of one customer, with the milestones of their fulfillment, live (admin and service may omit customerId: all orders)',
    args: {
      customerId: t.arg.id({ required: false }),
      after: t.arg({
        type: 'Cursor',
        required: false,
        description: 'Replay from this cursor first',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      let customerId = optionalUuidArgument('customerId', args.customerId) ?? undefined;
      if (principal.role === 'customer') customerId ??= principal.customerId;
      if (customerId === undefined) {
        if (!isStaff(principal)) throw readError('FORBIDDEN', 'customerId is required');
      } else if (!canActForCustomer(principal, customerId)) {
        throw readError('FORBIDDEN', 'A customer may only follow its own orders');
      }
      if (args.after) await requireCursorInLog(ctx, args.after, 'after');
      const sub = ctx.live.subscribe(
        {
          streamTypes: [ORDER_STREAM_TYPE, FULFILLMENT_STREAM_TYPE, SHIPMENT_STREAM_TYPE],
          // Order events and the milestones of their fulfillment, as on orderTimeline.
          where: (e) =>
            (e.streamType === ORDER_STREAM_TYPE || ORDER_MILESTONES.has(e.type)) &&
            (customerId === undefined || e.customerId === customerId),
        },
        args.after ? { replay: 'after', after: args.after } : { replay: 'none' },
      );
      return deliver(ctx, sub);
    },
    resolve: (item, _args, ctx) => toTimelineEvent(ctx, item),
  }),
);
