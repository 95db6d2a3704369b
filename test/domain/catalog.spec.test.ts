import { describe, expect, it } from 'vitest';
import type { ProductCommand, ProductEvent, ProductState } from '../../src/catalog/index.js';
import {
  MAX_STOCK_ON_HAND,
  productDecider,
  productInfo,
  productStreamId,
  reservedStock,
  streamId,
  ProductEvents,
} from '../../src/catalog/index.js';
import { MAX_AMOUNT } from '../../src/shared/money.js';
import { spec } from '../support/decider-spec.js';
import { formatMoney } from '../../src/shared/money-format.js';

const productId = '0f6d9a52-3c1b-4e8f-a7d2-5b9e1c4a8f30';
const orderA = 'a1111111-1111-4111-8111-111111111111';
const orderB = 'b2222222-2222-4222-8222-222222222222';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T11:00:00.000Z';
const T2 = '2025-03-01T12:00:00.000Z';
const eur = (amount: number) => ({ amount, currency: 'EUR' });

type RegisterData = Extract<ProductCommand, { type: 'RegisterProduct' }>['data'];
const register = (over: Partial<RegisterData> = {}): ProductCommand => ({
  type: 'RegisterProduct',
  data: {
    productId,
    name: 'Walnut desk lamp',
    imageUrl: 'https://cdn.example.com/img/lamp.png',
    price: eur(1999),
    initialStock: 10,
    now: T0,
    ...over,
  },
});
const registered = (initialStock = 10) =>
  ProductEvents.ProductRegistered({
    productId,
    name: 'Walnut desk lamp',
    imageUrl: 'https://cdn.example.com/img/lamp.png',
    price: eur(1999),
    initialStock,
    registeredAt: T0,
  });
const reserve = (
  orderId: string,
  quantity: number,
  over: Partial<{ productId: string }> = {},
): ProductCommand => ({
  type: 'ReserveStock',
  data: { productId, orderId, quantity, now: T1, ...over },
});
const reserved = (orderId: string, quantity: number, availableAfter: number) =>
  ProductEvents.StockReserved({ productId, orderId, quantity, availableAfter, reservedAt: T1 });
const release = (orderId: string): ProductCommand => ({
  type: 'ReleaseStock',
  data: { productId, orderId, now: T2 },
});
const restock = (quantity: number): ProductCommand => ({
  type: 'RestockProduct',
  data: { productId, quantity, now: T1 },
});
const changePrice = (price: { amount: number; currency: string }): ProductCommand => ({
  type: 'ChangeProductPrice',
  data: { productId, price, now: T1 },
});

const products = spec(productDecider);

