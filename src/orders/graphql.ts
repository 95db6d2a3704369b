import { ProductRef } from '../catalog/graphql.js';
import { CustomerRef } from '../customers/graphql.js';
import { builder } from '../graphql/builder.js';
import type { UseCaseResult } from '../commands/use-case.js';
import { commandMutation, type CommandEntity } from '../graphql/command-mutation.js';
import type { Loaders } from '../graphql/context.js';
import { COMMAND_ERRORS, ErrorInterface, TypedError } from '../graphql/errors.js';
import { readModelsReach } from '../graphql/consistency.js';
import type { SelectionShape } from '../graphql/selection.js';
import {
  AddressInput,
  AddressRef,
  commandIdField,
  MoneyInput,
  MoneyRef,
} from '../graphql/shared-types.js';
import { multiply } from '../shared/money.js';
import {
  InsufficientStockError,
  orderDecider,
  orderStreamId,
  type ExistingOrder,
  type StockShortage,
} from './decider.js';
import { PAYMENT_METHODS, SHIPPING_METHODS } from './delivery.js';
import type { OrderLine } from './events.js';
import { ORDERS_PROJECTION, type OrderReadModel } from './projections.js';
import {
  addOrderItem,
  cancelOrder,
  changeBillingAddress,
  changeShippingAddress,
  createOrder,
  payOrder,
  removeOrderItem,
  shipOrder,
  type OrderResult,
} from './use-cases.js';

/**
 * An order as clients see it: the read model's row (projection `orders`), or in a
 * mutation's answer while that lags, the order's own state ({@link orderFromState}), which
 * has no order number yet.
 */
export type OrderView = Omit<OrderReadModel, 'orderNumber'> & { orderNumber: string | null };

export const OrderStatusEnum = builder.enumType('OrderStatus', {
  values: ['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'] as const,
});

export const PaymentMethodEnum = builder.enumType('PaymentMethod', {
  description: 'How an order was paid',
  values: PAYMENT_METHODS,
});

export const ShippingMethodEnum = builder.enumType('ShippingMethod', {
  description:
    'How an order travels: STANDARD arrives 5 business days after payment, EXPRESS 2, NEXT_DAY 1 (Saturdays and Sundays not counted)',
  values: SHIPPING_METHODS,
});

/** The API's `InsufficientStock`: an order or item asked for more than is available. */
export class InsufficientStockResult extends TypedError {
  override name = 'InsufficientStock';
  readonly code = 'INSUFFICIENT_STOCK';
  constructor(
    message: string,
    readonly items: StockShortage[],
  ) {
    super(message);
  }
}

const StockShortageRef = builder.objectRef<StockShortage>('StockShortage').implement({
  description: 'A product of the order beyond its available stock',
  fields: (t) => ({
    productId: t.exposeID('productId'),
    productName: t.exposeString('productName'),
    requested: t.exposeInt('requested'),
    available: t.exposeInt('available', {
      description: 'Units on hand that no paid order has reserved, when the order was checked',
    }),
  }),
});

builder.objectType(InsufficientStockResult, {
  name: 'InsufficientStock',
  description:
    'A requested quantity exceeds the product’s available stock; nothing was written. Stock is reserved only at payment: an order that passed this check can still be cancelled and refunded if others took the stock first.',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof InsufficientStockResult,
  fields: (t) => ({ items: t.field({ type: [StockShortageRef], resolve: (e) => e.items }) }),
});

/** The order commands that check stock answer a shortage as `InsufficientStock`. */
const STOCK_CHECKED_ERRORS = [...COMMAND_ERRORS, InsufficientStockResult];

