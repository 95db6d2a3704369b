import { canActForCustomer, type Principal } from '../auth/principal.js';
import { ProductRef } from '../catalog/graphql.js';
import { productDecider, productInfo, productStreamId } from '../catalog/index.js';
import type { ProductInfo } from '../catalog/index.js';
import { CustomerRef } from '../customers/graphql.js';
import { customerStreamId } from '../customers/index.js';
import { builder } from '../graphql/builder.js';
import { asCommand, checkUuids, envelope, requireStaff } from '../graphql/commands.js';
import type { GraphQLContext } from '../graphql/context.js';
import { readAfterWrite, readModelsReach } from '../graphql/consistency.js';
import { COMMAND_ERRORS, ForbiddenErrorResult } from '../graphql/errors.js';
import {
  AddressInput,
  AddressRef,
  commandIdField,
  MoneyInput,
  MoneyRef,
} from '../graphql/shared-types.js';
import { successType } from '../graphql/success.js';
import { multiply } from '../shared/money.js';
import type { OrderCommand } from './commands.js';
import { orderDecider, orderStreamId, type OrderState } from './decider.js';
import type { OrderLine } from './events.js';
import { ORDERS_PROJECTION, type OrderReadModel } from './projections.js';

/** An order as clients see it: the read model's row (projection `orders`). */
export type OrderView = OrderReadModel;

export const OrderStatusEnum = builder.enumType('OrderStatus', {
  values: ['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'] as const,
});

export const OrderItemRef = builder.objectRef<OrderLine>('OrderItem').implement({
  description: 'One product in an order, at the price captured when it was added',
  fields: (t) => ({
    product: t.field({
      type: ProductRef,
      description:
        'The catalogue entry as it is now (the line keeps the name and price of when it was added)',
      resolve: async (line, _args, ctx) =>
        // Each projection runs on its own: should the catalogue lag behind the orders, the
        // line's captured data stands in (stock unknown: 0) rather than failing the order.
        (await ctx.loaders.product.load(line.productId)) ?? {
          id: line.productId,
          name: line.productName,
          imageUrl: line.imageUrl,
          price: line.unitPrice,
          availableStock: 0,
        },
    }),
    productId: t.exposeID('productId'),
    productName: t.exposeString('productName'),
    quantity: t.exposeInt('quantity'),
    unitPrice: t.field({ type: MoneyRef, resolve: (l) => l.unitPrice }),
    totalPrice: t.field({ type: MoneyRef, resolve: (l) => multiply(l.unitPrice, l.quantity) }),
  }),
});

const PaymentRef = builder.objectRef<NonNullable<OrderView['payment']>>('Payment').implement({
  fields: (t) => ({
    paymentId: t.exposeID('paymentId'),
    status: t.exposeString('status', { description: 'PAID or REFUNDED' }),
    amount: t.field({ type: MoneyRef, resolve: (p) => p.amount }),
  }),
});

const ShipmentRef = builder.objectRef<NonNullable<OrderView['shipment']>>('Shipment').implement({
  fields: (t) => ({
    carrier: t.exposeString('carrier'),
    trackingNumber: t.exposeString('trackingNumber'),
    status: t.exposeString('status', { description: 'SHIPPED, then DELIVERED' }),
  }),
});

// An order shows its customer and its items' products.
readModelsReach('Order', { models: [ORDERS_PROJECTION], types: ['Customer', 'Product'] });

export const OrderRef = builder.objectRef<OrderView>('Order').implement({
  description: 'An order of one customer',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: OrderStatusEnum, resolve: (o) => o.status }),
    customer: t.field({
      type: CustomerRef,
      resolve: async (o, _args, ctx) =>
        // Should the customers projection lag behind the orders, the copy in the order serves.
        (await ctx.loaders.customer.load(o.customerId)) ?? {
          id: o.customerId,
          name: o.customerName ?? '',
          email: o.customerEmail ?? '',
          phone: o.customerPhone ?? '',
        },
    }),
    items: t.field({ type: [OrderItemRef], resolve: (o) => o.items }),
    itemCount: t.int({
      description: 'Units in the order (the sum of the quantities)',
      resolve: (o) => o.items.reduce((n, i) => n + i.quantity, 0),
    }),
    total: t.field({ type: MoneyRef, resolve: (o) => o.total }),
    shippingAddress: t.field({ type: AddressRef, resolve: (o) => o.shippingAddress }),
    payment: t.field({ type: PaymentRef, nullable: true, resolve: (o) => o.payment }),
    shipment: t.field({ type: ShipmentRef, nullable: true, resolve: (o) => o.shipment }),
    version: t.exposeInt('version'),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (o) => o.updatedAt }),
  }),
});

const ORDER_ERRORS = COMMAND_ERRORS;

/**
 * A customer may act only on its own orders. Acting on another customer's order is a
 * ForbiddenError, not a NotFoundError: order ids are random uuids, so confirming that one
 * exists tells nothing useful, and a clear error helps honest clients more.
 */
