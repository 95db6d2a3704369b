import { canActForCustomer, type Principal } from '../auth/principal.js';
import {
  productDecider,
  productInfo,
  productStreamId,
  type ProductState,
} from '../catalog/index.js';
import type { CommandEnvelope, Loaded, LoadTarget } from '../commands/handler.js';
import type { UseCaseDeps, UseCaseResult } from '../commands/use-case.js';
import { customerDecider, customerStreamId } from '../customers/index.js';
import { forbidden } from '../shared/decider.js';
import type { Money } from '../shared/money.js';
import type { AddressInput, OrderCommand, OrderItemInput } from './commands.js';
import { MAX_ORDER_ITEMS, orderDecider, orderStreamId, type OrderState } from './decider.js';
import type { CalendarDate, PaymentMethod, ShippingMethod } from './delivery.js';

/*
 * The orders' use cases: each gathers what the order decider needs (catalogue entries from
 * the products' streams, whether the customer exists, the time) and runs the command
 * through the command handler. A customer caller acts only on its own orders; who may
 * call a command at all (shipOrder is for staff) is the caller's concern.
 */

export interface OrderResult extends UseCaseResult {
  orderId: string;
  /** The order as the command left it; absent for a replay of an earlier run. */
  state?: OrderState;
}

export interface CreateOrderInput {
  /** The new order's id; drawn from `deps.newId()` when absent. */
  id?: string | null | undefined;
  customerId: string;
  items: OrderItemInput[];
  shippingAddress: AddressInput;
  billingAddress?: AddressInput | null | undefined;
  shippingMethod?: ShippingMethod | null | undefined;
}

/** Places an order, capturing the products' catalogue entries (name, price) now. */
export async function createOrder(
  deps: UseCaseDeps,
  input: CreateOrderInput,
  envelope: CommandEnvelope,
): Promise<OrderResult> {
  const customerId = input.customerId.toLowerCase();
  if (!canActForCustomer(envelope.principal, customerId)) {
    throw forbidden('A customer may only order for itself');
  }
  // The id is drawn before the idempotency check, but a replay answers with the first
  // run's stream, so a retried createOrder never makes a second order.
  const orderId = (input.id ?? deps.newId()).toLowerCase();
  const items = input.items.map((i) => ({
    productId: i.productId.toLowerCase(),
    quantity: i.quantity,
  }));
  // Bounded work for oversized input: the decider refuses more than 10 items anyway.
  const productIds =
    items.length <= MAX_ORDER_ITEMS ? [...new Set(items.map((i) => i.productId))] : [];
  const now = deps.now().toISOString();
  // The customer and the products are read in the same round trip as the order stream.
  const result = await deps.commands.execute(
    orderDecider,
    orderStreamId(orderId),
    ([customer, ...products]): OrderCommand => ({
      type: 'CreateOrder',
      data: {
        orderId,
        customerId,
        customerExists: customer!.version > 0,
        items,
        products: Object.fromEntries(
          productIds.map((id, k) => [id, productInfo(products[k]!.state as ProductState)]),
        ),
        shippingAddress: input.shippingAddress,
        billingAddress: input.billingAddress ?? null,
        shippingMethod: input.shippingMethod ?? null,
        now,
      },
    }),
    envelope,
    {
      authorize: ownOrdersOnly(envelope.principal),
      gather: [
        { decider: customerDecider, streamId: customerStreamId(customerId) },
        ...productIds.map((id) => ({ decider: productDecider, streamId: productStreamId(id) })),
      ],
    },
  );
  // A replay answers with the first run's stream: a server-chosen id differs each run.
  return {
    cursor: result.cursor,
    version: result.version,
    orderId: result.streamId.replace(/^order-/, ''),
    ...(result.state ? { state: result.state } : {}),
  };
}

