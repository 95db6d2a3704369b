import { ProductRef } from '../catalog/graphql.js';
import { CustomerRef } from '../customers/graphql.js';
import { builder } from '../graphql/builder.js';
import { commandMutation } from '../graphql/command-mutation.js';
import type { GraphQLContext } from '../graphql/context.js';
import { readAfterWrite, readModelsReach } from '../graphql/consistency.js';
import type { SelectionShape } from '../graphql/selection.js';
import {
  AddressInput,
  AddressRef,
  commandIdField,
  MoneyInput,
  MoneyRef,
} from '../graphql/shared-types.js';
import { multiply } from '../shared/money.js';
import type { OrderLine } from './events.js';
import { ORDERS_PROJECTION, type OrderReadModel } from './projections.js';
import {
  addOrderItem,
  cancelOrder,
  changeShippingAddress,
  createOrder,
  payOrder,
  removeOrderItem,
  shipOrder,
  type OrderResult,
} from './use-cases.js';

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

/**
 * What of an order its command's own resulting state answers exactly as the `orders` read
 * model will once it reaches the command's cursor: these fields are folded from the
 * order's events alone, by the same rules. Everything else (its number, timeline,
 * customer, the products' catalogue entries, payment and shipment, updatedAt, which
 * fulfillment milestones also move) is read from the read models.
 */
const ORDER_FROM_STATE: SelectionShape = {
  id: true,
  status: true,
  version: true,
  total: true,
  itemCount: true,
  shippingAddress: true,
  createdAt: true,
  items: { productId: true, productName: true, quantity: true, unitPrice: true, totalPrice: true },
};

/**
 * The `order` of an order command's `…Success` (read-your-writes): for a selection within
 * {@link ORDER_FROM_STATE}, from the command's resulting state at once; otherwise from the
 * read models once they have applied the command.
 */
export const orderEntity = {
  field: 'order',
  type: OrderRef,
  read: (ctx: GraphQLContext, r: OrderResult) =>
    readAfterWrite(ctx, r.cursor, 'Order', (l) => l.order.load(r.orderId), `order ${r.orderId}`),
  fromResult: {
    shape: ORDER_FROM_STATE,
    build: (r: OrderResult): OrderView | null => {
      const s = r.state;
      if (!s || s.status === 'NOT_CREATED') return null;
      // Only the fields of ORDER_FROM_STATE are ever resolved from this object.
      return {
        id: s.orderId,
        seq: 0,
        orderNumber: '',
        status: s.status,
        customerId: s.customerId,
        customerName: null,
        customerEmail: null,
        customerPhone: null,
        items: s.items,
        itemCount: s.items.reduce((n, line) => n + line.quantity, 0),
        total: s.total,
        shippingAddress: s.shippingAddress,
        payment: null,
        shipment: null,
        version: r.version,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      };
    },
  },
};

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

commandMutation('createOrder', {
  description: 'Places an order; prices are captured from the catalogue now.',
  input: CreateOrderInput,
  uuids: (input) => ({
    id: input.id,
    customerId: input.customerId,
    ...Object.fromEntries(input.items.map((item, i) => [`items.${i}.productId`, item.productId])),
  }),
  run: (ctx, input, env) =>
    createOrder(
      ctx,
      {
        id: input.id == null ? null : String(input.id),
        customerId: String(input.customerId),
        items: input.items.map((i) => ({ productId: String(i.productId), quantity: i.quantity })),
        shippingAddress: input.shippingAddress,
      },
      env,
    ),
  entity: orderEntity,
});

const expectedVersionField = {
  required: false,
  description: 'Refuse with ConcurrencyError unless the order is at this version',
} as const;

const AddOrderItemInput = builder.inputType('AddOrderItemInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
    expectedVersion: t.int(expectedVersionField),
  }),
});

commandMutation('addOrderItem', {
  input: AddOrderItemInput,
  uuids: (input) => ({ orderId: input.orderId, productId: input.productId }),
  run: (ctx, input, env) =>
    addOrderItem(
      ctx,
      {
        orderId: String(input.orderId),
        productId: String(input.productId),
        quantity: input.quantity,
        expectedVersion: input.expectedVersion,
      },
      env,
    ),
  entity: orderEntity,
});

const RemoveOrderItemInput = builder.inputType('RemoveOrderItemInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    productId: t.id({ required: true }),
    expectedVersion: t.int(expectedVersionField),
  }),
});

commandMutation('removeOrderItem', {
  input: RemoveOrderItemInput,
  uuids: (input) => ({ orderId: input.orderId, productId: input.productId }),
  run: (ctx, input, env) =>
    removeOrderItem(
      ctx,
      {
        orderId: String(input.orderId),
        productId: String(input.productId),
        expectedVersion: input.expectedVersion,
      },
      env,
    ),
  entity: orderEntity,
});

const ChangeShippingAddressInput = builder.inputType('ChangeShippingAddressInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    shippingAddress: t.field({ type: AddressInput, required: true }),
  }),
});

commandMutation('changeShippingAddress', {
  description: 'Changes where an order goes, until it has shipped.',
  input: ChangeShippingAddressInput,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) =>
    changeShippingAddress(
      ctx,
      { orderId: String(input.orderId), shippingAddress: input.shippingAddress },
      env,
    ),
  entity: orderEntity,
});

const PayOrderInput = builder.inputType('PayOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    paymentId: t.id({ required: true }),
    amount: t.field({ type: MoneyInput, required: true }),
  }),
});

commandMutation('payOrder', {
  description: 'Records the payment of a PENDING order; the amount must be its exact total.',
  input: PayOrderInput,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) =>
    payOrder(
      ctx,
      { orderId: String(input.orderId), paymentId: String(input.paymentId), amount: input.amount },
      env,
    ),
  entity: orderEntity,
});

const ShipOrderInput = builder.inputType('ShipOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    carrier: t.string({ required: true }),
    trackingNumber: t.string({ required: true }),
  }),
});

commandMutation('shipOrder', {
  description: 'Hands a PAID order to a carrier (admin or service).',
  input: ShipOrderInput,
  staffOnly: true,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, { orderId, carrier, trackingNumber }, env) =>
    shipOrder(ctx, { orderId: String(orderId), carrier, trackingNumber }, env),
  entity: orderEntity,
});

const CancelOrderInput = builder.inputType('CancelOrderInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    reason: t.string({ required: true }),
  }),
});

commandMutation('cancelOrder', {
  description: 'Cancels a PENDING or PAID order; a paid order is refunded.',
  input: CancelOrderInput,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) =>
    cancelOrder(ctx, { orderId: String(input.orderId), reason: input.reason }, env),
  entity: orderEntity,
});