function ownOrdersOnly(principal: Principal) {
  return (state: OrderState) => {
    if (state.status !== 'NOT_CREATED' && !canActForCustomer(principal, state.customerId)) {
      throw new ForbiddenErrorResult('This order belongs to another customer');
    }
  };
}

/** Runs one order command and answers with the order as the read model has it then. */
async function runOrderCommand(
  ctx: GraphQLContext,
  operation: string,
  input: { commandId: string | number } & Record<string, unknown>,
  orderId: string,
  command: OrderCommand,
  options: { expectedVersion?: number | null; staffOnly?: boolean } = {},
) {
  const env = envelope(ctx, operation, { ...input, commandId: String(input.commandId) });
  if (options.staffOnly) requireStaff(ctx);
  const result = await ctx.commands.execute(orderDecider, orderStreamId(orderId), command, env, {
    authorize: ownOrdersOnly(env.principal),
    ...(options.expectedVersion != null ? { expectedVersion: options.expectedVersion } : {}),
  });
  return {
    cursor: result.cursor,
    version: result.version,
    entity: await readOrderAfter(ctx, orderId, result.cursor),
  };
}

/** The order from the read model once it has caught up with `cursor` (read-your-writes). */
const readOrderAfter = (ctx: GraphQLContext, orderId: string, cursor: string) =>
  readAfterWrite(ctx, cursor, 'Order', (l) => l.order.load(orderId), `order ${orderId}`);

/** The catalogue entries of the given products, as the write model has them now. */
async function catalogue(
  ctx: GraphQLContext,
  productIds: string[],
): Promise<Record<string, ProductInfo | undefined>> {
  const entries = await Promise.all(
    [...new Set(productIds)].map(async (id) => {
      const { state } = await ctx.commands.load(productDecider, productStreamId(id));
      return [id, productInfo(state)] as const;
    }),
  );
  return Object.fromEntries(entries);
}

const OrderItemInput = builder.inputType('OrderItemInput', {
  fields: (t) => ({
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
  }),
});

const CreateOrderInput = builder.inputType('CreateOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    id: t.id({
      required: false,
      description: 'The new order id (uuid); chosen by the server when omitted',
    }),
    customerId: t.id({ required: true }),
    items: t.field({ type: [OrderItemInput], required: true }),
    shippingAddress: t.field({ type: AddressInput, required: true }),
  }),
});

builder.mutationField('createOrder', (t) =>
  t.field({
    type: successType('CreateOrderSuccess', 'order', OrderRef),
    description: 'Places an order; prices are captured from the catalogue now.',
    args: { input: t.arg({ type: CreateOrderInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'CreateOrderPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'createOrder', async () => {
        const env = envelope(ctx, 'createOrder', { ...input, commandId: String(input.commandId) });
        checkUuids({
          id: input.id,
          customerId: input.customerId,
          ...Object.fromEntries(
            input.items.map((item, i) => [`items.${i}.productId`, item.productId]),
          ),
        });
        const customerId = String(input.customerId).toLowerCase();
        if (!canActForCustomer(env.principal, customerId)) {
          throw new ForbiddenErrorResult('A customer may only order for itself');
        }
        // The id is drawn before the idempotency check, but a replay answers with the first
        // run's stream, so a retried createOrder never makes a second order.
        const orderId = String(input.id ?? ctx.newId()).toLowerCase();
        const items = input.items.map((i) => ({
          productId: String(i.productId).toLowerCase(),
          quantity: i.quantity,
        }));
        // Bounded work for oversized input: the decider refuses more than 10 items anyway.
        const products =
          items.length <= 10
            ? await catalogue(
                ctx,
                items.map((i) => i.productId),
              )
            : {};
        const customerExists = (await ctx.store.streamVersion(customerStreamId(customerId))) > 0;
        const result = await ctx.commands.execute(
          orderDecider,
          orderStreamId(orderId),
          {
            type: 'CreateOrder',
            data: {
              orderId,
              customerId,
              customerExists,
              items,
              products,
              shippingAddress: input.shippingAddress,
              now: ctx.now().toISOString(),
            },
          },
          env,
          { authorize: ownOrdersOnly(env.principal) },
        );
        // A replay answers with the first run's stream: a server-chosen id differs each run.
        const id = result.streamId.replace(/^order-/, '');
        return {
          cursor: result.cursor,
          version: result.version,
          entity: await readOrderAfter(ctx, id, result.cursor),
        };
      }),
  }),
);

const AddOrderItemInput = builder.inputType('AddOrderItemInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
    expectedVersion: t.int({
      required: false,
      description: 'Refuse with ConcurrencyError unless the order is at this version',
    }),
  }),
});