/** Adds a product to a PENDING order at its catalogue price now. */
export async function addOrderItem(
  deps: UseCaseDeps,
  input: { orderId: string; productId: string; quantity: number; expectedVersion?: number | null },
  envelope: CommandEnvelope,
): Promise<OrderResult> {
  const productId = input.productId.toLowerCase();
  return onOrder(
    deps,
    input.orderId,
    envelope,
    (orderId, now, [product]) => ({
      type: 'AddOrderItem',
      data: {
        orderId,
        productId,
        quantity: input.quantity,
        product: productInfo(product!.state as ProductState),
        now,
      },
    }),
    input.expectedVersion,
    [{ decider: productDecider, streamId: productStreamId(productId) }],
  );
}

export const removeOrderItem = (
  deps: UseCaseDeps,
  input: { orderId: string; productId: string; expectedVersion?: number | null },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(
    deps,
    input.orderId,
    envelope,
    (orderId, now) => ({
      type: 'RemoveOrderItem',
      data: { orderId, productId: input.productId.toLowerCase(), now },
    }),
    input.expectedVersion,
  );

export const changeShippingAddress = (
  deps: UseCaseDeps,
  input: { orderId: string; shippingAddress: AddressInput },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(deps, input.orderId, envelope, (orderId, now) => ({
    type: 'ChangeShippingAddress',
    data: { orderId, shippingAddress: input.shippingAddress, now },
  }));

export const changeBillingAddress = (
  deps: UseCaseDeps,
  input: { orderId: string; billingAddress: AddressInput },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(deps, input.orderId, envelope, (orderId, now) => ({
    type: 'ChangeBillingAddress',
    data: { orderId, billingAddress: input.billingAddress, now },
  }));

export const payOrder = (
  deps: UseCaseDeps,
  input: {
    orderId: string;
    paymentId: string;
    amount: Money;
    method?: PaymentMethod | null | undefined;
    transactionId?: string | null | undefined;
  },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(deps, input.orderId, envelope, (orderId, now) => ({
    type: 'PayOrder',
    data: {
      orderId,
      paymentId: input.paymentId,
      amount: input.amount,
      method: input.method ?? null,
      transactionId: input.transactionId ?? null,
      now,
    },
  }));

export const shipOrder = (
  deps: UseCaseDeps,
  input: {
    orderId: string;
    carrier: string;
    trackingNumber: string;
    estimatedDelivery?: CalendarDate | null | undefined;
  },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(deps, input.orderId, envelope, (orderId, now) => ({
    type: 'ShipOrder',
    data: {
      orderId,
      carrier: input.carrier,
      trackingNumber: input.trackingNumber,
      estimatedDelivery: input.estimatedDelivery ?? null,
      now,
    },
  }));

export const cancelOrder = (
  deps: UseCaseDeps,
  input: { orderId: string; reason: string },
  envelope: CommandEnvelope,
): Promise<OrderResult> =>
  onOrder(deps, input.orderId, envelope, (orderId, now) => ({
    type: 'CancelOrder',
    data: { orderId, reason: input.reason, now },
  }));

/**
 * A customer may act only on its own orders. Acting on another customer's order is
 * forbidden, not "not found": order ids are random uuids, so confirming that one exists
 * tells nothing useful, and a clear error helps honest clients more.
 */
function ownOrdersOnly(principal: Principal) {
  return (state: OrderState) => {
    if (state.status !== 'NOT_CREATED' && !canActForCustomer(principal, state.customerId)) {
      throw forbidden('This order belongs to another customer');
    }
  };
}

/** Runs a command on an existing order of the caller (any order, for staff). */
async function onOrder(
  deps: UseCaseDeps,
  id: string,
  envelope: CommandEnvelope,
  command: (orderId: string, now: string, gathered: Loaded<unknown>[]) => OrderCommand,
  expectedVersion?: number | null,
  gather: LoadTarget[] = [],
): Promise<OrderResult> {
  const orderId = id.toLowerCase();
  const now = deps.now().toISOString();
  const result = await deps.commands.execute(
    orderDecider,
    orderStreamId(orderId),
    (gathered) => command(orderId, now, gathered),
    envelope,
    {
      authorize: ownOrdersOnly(envelope.principal),
      gather,
      ...(expectedVersion != null ? { expectedVersion } : {}),
    },
  );
  return {
    cursor: result.cursor,
    version: result.version,
    orderId,
    ...(result.state ? { state: result.state } : {}),
  };
}
