import type { ProductInfo } from '../catalog/index.js';
import { formatMoney } from '../shared/money-format.js';
import {
  FieldChecks,
  MAX_ADDRESS_FIELD_LENGTH,
  MAX_REASON_LENGTH,
  MAX_REFERENCE_LENGTH,
} from '../shared/field-checks.js';
import {
  assertNever,
  type Decider,
  DomainError,
  notFound,
  ruleViolation,
  unexpectedEvent,
} from '../shared/decider.js';
import { add, MAX_AMOUNT, multiply, zero, type Money } from '../shared/money.js';
import type { AddressInput, OrderCommand, OrderItemInput } from './commands.js';
import {
  calendarDate,
  DEFAULT_PAYMENT_METHOD,
  DEFAULT_SHIPPING_METHOD,
  estimateDelivery,
  isCalendarDate,
  PAYMENT_METHODS,
  SHIPPING_METHODS,
  type CalendarDate,
  type PaymentMethod,
  type ShippingMethod,
} from './delivery.js';
import { OrderEvents, type Address, type OrderEvent, type OrderLine } from './events.js';

/** Event-store stream type of orders. */
export const ORDER_STREAM_TYPE = 'order';

/** The stream that holds one order's events: `order-<uuid>`. */
export const streamId = (orderId: string): string => `order-${orderId}`;
export { streamId as orderStreamId };

/** An order has 1 to this many distinct products. */
export const MAX_ORDER_ITEMS = 10;
/** Units of one product per order, at most. */
export const MAX_ITEM_QUANTITY = 1000;
/**
 * The most one order may total, in minor units: MAX_AMOUNT, which bounds every single
 * amount, payments included, so an order within it can always be paid in one payment.
 * This is the only limit on a total: the API carries amounts up to 2^53 − 1.
 */
export const MAX_ORDER_TOTAL = MAX_AMOUNT;

/** The statuses of the API's `OrderStatus` (schema.graphql). */
export type OrderStatus = 'PENDING' | 'PAID' | 'SHIPPED' | 'CANCELLED';

/** A payment accepted for an order: exactly its total. */
export interface Payment {
  paymentId: string;
  amount: Money;
  method: PaymentMethod;
  transactionId: string | null;
  paidAt: string;
}

export interface Shipment {
  carrier: string;
  trackingNumber: string;
  shippedAt: string;
}

/** A product of an order beyond what is available (an `InsufficientStock` refusal). */
export interface StockShortage {
  productId: string;
  productName: string;
  requested: number;
  available: number;
}

/**
 * The refusal of an order, or of an item, that asks for more units than are available: a
 * business rule (`INSUFFICIENT_STOCK`) that also names each product short, so the API can
 * answer with them (`InsufficientStock`).
 */
export class InsufficientStockError extends DomainError {
  constructor(readonly shortages: StockShortage[]) {
    super(
      'business',
      `Insufficient stock for items: ${shortages
        .map((s) => `${s.productName} (requested ${s.requested}, available ${s.available})`)
        .join(', ')}`,
      'INSUFFICIENT_STOCK',
    );
  }
}

/** What every existing order has, whatever its status. */
interface OrderData {
  orderId: string;
  customerId: string;
  /** Never empty, at most {@link MAX_ORDER_ITEMS}, one line per product, all in one currency. */
  items: OrderLine[];
  shippingAddress: Address;
  billingAddress: Address;
  shippingMethod: ShippingMethod;
  /**
   * When the order should arrive: null until it is paid, then the rule's estimate from the
   * payment (`estimateDelivery`), replaced by the carrier's when it gives one at dispatch;
   * null again once cancelled.
   */
  estimatedDelivery: CalendarDate | null;
  /** Sum of the lines' unit price × quantity. */
  total: Money;
  createdAt: string;
  /** Time of the latest event. */
  updatedAt: string;
}

/** An order as the write model knows it. Plain JSON: it is stored as a snapshot. */
export type OrderState =
  | { status: 'NOT_CREATED' }
  | (OrderData & { status: 'PENDING' })
  | (OrderData & {
      status: 'PAID';
      payment: Payment;
      /** Set by the fulfillment process once stock is reserved; the status stays PAID. */
      readyToShip: boolean;
      shipmentId: string | null;
    })
  | (OrderData & {
      status: 'SHIPPED';
      payment: Payment;
      shipmentId: string | null;
      shipment: Shipment;
    })
  | (OrderData & {
      status: 'CANCELLED';
      /** The payment that was refunded, if the order had been paid. */
      payment: Payment | null;
      refunded: boolean;
      reason: string;
      cancelledAt: string;
    });

