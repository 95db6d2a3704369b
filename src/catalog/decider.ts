import {
  assertNever,
  type Decider,
  notFound,
  ruleViolation,
  unexpectedEvent,
} from '../shared/decider.js';
import type { Money } from '../shared/money.js';
import { FieldChecks, MAX_NAME_LENGTH } from '../shared/field-checks.js';
import type { ProductCommand } from './commands.js';
import { ProductEvents, type ProductEvent } from './events.js';
import { formatMoney } from '../shared/money-format.js';

/** Event-store stream type of products. */
export const PRODUCT_STREAM_TYPE = 'product';

/** The stream that holds one product's events: `product-<uuid>`. */
export const streamId = (productId: string): string => `product-${productId}`;
export { streamId as productStreamId };

/** Largest quantity one restock, initial stock or reservation may move. */
export const MAX_STOCK_MOVEMENT = 1_000_000;
/** Ceiling on stock on hand (available + reserved), so counts stay small exact integers. */
export const MAX_STOCK_ON_HAND = 1_000_000_000;

/**
 * What an order captures of a product when the product is added to it: the name, the
 * picture and the price of that moment.
 */
export interface ProductInfo {
  name: string;
  imageUrl: string;
  price: Money;
  /**
   * Units on hand that no paid order has reserved. An order is refused beyond it when it is
   * placed; the reservation at payment remains the guarantee (docs/orders.md, "Stock").
   */
  available: number;
}

/** A product as the write model knows it. Plain JSON: it is stored as a snapshot. */
export type ProductState =
  | { status: 'NOT_REGISTERED' }
  | {
      status: 'REGISTERED';
      productId: string;
      name: string;
      imageUrl: string;
      price: Money;
      /** Units on hand and not reserved: what a new reservation may take. */
      available: number;
      /** Units set aside, by order id. An order holds at most one reservation. */
      reservations: Record<string, number>;
      registeredAt: string;
      /** Time of the latest event. */
      updatedAt: string;
    };

export type ProductStatus = ProductState['status'];

type RegisteredProduct = Extract<ProductState, { status: 'REGISTERED' }>;

/** The catalogue entry an order handler hands to the order decider, if the product exists. */
export function productInfo(state: ProductState): ProductInfo | undefined {
  return state.status === 'REGISTERED'
    ? { name: state.name, imageUrl: state.imageUrl, price: state.price, available: state.available }
    : undefined;
}

/** Units reserved for all orders together. */
export const reservedStock = (state: RegisteredProduct): number =>
  Object.values(state.reservations).reduce((sum, q) => sum + q, 0);

const initialState: ProductState = { status: 'NOT_REGISTERED' };

function requireRegistered(state: ProductState, productId: string): RegisteredProduct {
  if (state.status === 'NOT_REGISTERED') {
    throw notFound('PRODUCT_NOT_FOUND', `Product ${productId} does not exist`);
  }
  return state;
}

