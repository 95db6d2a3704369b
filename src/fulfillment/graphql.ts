import { isStaff } from '../auth/principal.js';
import { builder } from '../graphql/builder.js';
import { commandMutation } from '../graphql/command-mutation.js';
import { readError, requireReader, uuidArgument } from '../graphql/read.js';
import { commandIdField } from '../graphql/shared-types.js';
import { orderEntityAfter } from '../orders/graphql.js';
import {
  fulfillmentDecider,
  pendingCommands,
  type FulfillmentFailure,
  type ItemStock,
  type StartedFulfillment,
  type StepRecord,
} from './process.js';
import { type OutgoingCommand } from './triggers.js';
import { fulfillmentStreamId, type FulfillmentItem } from './events.js';
import { markShipmentDelivered } from './use-cases.js';

/** A started fulfillment process as the admin query shows it, with its stream version. */
interface ProcessView {
  state: StartedFulfillment;
  version: number;
}

/** Where the process stands, in a sentence: what it is doing or waiting for. */
function currentStep(s: StartedFulfillment): string {
  switch (s.status) {
    case 'RESERVING': {
      const left = s.items.filter((i) => s.stock[i.productId] !== 'RESERVED').length;
      return `Reserving stock: ${left} of ${s.items.length} products to go`;
    }
    case 'READY_TO_SHIP':
      return s.orderReadyToShip
        ? 'Ready to ship: waiting for shipOrder'
        : 'Creating the shipment and marking the order ready to ship';
    case 'DISPATCHING':
      return 'Dispatching the shipment';
    case 'COMPLETED':
      return 'Completed: the shipment has left';
    case 'COMPENSATING':
      return 'Compensating: releasing stock, refunding, cancelling';
    case 'CANCELLED':
      return 'Cancelled: stock released and payment refunded';
    case 'FAILED':
      return 'Failed: a step needs a person (see failures)';
    default:
      return s satisfies never;
  }
}

const FulfillmentStatusEnum = builder.enumType('FulfillmentStatus', {
  values: [
    'RESERVING',
    'READY_TO_SHIP',
    'DISPATCHING',
    'COMPLETED',
    'COMPENSATING',
    'CANCELLED',
    'FAILED',
  ] as const,
});

const ItemStockEnum = builder.enumType('FulfillmentItemStock', {
  values: ['UNRESERVED', 'RESERVED', 'SHORT', 'RELEASED'] as const,
});

const FulfillmentItemRef = builder
  .objectRef<FulfillmentItem & { stock: ItemStock }>('FulfillmentItem')
  .implement({
    description: 'One product of the order and where its stock reservation stands',
    fields: (t) => ({
      productId: t.exposeID('productId'),
      productName: t.exposeString('productName'),
      quantity: t.exposeInt('quantity'),
      stock: t.field({ type: ItemStockEnum, resolve: (i) => i.stock }),
    }),
  });

const FulfillmentCommandRef = builder.objectRef<OutgoingCommand>('FulfillmentCommand').implement({
  description: 'A command the process sent (and sends again, unchanged, until it takes effect)',
  fields: (t) => ({
    commandId: t.exposeID('commandId', { description: 'Derived from the event that caused it' }),
    step: t.exposeString('step'),
    target: t.exposeString('target', { description: 'product, order or shipment' }),
    streamId: t.exposeID('streamId'),
    type: t.string({ resolve: (c) => c.command.type }),
  }),
});

const FulfillmentStepRef = builder.objectRef<StepRecord>('FulfillmentStep').implement({
  description: 'A step the process has taken, and how it went',
  fields: (t) => ({
    step: t.exposeString('step'),
    productId: t.exposeID('productId', { nullable: true }),
    status: t.exposeString('status', { description: 'PENDING, DONE, SKIPPED or FAILED' }),
    commandId: t.id({ resolve: (s) => s.command.commandId }),
  }),
});

const FulfillmentFailureRef = builder
  .objectRef<FulfillmentFailure>('FulfillmentFailure')
  .implement({
    description: 'A step that failed for good',
    fields: (t) => ({
      step: t.exposeString('step'),
      productId: t.exposeID('productId', { nullable: true }),
      commandId: t.exposeID('commandId'),
      code: t.exposeString('code', { nullable: true }),
      reason: t.exposeString('reason'),
      failedAt: t.field({ type: 'DateTime', resolve: (f) => f.failedAt }),
    }),
  });

const FulfillmentProcessRef = builder.objectRef<ProcessView>('FulfillmentProcess').implement({
  description:
    "An order's fulfillment process (payment → stock → shipment), rebuilt from its own stream",
  fields: (t) => ({
    orderId: t.id({ resolve: (p) => p.state.orderId }),
    status: t.field({ type: FulfillmentStatusEnum, resolve: (p) => p.state.status }),
    step: t.string({
      description: 'Where it stands, in words',
      resolve: (p) => currentStep(p.state),
    }),
    shipmentId: t.id({ resolve: (p) => p.state.shipmentId }),
    items: t.field({
      type: [FulfillmentItemRef],
      resolve: (p) =>
        p.state.items.map((i) => ({ ...i, stock: p.state.stock[i.productId] ?? 'UNRESERVED' })),
    }),
    steps: t.field({ type: [FulfillmentStepRef], resolve: (p) => Object.values(p.state.steps) }),
    pendingCommands: t.field({
      type: [FulfillmentCommandRef],
      description: 'Sent, and not yet known to have taken effect',
      resolve: (p) => pendingCommands(p.state),
    }),
    failures: t.field({ type: [FulfillmentFailureRef], resolve: (p) => p.state.failures }),
    lateFlaggedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it was flagged for not reserving stock in time',
      resolve: (p) => p.state.lateFlaggedAt,
    }),
    startedAt: t.field({ type: 'DateTime', resolve: (p) => p.state.startedAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.state.updatedAt }),
    version: t.int({ description: 'Version of the process stream', resolve: (p) => p.version }),
  }),
});

builder.queryField('fulfillmentProcess', (t) =>
  t.field({
    type: FulfillmentProcessRef,
    nullable: true,
    description:
      'The fulfillment process of an order: its step, pending commands and failures (admin or service); null before the order is paid',
    args: { orderId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      if (!isStaff(principal))
        throw readError('FORBIDDEN', 'Only admin or service callers may inspect processes');
      const orderId = uuidArgument('orderId', args.orderId);
      const { state, version } = await ctx.commands.load(
        fulfillmentDecider,
        fulfillmentStreamId(orderId),
      );
      return state.status === 'NOT_STARTED' ? null : { state, version };
    },
  }),
);

const MarkShipmentDeliveredInput = builder.inputType('MarkShipmentDeliveredInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
  }),
});

commandMutation('markShipmentDelivered', {
  description:
    "Records that the order's shipment reached the customer (admin or service, e.g. a carrier webhook); a repeated notice changes nothing",
  input: MarkShipmentDeliveredInput,
  staffOnly: true,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) => markShipmentDelivered(ctx, { orderId: String(input.orderId) }, env),
  // Should the orders read model lag, the answer still shows the shipment delivered.
  entity: orderEntityAfter({
    shape: { shipment: true },
    apply: (order) =>
      order.shipment ? { ...order, shipment: { ...order.shipment, status: 'DELIVERED' } } : order,
  }),
});