export type ExistingOrder = Exclude<OrderState, { status: 'NOT_CREATED' }>;

/** Price of one line: unit price × quantity, in minor units. */
export const lineTotal = (line: Pick<OrderLine, 'unitPrice' | 'quantity'>): Money =>
  multiply(line.unitPrice, line.quantity);

/**
 * Sum of the lines. All lines share one currency (the decider refuses anything else);
 * the first line's currency names the total. Bounds on price (≤ MAX_AMOUNT), quantity
 * and line count keep even a refused sum below 10^15, well within exact integer range.
 */
export function orderTotal(lines: readonly OrderLine[]): Money {
  const first = lines[0];
  if (!first) throw new Error('An order has at least one line');
  return lines.reduce((sum, line) => add(sum, lineTotal(line)), zero(first.unitPrice.currency));
}

const initialState: OrderState = { status: 'NOT_CREATED' };

// ---------------------------------------------------------------------------------------
// Input checks

function checkAddress(check: FieldChecks, path: string, value: AddressInput | undefined): void {
  if (typeof value !== 'object' || value === null) {
    check.add(path, 'is required');
    return;
  }
  const rule = { max: MAX_ADDRESS_FIELD_LENGTH };
  check.text(`${path}.line1`, value.line1, rule);
  // Optional means absent: an empty line2 is refused rather than silently dropped.
  if (value.line2 !== undefined && value.line2 !== null)
    check.text(`${path}.line2`, value.line2, rule);
  check.text(`${path}.city`, value.city, rule);
  check.text(`${path}.postalCode`, value.postalCode, rule);
  if (typeof value.country !== 'string' || !/^[A-Z]{2}$/.test(value.country)) {
    check.add(`${path}.country`, 'must be a two-letter upper-case ISO 3166 country code');
  }
}

/** The stored form: `line2` left out rather than null, so snapshots round-trip unchanged. */
function toAddress(input: AddressInput): Address {
  const { line1, line2, city, postalCode, country } = input;
  return line2 === undefined || line2 === null
    ? { line1, city, postalCode, country }
    : { line1, line2, city, postalCode, country };
}

const sameAddress = (a: Address, b: Address): boolean =>
  a.line1 === b.line1 &&
  (a.line2 ?? null) === (b.line2 ?? null) &&
  a.city === b.city &&
  a.postalCode === b.postalCode &&
  a.country === b.country;

function checkItems(check: FieldChecks, items: OrderItemInput[] | undefined): void {
  if (!Array.isArray(items)) {
    check.add('items', 'is required');
    return;
  }
  if (items.length === 0) check.add('items', 'must contain at least one item');
  if (items.length > MAX_ORDER_ITEMS) {
    check.add('items', `must contain at most ${MAX_ORDER_ITEMS} items (got ${items.length})`);
  }
  const firstIndexOf = new Map<string, number>();
  items.forEach((item, i) => {
    if (typeof item !== 'object' || item === null) {
      check.add(`items.${i}`, 'is required');
      return;
    }
    if (check.uuid(`items.${i}.productId`, item.productId)) {
      const first = firstIndexOf.get(item.productId);
      if (first === undefined) firstIndexOf.set(item.productId, i);
      else
        check.add(
          `items.${i}.productId`,
          `repeats items.${first}.productId; give each product once with its full quantity`,
        );
    }
    check.integer(`items.${i}.quantity`, item.quantity, 1, MAX_ITEM_QUANTITY);
  });
}

// ---------------------------------------------------------------------------------------
// Rules

function requireOrder(state: OrderState, orderId: string): ExistingOrder {
  if (state.status === 'NOT_CREATED')
    throw notFound('ORDER_NOT_FOUND', `Order ${orderId} does not exist`);
  return state;
}

function requirePending(
  order: ExistingOrder,
  action: string,
): Extract<OrderState, { status: 'PENDING' }> {
  if (order.status !== 'PENDING') {
    throw ruleViolation(
      'ORDER_NOT_PENDING',
      `Order ${order.orderId} is ${order.status}; ${action} only while it is PENDING`,
    );
  }
  return order;
}