builder.mutationField('addOrderItem', (t) =>
  t.field({
    type: successType('AddOrderItemSuccess', 'order', OrderRef),
    args: { input: t.arg({ type: AddOrderItemInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'AddOrderItemPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'addOrderItem', async () => {
        checkUuids({ orderId: input.orderId, productId: input.productId });
        const orderId = String(input.orderId).toLowerCase();
        const productId = String(input.productId).toLowerCase();
        const product = (await catalogue(ctx, [productId]))[productId];
        return runOrderCommand(
          ctx,
          'addOrderItem',
          input,
          orderId,
          {
            type: 'AddOrderItem',
            data: {
              orderId,
              productId,
              quantity: input.quantity,
              product,
              now: ctx.now().toISOString(),
            },
          },
          { expectedVersion: input.expectedVersion },
        );
      }),
  }),
);

const RemoveOrderItemInput = builder.inputType('RemoveOrderItemInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    productId: t.id({ required: true }),
    expectedVersion: t.int({
      required: false,
      description: 'Refuse with ConcurrencyError unless the order is at this version',
    }),
  }),
});

builder.mutationField('removeOrderItem', (t) =>
  t.field({
    type: successType('RemoveOrderItemSuccess', 'order', OrderRef),
    args: { input: t.arg({ type: RemoveOrderItemInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'RemoveOrderItemPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'removeOrderItem', async () => {
        checkUuids({ orderId: input.orderId, productId: input.productId });
        const orderId = String(input.orderId).toLowerCase();
        const productId = String(input.productId).toLowerCase();
        return runOrderCommand(
          ctx,
          'removeOrderItem',
          input,
          orderId,
          { type: 'RemoveOrderItem', data: { orderId, productId, now: ctx.now().toISOString() } },
          { expectedVersion: input.expectedVersion },
        );
      }),
  }),
);

const ChangeShippingAddressInput = builder.inputType('ChangeShippingAddressInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    shippingAddress: t.field({ type: AddressInput, required: true }),
  }),
});

builder.mutationField('changeShippingAddress', (t) =>
  t.field({
    type: successType('ChangeShippingAddressSuccess', 'order', OrderRef),
    description: 'Changes where an order goes, until it has shipped.',
    args: { input: t.arg({ type: ChangeShippingAddressInput, required: true }) },
    errors: {
      types: ORDER_ERRORS,
      directResult: true,
      union: { name: 'ChangeShippingAddressPayload' },
    },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'changeShippingAddress', async () => {
        checkUuids({ orderId: input.orderId });
        const orderId = String(input.orderId).toLowerCase();
        return runOrderCommand(ctx, 'changeShippingAddress', input, orderId, {
          type: 'ChangeShippingAddress',
          data: { orderId, shippingAddress: input.shippingAddress, now: ctx.now().toISOString() },
        });
      }),
  }),
);

const PayOrderInput = builder.inputType('PayOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    paymentId: t.id({ required: true }),
    amount: t.field({ type: MoneyInput, required: true }),
  }),
});

builder.mutationField('payOrder', (t) =>
  t.field({
    type: successType('PayOrderSuccess', 'order', OrderRef),
    description: 'Records the payment of a PENDING order; the amount must be its exact total.',
    args: { input: t.arg({ type: PayOrderInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'PayOrderPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'payOrder', async () => {
        checkUuids({ orderId: input.orderId });
        const orderId = String(input.orderId).toLowerCase();
        return runOrderCommand(ctx, 'payOrder', input, orderId, {
          type: 'PayOrder',
          data: {
            orderId,
            paymentId: String(input.paymentId),
            amount: input.amount,
            now: ctx.now().toISOString(),
          },
        });
      }),
  }),
);

const ShipOrderInput = builder.inputType('ShipOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    carrier: t.string({ required: true }),
    trackingNumber: t.string({ required: true }),
  }),
});

builder.mutationField('shipOrder', (t) =>
  t.field({
    type: successType('ShipOrderSuccess', 'order', OrderRef),
    description: 'Hands a PAID order to a carrier (admin or service).',
    args: { input: t.arg({ type: ShipOrderInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'ShipOrderPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'shipOrder', async () => {
        checkUuids({ orderId: input.orderId });
        const orderId = String(input.orderId).toLowerCase();
        return runOrderCommand(
          ctx,
          'shipOrder',
          input,
          orderId,
          {
            type: 'ShipOrder',
            data: {
              orderId,
              carrier: input.carrier,
              trackingNumber: input.trackingNumber,
              now: ctx.now().toISOString(),
            },
          },
          { staffOnly: true },
        );
      }),
  }),
);

const CancelOrderInput = builder.inputType('CancelOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    reason: t.string({ required: true }),
  }),
});

builder.mutationField('cancelOrder', (t) =>
  t.field({
    type: successType('CancelOrderSuccess', 'order', OrderRef),
    description: 'Cancels a PENDING or PAID order; a paid order is refunded.',
    args: { input: t.arg({ type: CancelOrderInput, required: true }) },
    errors: { types: ORDER_ERRORS, directResult: true, union: { name: 'CancelOrderPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'cancelOrder', async () => {
        checkUuids({ orderId: input.orderId });
        const orderId = String(input.orderId).toLowerCase();
        return runOrderCommand(ctx, 'cancelOrder', input, orderId, {
          type: 'CancelOrder',
          data: { orderId, reason: input.reason, now: ctx.now().toISOString() },
        });
      }),
  }),
);