async function withStockShortages<T>(run: Promise<T>): Promise<T> {
  try {
    return await run;
  } catch (err) {
    if (err instanceof InsufficientStockError)
      throw new InsufficientStockResult(err.message, err.shortages);
    throw err;
  }
}

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
    productImageUrl: t.exposeString('imageUrl', {
      description: 'The product’s picture when the item was added',
    }),
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
    method: t.field({ type: PaymentMethodEnum, resolve: (p) => p.method }),
    transactionId: t.string({
      nullable: true,
      description: 'The payment provider’s reference, when the payer gave one',
      resolve: (p) => p.transactionId,
    }),
    paidAt: t.field({ type: 'DateTime', resolve: (p) => p.paidAt }),
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
    billingAddress: t.field({
      type: AddressRef,
      description: 'Where the invoice goes: the shipping address unless another was given',
      resolve: (o) => o.billingAddress,
    }),
    shippingMethod: t.field({ type: ShippingMethodEnum, resolve: (o) => o.shippingMethod }),
    estimatedDelivery: t.field({
      type: 'Date',
      nullable: true,
      description:
        'When the order should arrive: set at payment from the shipping method, replaced by the carrier’s estimate at dispatch; null before payment and once cancelled',
      resolve: (o) => o.estimatedDelivery,
    }),
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
  billingAddress: true,
  shippingMethod: true,
  estimatedDelivery: true,
  createdAt: true,
  items: {
    productId: true,
    productName: true,
    productImageUrl: true,
    quantity: true,
    unitPrice: true,
    totalPrice: true,
  },
};

/**
 * An order as its own stream has it, for a mutation's answer while the `orders` read model
 * lags (docs/adr/0018-mutation-answers-when-read-models-lag.md): the fields of
 * {@link ORDER_FROM_STATE} exactly as the read model will have them; payment and shipment
 * as the order's own events make them (a delivery, a fact of the shipment's stream, shows
 * once the read model has it); no order number (given by the read model, in log order);
 * no copy of the customer (`Order.customer` reads the customers read model).
 */
export function orderFromState(s: ExistingOrder, version: number): OrderView {
  const payment = s.status === 'PENDING' ? null : s.payment;
  return {
    id: s.orderId,
    seq: 0,
    orderNumber: null,
    status: s.status,
    customerId: s.customerId,
    customerName: null,
    customerEmail: null,
    customerPhone: null,
    items: s.items,
    itemCount: s.items.reduce((n, line) => n + line.quantity, 0),
    total: s.total,
    shippingAddress: s.shippingAddress,
    billingAddress: s.billingAddress,
    shippingMethod: s.shippingMethod,
    estimatedDelivery: s.estimatedDelivery,
    payment: payment && {
      ...payment,
      status: s.status === 'CANCELLED' && s.refunded ? 'REFUNDED' : 'PAID',
    },
    shipment:
      s.status === 'SHIPPED'
        ? {
            carrier: s.shipment.carrier,
            trackingNumber: s.shipment.trackingNumber,
            status: 'SHIPPED',
          }
        : null,
    version,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** The order's row in the read model as it stands. */
const readOrder = (loaders: Loaders, r: { orderId: string }) => loaders.order.load(r.orderId);

/**
 * The `order` of an order command's `…Success` (read-your-writes): for a selection within
 * {@link ORDER_FROM_STATE}, from the command's resulting state at once; otherwise from the
 * read models once they have applied the command, or, should they not within the
 * mutation's wait, their row as it stands with the state's fields over it.
 */
export const orderEntity: CommandEntity<OrderResult, OrderView> = {
  field: 'order',
  type: OrderRef,
  read: readOrder,
  state: {
    shape: ORDER_FROM_STATE,
    fromResult: (r) =>
      r.state && r.state.status !== 'NOT_CREATED' ? orderFromState(r.state, r.version) : null,
    load: async (ctx, r) => {
      // A replay: the order as the first run left it (its version).
      const { state } = await ctx.commands.load(orderDecider, orderStreamId(r.orderId), {
        version: r.version,
      });
      return state.status === 'NOT_CREATED' ? null : orderFromState(state, r.version);
    },
  },
};

/**
 * The `order` of a command on another stream of the order (a fulfillment milestone, whose
 * cursor and version are its own stream's): from the read models once they have applied
 * it; should they not within the mutation's wait, their row as it stands with the order's
 * own fields (of {@link ORDER_FROM_STATE}) from its stream now, and what the command itself
 * changed (`milestone.apply`, of the fields `milestone.shape`).
 */
export function orderEntityAfter(milestone: {
  shape: SelectionShape;
  apply: (order: OrderView) => OrderView;
}): CommandEntity<UseCaseResult & { orderId: string }, OrderView> {
  return {
    field: 'order',
    type: OrderRef,
    read: readOrder,
    state: {
      shape: { ...ORDER_FROM_STATE, ...milestone.shape },
      load: async (ctx, r) => {
        const { state, version } = await ctx.commands.load(orderDecider, orderStreamId(r.orderId));
        return state.status === 'NOT_CREATED'
          ? null
          : milestone.apply(orderFromState(state, version));
      },
    },
  };
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
    billingAddress: t.field({
      type: AddressInput,
      required: false,
      description: 'Where the invoice goes; the shipping address when omitted',
    }),
    shippingMethod: t.field({
      type: ShippingMethodEnum,
      required: false,
      description: 'STANDARD when omitted',
    }),
  }),
});