/**
 * An order over MAX_ORDER_TOTAL could not be paid (a payment is at most MAX_AMOUNT), so it
 * is refused while it is being put together.
 */
function requireTotalWithinLimit(total: Money, orderId: string): void {
  if (total.amount > MAX_ORDER_TOTAL) {
    throw ruleViolation(
      'ORDER_TOTAL_TOO_LARGE',
      `Order ${orderId} would total ${formatMoney(total)}; the most an order may total is ${formatMoney({ amount: MAX_ORDER_TOTAL, currency: total.currency })}`,
    );
  }
}

function requireCurrency(orderCurrency: string, price: Money, productId: string): void {
  if (price.currency !== orderCurrency) {
    throw ruleViolation(
      'MIXED_CURRENCIES',
      `Product ${productId} is priced in ${price.currency} but the order is in ${orderCurrency}; an order has one currency`,
    );
  }
}

/**
 * Refuses lines that ask for more units of a product than it has available (as its stream
 * says now). Two orders may both pass this and then compete for the same units: the
 * reservation at payment decides, and refunds the one that comes second.
 */
function requireStock(
  wanted: readonly { productId: string; quantity: number; product: ProductInfo }[],
): void {
  const shortages = wanted
    .filter((w) => w.quantity > w.product.available)
    .map((w) => ({
      productId: w.productId,
      productName: w.product.name,
      requested: w.quantity,
      available: Math.max(0, w.product.available),
    }));
  if (shortages.length > 0) throw new InsufficientStockError(shortages);
}

const toLine = (productId: string, quantity: number, product: ProductInfo): OrderLine => ({
  productId,
  productName: product.name,
  imageUrl: product.imageUrl,
  quantity,
  unitPrice: { amount: product.price.amount, currency: product.price.currency },
});

function decideCreate(
  command: Extract<OrderCommand, { type: 'CreateOrder' }>['data'],
  state: OrderState,
): OrderEvent[] {
  const { orderId, customerId, customerExists, items, products, shippingAddress, now } = command;
  const billingAddress = command.billingAddress ?? null;
  const shippingMethod = command.shippingMethod ?? DEFAULT_SHIPPING_METHOD;
  const check = new FieldChecks();
  // The mutation calls the new order's id `id`; paths follow the mutation input.
  check.uuid('id', orderId);
  check.uuid('customerId', customerId);
  checkItems(check, items);
  checkAddress(check, 'shippingAddress', shippingAddress);
  if (billingAddress !== null) checkAddress(check, 'billingAddress', billingAddress);
  check.oneOf('shippingMethod', shippingMethod, SHIPPING_METHODS);
  check.throwIfAny();

  if (state.status !== 'NOT_CREATED') {
    throw ruleViolation('ORDER_ALREADY_EXISTS', `Order ${orderId} already exists`);
  }
  if (!customerExists)
    throw notFound('CUSTOMER_NOT_FOUND', `Customer ${customerId} does not exist`);
  const catalogue = (productId: string): ProductInfo | undefined =>
    Object.hasOwn(products, productId) ? products[productId] : undefined;
  const missing = items.filter((i) => catalogue(i.productId) === undefined).map((i) => i.productId);
  if (missing.length > 0) {
    throw notFound(
      'PRODUCT_NOT_FOUND',
      `Product${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found`,
    );
  }
  requireStock(items.map((i) => ({ ...i, product: catalogue(i.productId)! })));
  const lines = items.map((i) => toLine(i.productId, i.quantity, catalogue(i.productId)!));
  const currencies = [...new Set(lines.map((l) => l.unitPrice.currency))];
  if (currencies.length > 1) {
    throw ruleViolation(
      'MIXED_CURRENCIES',
      `Products are priced in ${currencies.join(', ')}; an order has one currency`,
    );
  }
  const total = orderTotal(lines);
  requireTotalWithinLimit(total, orderId);
  return [
    OrderEvents.OrderCreated({
      orderId,
      customerId,
      items: lines,
      shippingAddress: toAddress(shippingAddress),
      billingAddress: toAddress(billingAddress ?? shippingAddress),
      shippingMethod,
      total,
      createdAt: now,
    }),
  ];
}