function decide(command: ProductCommand, state: ProductState): ProductEvent[] {
  switch (command.type) {
    case 'RegisterProduct': {
      const { productId, name, imageUrl, price, initialStock, now } = command.data;
      const check = new FieldChecks();
      // The mutation calls the new product's id `id`; paths follow the mutation input.
      check.uuid('id', productId);
      check.text('name', name, { max: MAX_NAME_LENGTH });
      check.httpUrl('imageUrl', imageUrl);
      // A zero price is far likelier a slip than a give-away, and would make free orders.
      check.money('price', price, 1);
      check.integer('initialStock', initialStock, 0, MAX_STOCK_MOVEMENT);
      check.throwIfAny();
      if (state.status !== 'NOT_REGISTERED') {
        throw ruleViolation(
          'PRODUCT_ALREADY_REGISTERED',
          `Product ${productId} is already registered`,
        );
      }
      return [
        ProductEvents.ProductRegistered({
          productId,
          name,
          imageUrl,
          price: { ...price },
          initialStock,
          registeredAt: now,
        }),
      ];
    }
    case 'ChangeProductPrice': {
      const { productId, price, now } = command.data;
      const check = new FieldChecks();
      check.uuid('productId', productId);
      check.money('price', price, 1);
      check.throwIfAny();
      const product = requireRegistered(state, productId);
      if (price.amount === product.price.amount && price.currency === product.price.currency) {
        throw ruleViolation(
          'PRICE_UNCHANGED',
          `Product ${productId} already costs ${formatMoney(price)}`,
        );
      }
      return [
        ProductEvents.ProductPriceChanged({
          productId,
          previousPrice: product.price,
          price: { ...price },
          changedAt: now,
        }),
      ];
    }
    case 'RestockProduct': {
      const { productId, quantity, now } = command.data;
      const check = new FieldChecks();
      check.uuid('productId', productId);
      check.integer('quantity', quantity, 1, MAX_STOCK_MOVEMENT);
      check.throwIfAny();
      const product = requireRegistered(state, productId);
      const onHand = product.available + reservedStock(product);
      if (onHand + quantity > MAX_STOCK_ON_HAND) {
        throw ruleViolation(
          'STOCK_LIMIT_EXCEEDED',
          `Product ${productId} has ${onHand} units on hand; at most ${MAX_STOCK_ON_HAND - onHand} more fit`,
        );
      }
      return [
        ProductEvents.ProductRestocked({
          productId,
          quantity,
          availableAfter: product.available + quantity,
          restockedAt: now,
        }),
      ];
    }
    case 'ReserveStock': {
      const { productId, orderId, quantity, now } = command.data;
      const check = new FieldChecks();
      check.uuid('productId', productId);
      check.uuid('orderId', orderId);
      check.integer('quantity', quantity, 1, MAX_STOCK_MOVEMENT);
      check.throwIfAny();
      const product = requireRegistered(state, productId);
      // The fulfillment process may deliver a step twice; the first reservation stands.
      if (Object.hasOwn(product.reservations, orderId)) return [];
      if (quantity > product.available) {
        throw ruleViolation(
          'INSUFFICIENT_STOCK',
          `Only ${product.available} units of product ${productId} available; ${quantity} requested for order ${orderId}`,
        );
      }
      return [
        ProductEvents.StockReserved({
          productId,
          orderId,
          quantity,
          availableAfter: product.available - quantity,
          reservedAt: now,
        }),
      ];
    }
    case 'ReleaseStock': {
      const { productId, orderId, now } = command.data;
      const check = new FieldChecks();
      check.uuid('productId', productId);
      check.uuid('orderId', orderId);
      check.throwIfAny();
      const product = requireRegistered(state, productId);
      const quantity = Object.hasOwn(product.reservations, orderId)
        ? product.reservations[orderId]
        : undefined;
      // Releasing twice, or for an order whose reservation failed, must be harmless.
      if (quantity === undefined) return [];
      return [
        ProductEvents.StockReleased({
          productId,
          orderId,
          quantity,
          availableAfter: product.available + quantity,
          releasedAt: now,
        }),
      ];
    }
    default:
      return assertNever(command);
  }
}

function evolve(state: ProductState, event: ProductEvent): ProductState {
  if (event.type === 'ProductRegistered') {
    if (state.status !== 'NOT_REGISTERED') throw unexpectedEvent('a product', state, event);
    const { productId, name, imageUrl, price, initialStock, registeredAt } = event.data;
    return {
      status: 'REGISTERED',
      productId,
      name,
      imageUrl,
      price,
      available: initialStock,
      reservations: {},
      registeredAt,
      updatedAt: registeredAt,
    };
  }
  if (state.status !== 'REGISTERED') throw unexpectedEvent('a product', state, event);
  switch (event.type) {
    case 'ProductPriceChanged':
      return { ...state, price: event.data.price, updatedAt: event.data.changedAt };
    case 'ProductRestocked':
      return { ...state, available: event.data.availableAfter, updatedAt: event.data.restockedAt };
    case 'StockReserved':
      return {
        ...state,
        available: event.data.availableAfter,
        reservations: { ...state.reservations, [event.data.orderId]: event.data.quantity },
        updatedAt: event.data.reservedAt,
      };
    case 'StockReleased': {
      const { [event.data.orderId]: _released, ...kept } = state.reservations;
      return {
        ...state,
        available: event.data.availableAfter,
        reservations: kept,
        updatedAt: event.data.releasedAt,
      };
    }
    default:
      return assertNever(event);
  }
}

/** The product aggregate: catalogue data, price and stock with per-order reservations. */
export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = {
  streamType: PRODUCT_STREAM_TYPE,
  snapshotVersion: 1,
  initialState,
  decide,
  evolve,
};