commandMutation('createOrder', {
  description:
    'Places an order; prices are captured from the catalogue now. Refused with InsufficientStock when a quantity exceeds what is available.',
  input: CreateOrderInput,
  uuids: (input) => ({
    id: input.id,
    customerId: input.customerId,
    ...Object.fromEntries(input.items.map((item, i) => [`items.${i}.productId`, item.productId])),
  }),
  run: (ctx, input, env) =>
    withStockShortages(
      createOrder(
        ctx,
        {
          id: input.id == null ? null : String(input.id),
          customerId: String(input.customerId),
          items: input.items.map((i) => ({ productId: String(i.productId), quantity: i.quantity })),
          shippingAddress: input.shippingAddress,
          billingAddress: input.billingAddress,
          shippingMethod: input.shippingMethod,
        },
        env,
      ),
    ),
  entity: orderEntity,
  errors: STOCK_CHECKED_ERRORS,
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
  description:
    'Adds a product to a PENDING order at its catalogue price now; refused with InsufficientStock beyond what is available.',
  input: AddOrderItemInput,
  uuids: (input) => ({ orderId: input.orderId, productId: input.productId }),
  run: (ctx, input, env) =>
    withStockShortages(
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
    ),
  entity: orderEntity,
  errors: STOCK_CHECKED_ERRORS,
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

const ChangeBillingAddressInput = builder.inputType('ChangeBillingAddressInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    orderId: t.id({ required: true }),
    billingAddress: t.field({ type: AddressInput, required: true }),
  }),
});

commandMutation('changeBillingAddress', {
  description: 'Changes where the invoice of a PENDING order goes.',
  input: ChangeBillingAddressInput,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) =>
    changeBillingAddress(
      ctx,
      { orderId: String(input.orderId), billingAddress: input.billingAddress },
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
    method: t.field({
      type: PaymentMethodEnum,
      required: false,
      description: 'CARD when omitted',
    }),
    transactionId: t.string({
      required: false,
      description: 'The payment provider’s reference for this payment',
    }),
  }),
});

commandMutation('payOrder', {
  description: 'Records the payment of a PENDING order; the amount must be its exact total.',
  input: PayOrderInput,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, input, env) =>
    payOrder(
      ctx,
      {
        orderId: String(input.orderId),
        paymentId: String(input.paymentId),
        amount: input.amount,
        method: input.method,
        transactionId: input.transactionId,
      },
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
    estimatedDelivery: t.field({
      type: 'Date',
      required: false,
      description:
        'The carrier’s delivery estimate; replaces the one made at payment (not before the day of dispatch)',
    }),
  }),
});

commandMutation('shipOrder', {
  description: 'Hands a PAID order to a carrier (admin or service).',
  input: ShipOrderInput,
  staffOnly: true,
  uuids: (input) => ({ orderId: input.orderId }),
  run: (ctx, { orderId, carrier, trackingNumber, estimatedDelivery }, env) =>
    shipOrder(ctx, { orderId: String(orderId), carrier, trackingNumber, estimatedDelivery }, env),
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