describe('product decider', () => {
  it('names its stream and snapshot shape', () => {
    expect(productDecider.streamType).toBe('product');
    expect(productDecider.snapshotVersion).toBe(1);
    expect(streamId(productId)).toBe(`product-${productId}`);
    expect(productStreamId).toBe(streamId);
  });

  describe('RegisterProduct', () => {
    it('registers a product with its initial stock', () => {
      const state = products.when(register()).then([registered()]);
      expect(state).toEqual({
        status: 'REGISTERED',
        productId,
        name: 'Walnut desk lamp',
        imageUrl: 'https://cdn.example.com/img/lamp.png',
        price: eur(1999),
        available: 10,
        reservations: {},
        registeredAt: T0,
        updatedAt: T0,
      });
    });

    it('accepts an initial stock of zero and an http URL', () => {
      products
        .when(register({ initialStock: 0, imageUrl: 'http://img.example.com/a.jpg?size=2' }))
        .then([
          ProductEvents.ProductRegistered({
            ...registered(0).data,
            imageUrl: 'http://img.example.com/a.jpg?size=2',
          }),
        ]);
    });

    it('registers only once', () => {
      products
        .given([registered()])
        .when(register())
        .thenThrows({ kind: 'business', code: 'PRODUCT_ALREADY_REGISTERED' });
    });

    it('collects every invalid field, money problems on amount and currency', () => {
      products
        .when(
          register({
            productId: 'p-1',
            name: '',
            imageUrl: 'ftp://example.com/x.png',
            price: { amount: 19.99, currency: 'eur' },
            initialStock: -1,
          }),
        )
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['id', 'name', 'imageUrl', 'price.amount', 'price.currency', 'initialStock'],
        });
    });

    it.each([
      ['a name over 200 characters', { name: 'x'.repeat(201) }, 'name'],
      ['a relative image URL', { imageUrl: '/img/lamp.png' }, 'imageUrl'],
      ['a javascript: URL', { imageUrl: 'javascript:alert(1)' }, 'imageUrl'],
      [
        'an image URL with surrounding space',
        { imageUrl: ' https://cdn.example.com/a.png' },
        'imageUrl',
      ],
      [
        'an image URL over 2048 characters',
        { imageUrl: `https://cdn.example.com/${'a'.repeat(2030)}` },
        'imageUrl',
      ],
      ['a blank image URL', { imageUrl: '  ' }, 'imageUrl'],
      ['a zero price', { price: eur(0) }, 'price.amount'],
      ['a negative price', { price: eur(-100) }, 'price.amount'],
      ['a fractional price', { price: eur(19.99) }, 'price.amount'],
      ['a price over the maximum', { price: eur(MAX_AMOUNT + 1) }, 'price.amount'],
      ['a lower-case currency', { price: { amount: 100, currency: 'eur' } }, 'price.currency'],
      ['a two-letter currency', { price: { amount: 100, currency: 'EU' } }, 'price.currency'],
      ['a fractional initial stock', { initialStock: 1.5 }, 'initialStock'],
      ['an initial stock over 1 000 000', { initialStock: 1_000_001 }, 'initialStock'],
    ])('refuses %s', (_what, over, path) => {
      products
        .when(register(over))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: [path] });
    });

    it('accepts the largest price exactly', () => {
      const state = products.when(register({ price: eur(MAX_AMOUNT) })).then([
        ProductEvents.ProductRegistered({
          ...registered().data,
          price: eur(MAX_AMOUNT),
        }),
      ]);
      expect(productInfo(state)?.price).toEqual(eur(100_000_000_000));
    });
  });

  describe('ChangeProductPrice', () => {
    it('changes the price and records the previous one', () => {
      const state = products
        .given([registered()])
        .when(changePrice(eur(2499)))
        .then([
          ProductEvents.ProductPriceChanged({
            productId,
            previousPrice: eur(1999),
            price: eur(2499),
            changedAt: T1,
          }),
        ]);
      expect(state).toMatchObject({ price: eur(2499), updatedAt: T1 });
    });

    it('may change the currency', () => {
      products
        .given([registered()])
        .when(changePrice({ amount: 1999, currency: 'USD' }))
        .then([
          ProductEvents.ProductPriceChanged({
            productId,
            previousPrice: eur(1999),
            price: { amount: 1999, currency: 'USD' },
            changedAt: T1,
          }),
        ]);
    });

    it('refuses the same price', () => {
      products
        .given([registered()])
        .when(changePrice(eur(1999)))
        .thenThrows({ kind: 'business', code: 'PRICE_UNCHANGED', message: '19.99 EUR' });
    });

    it('refuses an unknown product', () => {
      products
        .when(changePrice(eur(1)))
        .thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
    });

    it('validates the price', () => {
      products
        .given([registered()])
        .when(changePrice({ amount: 0.5, currency: 'EURO' }))
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['price.amount', 'price.currency'],
        });
    });
  });

  describe('RestockProduct', () => {
    it('adds to the available stock', () => {
      const state = products
        .given([registered()])
        .when(restock(5))
        .then([
          ProductEvents.ProductRestocked({
            productId,
            quantity: 5,
            availableAfter: 15,
            restockedAt: T1,
          }),
        ]);
      expect(state).toMatchObject({ available: 15 });
    });

    it.each([[0], [-3], [1_000_001], [2.5]])('refuses quantity %s', (quantity) => {
      products
        .given([registered()])
        .when(restock(quantity))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['quantity'] });
    });

    it('accepts the bounds 1 and 1 000 000', () => {
      products
        .given([registered(0)])
        .when(restock(1))
        .then([
          ProductEvents.ProductRestocked({
            productId,
            quantity: 1,
            availableAfter: 1,
            restockedAt: T1,
          }),
        ]);
      products
        .given([registered(0)])
        .when(restock(1_000_000))
        .then([
          ProductEvents.ProductRestocked({
            productId,
            quantity: 1_000_000,
            availableAfter: 1_000_000,
            restockedAt: T1,
          }),
        ]);
    });

    it('refuses an unknown product', () => {
      products.when(restock(1)).thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
    });

    it('keeps stock on hand (reserved included) under the ceiling', () => {
      const restocks: ProductEvent[] = [];
      let available = 1_000_000;
      while (available < MAX_STOCK_ON_HAND) {
        available += 1_000_000;
        restocks.push(
          ProductEvents.ProductRestocked({
            productId,
            quantity: 1_000_000,
            availableAfter: available,
            restockedAt: T1,
          }),
        );
      }
      const full = [registered(1_000_000), ...restocks];
      expect(products.given(full).state).toMatchObject({ available: MAX_STOCK_ON_HAND });
      products
        .given(full)
        .when(restock(1))
        .thenThrows({ kind: 'business', code: 'STOCK_LIMIT_EXCEEDED' });
      // Reserved units are still on hand, so reserving does not make room.
      products
        .given([...full, reserved(orderA, 10, MAX_STOCK_ON_HAND - 10)])
        .when(restock(1))
        .thenThrows({ kind: 'business', code: 'STOCK_LIMIT_EXCEEDED' });
    });
  });

  describe('ReserveStock', () => {
    it('sets stock aside for an order', () => {
      const state = products
        .given([registered()])
        .when(reserve(orderA, 3))
        .then([reserved(orderA, 3, 7)]);
      expect(state).toMatchObject({ available: 7, reservations: { [orderA]: 3 } });
    });

    it('may take the last unit, never more', () => {
      products
        .given([registered(3)])
        .when(reserve(orderA, 3))
        .then([reserved(orderA, 3, 0)]);
      products
        .given([registered(3)])
        .when(reserve(orderA, 4))
        .thenThrows({ kind: 'business', code: 'INSUFFICIENT_STOCK', message: /Only 3 units/ });
    });

    it('counts what other orders hold', () => {
      products
        .given([registered(5), reserved(orderA, 4, 1)])
        .when(reserve(orderB, 2))
        .thenThrows({ kind: 'business', code: 'INSUFFICIENT_STOCK', message: /Only 1 unit/ });
      products
        .given([registered(5), reserved(orderA, 4, 1)])
        .when(reserve(orderB, 1))
        .then([reserved(orderB, 1, 0)]);
    });

    it('is a no-op for an order that already holds a reservation, whatever the quantity', () => {
      products
        .given([registered(), reserved(orderA, 3, 7)])
        .when(reserve(orderA, 3))
        .then([]);
      products
        .given([registered(), reserved(orderA, 3, 7)])
        .when(reserve(orderA, 50))
        .then([]);
    });

    it('refuses an unknown product', () => {
      products.when(reserve(orderA, 1)).thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
    });

    it('validates ids and quantity', () => {
      products
        .given([registered()])
        .when({ type: 'ReserveStock', data: { productId: 'x', orderId: '', quantity: 0, now: T1 } })
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['productId', 'orderId', 'quantity'],
        });
    });
  });

  describe('ReleaseStock', () => {
    it("returns the order's reservation to stock", () => {
      const state = products
        .given([registered(), reserved(orderA, 3, 7), reserved(orderB, 2, 5)])
        .when(release(orderA))
        .then([
          ProductEvents.StockReleased({
            productId,
            orderId: orderA,
            quantity: 3,
            availableAfter: 8,
            releasedAt: T2,
          }),
        ]);
      expect(state).toMatchObject({ available: 8, reservations: { [orderB]: 2 } });
      expect(
        (state as Extract<ProductState, { status: 'REGISTERED' }>).reservations,
      ).not.toHaveProperty(orderA);
    });

    it('is a no-op without a reservation, also when released twice', () => {
      products.given([registered()]).when(release(orderA)).then([]);
      const releasedOnce = ProductEvents.StockReleased({
        productId,
        orderId: orderA,
        quantity: 3,
        availableAfter: 10,
        releasedAt: T2,
      });
      products
        .given([registered(), reserved(orderA, 3, 7), releasedOnce])
        .when(release(orderA))
        .then([]);
    });

    it('lets the order reserve again after a release', () => {
      const releasedOnce = ProductEvents.StockReleased({
        productId,
        orderId: orderA,
        quantity: 3,
        availableAfter: 10,
        releasedAt: T2,
      });
      products
        .given([registered(), reserved(orderA, 3, 7), releasedOnce])
        .when(reserve(orderA, 2))
        .then([reserved(orderA, 2, 8)]);
    });

    it('refuses an unknown product', () => {
      products.when(release(orderA)).thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
    });
  });

  describe('evolve', () => {
    it('folds a history to the expected stock and reservations', () => {
      const state = products.given([
        registered(10),
        ProductEvents.ProductRestocked({
          productId,
          quantity: 5,
          availableAfter: 15,
          restockedAt: T1,
        }),
        reserved(orderA, 4, 11),
        reserved(orderB, 6, 5),
        ProductEvents.StockReleased({
          productId,
          orderId: orderA,
          quantity: 4,
          availableAfter: 9,
          releasedAt: T2,
        }),
        ProductEvents.ProductPriceChanged({
          productId,
          previousPrice: eur(1999),
          price: eur(1499),
          changedAt: T2,
        }),
      ]).state;
      expect(state).toEqual({
        status: 'REGISTERED',
        productId,
        name: 'Walnut desk lamp',
        imageUrl: 'https://cdn.example.com/img/lamp.png',
        price: eur(1499),
        available: 9,
        reservations: { [orderB]: 6 },
        registeredAt: T0,
        updatedAt: T2,
      });
      if (state.status !== 'REGISTERED') throw new Error('unreachable');
      expect(reservedStock(state)).toBe(6);
      expect(productInfo(state)).toEqual({
        name: 'Walnut desk lamp',
        imageUrl: 'https://cdn.example.com/img/lamp.png',
        price: eur(1499),
        available: 9,
      });
    });

    it('gives no catalogue entry for an unregistered product', () => {
      expect(productInfo(productDecider.initialState)).toBeUndefined();
    });

    it('refuses events an unregistered or registered product cannot have', () => {
      expect(() =>
        productDecider.evolve(productDecider.initialState, reserved(orderA, 1, 0)),
      ).toThrow(/NOT_REGISTERED/);
      const s = productDecider.evolve(productDecider.initialState, registered());
      expect(() => productDecider.evolve(s, registered())).toThrow(/REGISTERED/);
    });
  });

  describe('formatMoney', () => {
    it.each([
      [5997, '59.97 EUR'],
      [0, '0.00 EUR'],
      [5, '0.05 EUR'],
      [100, '1.00 EUR'],
      [-1250, '-12.50 EUR'],
      [MAX_AMOUNT, '1000000000.00 EUR'],
      [9_007_199_254_740_991, '90071992547409.91 EUR'],
    ])('prints %i minor units as %s', (amount, text) => {
      expect(formatMoney(eur(amount))).toBe(text);
    });
  });
});