function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  switch (command.type) {
    case 'CreateOrder':
      return decideCreate(command.data, state);

    case 'AddOrderItem': {
      const { orderId, productId, quantity, product, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.uuid('productId', productId);
      check.integer('quantity', quantity, 1, MAX_ITEM_QUANTITY);
      check.throwIfAny();
      const order = requirePending(requireOrder(state, orderId), 'items change');
      if (!product) throw notFound('PRODUCT_NOT_FOUND', `Product ${productId} not found`);
      if (order.items.some((l) => l.productId === productId)) {
        throw ruleViolation(
          'ITEM_ALREADY_IN_ORDER',
          `Product ${productId} is already in order ${orderId}`,
        );
      }
      if (order.items.length >= MAX_ORDER_ITEMS) {
        throw ruleViolation(
          'TOO_MANY_ITEMS',
          `Order ${orderId} already has ${MAX_ORDER_ITEMS} items, the most an order may have`,
        );
      }
      requireCurrency(order.total.currency, product.price, productId);
      requireStock([{ productId, quantity, product }]);
      const item = toLine(productId, quantity, product);
      const total = add(order.total, lineTotal(item));
      requireTotalWithinLimit(total, orderId);
      return [OrderEvents.OrderItemAdded({ orderId, item, total, addedAt: now })];
    }

    case 'RemoveOrderItem': {
      const { orderId, productId, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.uuid('productId', productId);
      check.throwIfAny();
      const order = requirePending(requireOrder(state, orderId), 'items change');
      const line = order.items.find((l) => l.productId === productId);
      if (!line)
        throw ruleViolation('ITEM_NOT_IN_ORDER', `Product ${productId} is not in order ${orderId}`);
      if (order.items.length === 1) {
        throw ruleViolation(
          'LAST_ITEM',
          `Product ${productId} is the last item of order ${orderId}; cancel the order instead`,
        );
      }
      const total = orderTotal(order.items.filter((l) => l.productId !== productId));
      return [
        OrderEvents.OrderItemRemoved({
          orderId,
          productId,
          productName: line.productName,
          total,
          removedAt: now,
        }),
      ];
    }

    case 'ChangeShippingAddress': {
      const { orderId, shippingAddress, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      checkAddress(check, 'shippingAddress', shippingAddress);
      check.throwIfAny();
      const order = requireOrder(state, orderId);
      switch (order.status) {
        case 'PENDING':
        case 'PAID':
          break;
        case 'SHIPPED':
          throw ruleViolation(
            'ORDER_ALREADY_SHIPPED',
            `Order ${orderId} has shipped; its address can no longer change`,
          );
        case 'CANCELLED':
          throw ruleViolation('ORDER_ALREADY_CANCELLED', `Order ${orderId} is cancelled`);
        default:
          return assertNever(order);
      }
      const address = toAddress(shippingAddress);
      if (sameAddress(address, order.shippingAddress)) {
        throw ruleViolation(
          'SHIPPING_ADDRESS_UNCHANGED',
          `Order ${orderId} already ships to this address`,
        );
      }
      return [
        OrderEvents.OrderShippingAddressChanged({
          orderId,
          shippingAddress: address,
          changedAt: now,
        }),
      ];
    }

    case 'ChangeBillingAddress': {
      const { orderId, billingAddress, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      checkAddress(check, 'billingAddress', billingAddress);
      check.throwIfAny();
      // The invoice is made out at payment: after it, the billing address is history.
      const order = requirePending(requireOrder(state, orderId), 'its billing address changes');
      const address = toAddress(billingAddress);
      if (sameAddress(address, order.billingAddress)) {
        throw ruleViolation(
          'BILLING_ADDRESS_UNCHANGED',
          `Order ${orderId} is already billed to this address`,
        );
      }
      return [
        OrderEvents.OrderBillingAddressChanged({
          orderId,
          billingAddress: address,
          changedAt: now,
        }),
      ];
    }

    case 'PayOrder': {
      const { orderId, paymentId, amount, now } = command.data;
      const method = command.data.method ?? DEFAULT_PAYMENT_METHOD;
      const transactionId = command.data.transactionId ?? null;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.text('paymentId', paymentId, { max: MAX_REFERENCE_LENGTH });
      check.money('amount', amount);
      check.oneOf('method', method, PAYMENT_METHODS);
      if (transactionId !== null)
        check.text('transactionId', transactionId, { max: MAX_REFERENCE_LENGTH });
      check.throwIfAny();
      const order = requirePending(requireOrder(state, orderId), 'it can be paid');
      if (amount.amount !== order.total.amount || amount.currency !== order.total.currency) {
        throw ruleViolation(
          'PAYMENT_AMOUNT_MISMATCH',
          `Payment of ${formatMoney(amount)} does not match order ${orderId}: expected exactly ${formatMoney(order.total)}`,
        );
      }
      return [
        OrderEvents.OrderPaid({
          orderId,
          paymentId,
          amount: { ...order.total },
          method,
          transactionId,
          estimatedDelivery: estimateDelivery(order.shippingMethod, now),
          paidAt: now,
        }),
      ];
    }

    case 'ShipOrder': {
      const { orderId, carrier, trackingNumber, now } = command.data;
      const estimatedDelivery = command.data.estimatedDelivery ?? null;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.text('carrier', carrier, { max: MAX_REFERENCE_LENGTH });
      check.text('trackingNumber', trackingNumber, { max: MAX_REFERENCE_LENGTH });
      if (estimatedDelivery !== null) {
        if (!isCalendarDate(estimatedDelivery))
          check.add('estimatedDelivery', 'must be a calendar date like 2026-01-31');
        // Delivery before dispatch is a typo, not an estimate.
        else if (estimatedDelivery < calendarDate(now))
          check.add(
            'estimatedDelivery',
            `must not be before the day of dispatch, ${calendarDate(now)}`,
          );
      }
      check.throwIfAny();
      const order = requireOrder(state, orderId);
      if (order.status !== 'PAID') {
        throw ruleViolation(
          'ORDER_NOT_PAID',
          `Order ${orderId} is ${order.status}; only a PAID order ships`,
        );
      }
      return [
        OrderEvents.OrderShipped({
          orderId,
          carrier,
          trackingNumber,
          estimatedDelivery,
          shippedAt: now,
        }),
      ];
    }

    case 'CancelOrder': {
      const { orderId, reason, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.text('reason', reason, { max: MAX_REASON_LENGTH, multiline: true });
      check.throwIfAny();
      const order = requireOrder(state, orderId);
      switch (order.status) {
        case 'PENDING':
          return [
            OrderEvents.OrderCancelled({ orderId, reason, cancelledAt: now, refunded: false }),
          ];
        case 'PAID':
          // The refund is its own fact so payments and the read side see money go back.
          return [
            OrderEvents.OrderPaymentRefunded({
              orderId,
              paymentId: order.payment.paymentId,
              amount: order.payment.amount,
              reason,
              refundedAt: now,
            }),
            OrderEvents.OrderCancelled({ orderId, reason, cancelledAt: now, refunded: true }),
          ];
        case 'SHIPPED':
          throw ruleViolation(
            'ORDER_ALREADY_SHIPPED',
            `Order ${orderId} has shipped and can no longer be cancelled`,
          );
        case 'CANCELLED':
          throw ruleViolation('ORDER_ALREADY_CANCELLED', `Order ${orderId} is already cancelled`);
        default:
          return assertNever(order);
      }
    }

    case 'MarkOrderReadyToShip': {
      const { orderId, shipmentId, now } = command.data;
      const check = new FieldChecks();
      check.uuid('orderId', orderId);
      check.text('shipmentId', shipmentId, { max: MAX_REFERENCE_LENGTH });
      check.throwIfAny();
      const order = requireOrder(state, orderId);
      if (order.status !== 'PAID') {
        throw ruleViolation(
          'ORDER_NOT_PAID',
          `Order ${orderId} is ${order.status}; only a PAID order can be made ready to ship`,
        );
      }
      if (order.readyToShip) {
        // The fulfillment process may deliver the same step twice.
        if (order.shipmentId === shipmentId) return [];
        throw ruleViolation(
          'SHIPMENT_ALREADY_ASSIGNED',
          `Order ${orderId} is already ready to ship as shipment ${order.shipmentId ?? ''}`,
        );
      }
      return [OrderEvents.OrderReadyToShip({ orderId, shipmentId, readyAt: now })];
    }

    default:
      return assertNever(command);
  }
}

// ---------------------------------------------------------------------------------------
// State

function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderCreated') {
    if (state.status !== 'NOT_CREATED') throw unexpectedEvent('an order', state, event);
    const { orderId, customerId, items, shippingAddress, billingAddress, shippingMethod } =
      event.data;
    const { total, createdAt } = event.data;
    return {
      status: 'PENDING',
      orderId,
      customerId,
      items,
      shippingAddress,
      billingAddress,
      shippingMethod,
      estimatedDelivery: null,
      total,
      createdAt,
      updatedAt: createdAt,
    };
  }
  if (state.status === 'NOT_CREATED') throw unexpectedEvent('an order', state, event);
  switch (event.type) {
    case 'OrderItemAdded':
      if (state.status !== 'PENDING') throw unexpectedEvent('an order', state, event);
      return {
        ...state,
        items: [...state.items, event.data.item],
        total: event.data.total,
        updatedAt: event.data.addedAt,
      };
    case 'OrderItemRemoved':
      if (state.status !== 'PENDING') throw unexpectedEvent('an order', state, event);
      return {
        ...state,
        items: state.items.filter((l) => l.productId !== event.data.productId),
        total: event.data.total,
        updatedAt: event.data.removedAt,
      };
    case 'OrderShippingAddressChanged':
      if (state.status !== 'PENDING' && state.status !== 'PAID')
        throw unexpectedEvent('an order', state, event);
      return {
        ...state,
        shippingAddress: event.data.shippingAddress,
        updatedAt: event.data.changedAt,
      };
    case 'OrderBillingAddressChanged':
      if (state.status !== 'PENDING') throw unexpectedEvent('an order', state, event);
      return {
        ...state,
        billingAddress: event.data.billingAddress,
        updatedAt: event.data.changedAt,
      };
    case 'OrderPaid': {
      if (state.status !== 'PENDING') throw unexpectedEvent('an order', state, event);
      const { paymentId, amount, method, transactionId, estimatedDelivery, paidAt } = event.data;
      return {
        ...state,
        status: 'PAID',
        payment: { paymentId, amount, method, transactionId, paidAt },
        estimatedDelivery,
        readyToShip: false,
        shipmentId: null,
        updatedAt: paidAt,
      };
    }
    case 'OrderReadyToShip':
      if (state.status !== 'PAID') throw unexpectedEvent('an order', state, event);
      return {
        ...state,
        readyToShip: true,
        shipmentId: event.data.shipmentId,
        updatedAt: event.data.readyAt,
      };
    case 'OrderShipped': {
      if (state.status !== 'PAID') throw unexpectedEvent('an order', state, event);
      const { readyToShip: _ready, ...paid } = state;
      const { carrier, trackingNumber, estimatedDelivery, shippedAt } = event.data;
      return {
        ...paid,
        status: 'SHIPPED',
        shipment: { carrier, trackingNumber, shippedAt },
        estimatedDelivery: estimatedDelivery ?? paid.estimatedDelivery,
        updatedAt: shippedAt,
      };
    }
    case 'OrderPaymentRefunded':
      // The order stays PAID for the instant until its OrderCancelled; only the time moves.
      if (state.status !== 'PAID') throw unexpectedEvent('an order', state, event);
      return { ...state, updatedAt: event.data.refundedAt };
    case 'OrderCancelled': {
      const { reason, cancelledAt, refunded } = event.data;
      if (state.status !== 'PENDING' && state.status !== 'PAID')
        throw unexpectedEvent('an order', state, event);
      const { orderId, customerId, items, shippingAddress, billingAddress, shippingMethod } = state;
      const { total, createdAt } = state;
      return {
        status: 'CANCELLED',
        orderId,
        customerId,
        items,
        shippingAddress,
        billingAddress,
        shippingMethod,
        estimatedDelivery: null,
        total,
        createdAt,
        payment: state.status === 'PAID' ? state.payment : null,
        refunded,
        reason,
        cancelledAt,
        updatedAt: cancelledAt,
      };
    }
    default:
      return assertNever(event);
  }
}

/** The order aggregate: lines, address, payment, shipping and cancellation. */
export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  streamType: ORDER_STREAM_TYPE,
  // 2: billing address, shipping method, delivery estimate, payment method.
  snapshotVersion: 2,
  initialState,
  decide,
  evolve,
};
