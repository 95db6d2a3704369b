import { describe, expect, it } from 'vitest';
import type { ProductInfo } from '../../src/catalog/index.js';
import type {
  Address,
  OrderCommand,
  OrderEvent,
  OrderLine,
  OrderState,
} from '../../src/orders/index.js';
import {
  describeOrderEvent,
  estimateDelivery,
  formatMoney,
  InsufficientStockError,
  isCalendarDate,
  lineTotal,
  MAX_ORDER_ITEMS,
  MAX_ORDER_TOTAL,
  orderDecider,
  orderEventTime,
  orderEventTypes,
  orderStreamId,
  orderTotal,
  streamId,
  OrderEvents,
} from '../../src/orders/index.js';
import type { DomainErrorKind } from '../../src/shared/decider.js';
import { MAX_AMOUNT, type Money } from '../../src/shared/money.js';
import { eventUpcasters } from '../../src/server/upcasters.js';
import { spec } from '../support/decider-spec.js';

// ---------------------------------------------------------------------------------------
// Fixtures

const orderId = '9e4f5a60-1b2c-4d3e-8f70-a1b2c3d4e5f6';
const customerId = '5b0c3f8e-6a43-4c3e-9d54-0a1f0e7b2c11';
/** Product ids p(1), p(2) … */
const p = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const T = (minute: number) => `2025-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
const eur = (amount: number): Money => ({ amount, currency: 'EUR' });
const usd = (amount: number): Money => ({ amount, currency: 'USD' });

const info = (n: number, price: Money = eur(1000 + n)): ProductInfo => ({
  name: `Product ${n}`,
  imageUrl: `https://cdn.example.com/p/${n}.png`,
  price,
  available: 1000,
});
const lamp: ProductInfo = {
  name: 'Desk lamp',
  imageUrl: 'https://cdn.example.com/lamp.png',
  price: eur(1999),
  available: 50,
};
const bulb: ProductInfo = {
  name: 'Bulb',
  imageUrl: 'https://cdn.example.com/bulb.png',
  price: eur(500),
  available: 200,
};
const catalogue: Record<string, ProductInfo | undefined> = { [p(1)]: lamp, [p(2)]: bulb };

const address: Address = {
  line1: '1 Main Street',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};
const otherAddress: Address = {
  line1: '2 High Street',
  line2: 'Flat 3',
  city: 'London',
  postalCode: 'SW1A 1AA',
  country: 'GB',
};

const line = (n: number, quantity: number, product: ProductInfo): OrderLine => ({
  productId: p(n),
  productName: product.name,
  imageUrl: product.imageUrl,
  quantity,
  unitPrice: product.price,
});
const lampLine = line(1, 3, lamp); // 3 × 19.99 = 59.97
const bulbLine = line(2, 1, bulb); //  1 ×  5.00 =  5.00

type Data<T extends OrderCommand['type']> = Extract<OrderCommand, { type: T }>['data'];

const create = (over: Partial<Data<'CreateOrder'>> = {}): OrderCommand => ({
  type: 'CreateOrder',
  data: {
    orderId,
    customerId,
    customerExists: true,
    items: [
      { productId: p(1), quantity: 3 },
      { productId: p(2), quantity: 1 },
    ],
    products: catalogue,
    shippingAddress: address,
    now: T(0),
    ...over,
  },
});
const addItem = (
  n: number,
  quantity: number,
  product: ProductInfo | undefined = info(n),
): OrderCommand => ({
  type: 'AddOrderItem',
  data: { orderId, productId: p(n), quantity, product, now: T(5) },
});
const removeItem = (n: number): OrderCommand => ({
  type: 'RemoveOrderItem',
  data: { orderId, productId: p(n), now: T(5) },
});
const changeAddress = (
  shippingAddress: Data<'ChangeShippingAddress'>['shippingAddress'] = otherAddress,
): OrderCommand => ({
  type: 'ChangeShippingAddress',
  data: { orderId, shippingAddress, now: T(6) },
});
const pay = (amount: Money = eur(6497), paymentId = 'pay-1'): OrderCommand => ({
  type: 'PayOrder',
  data: { orderId, paymentId, amount, now: T(10) },
});
const ship = (carrier = 'DHL', trackingNumber = 'JD0123456789'): OrderCommand => ({
  type: 'ShipOrder',
  data: { orderId, carrier, trackingNumber, now: T(30) },
});
const cancel = (reason = 'Changed my mind'): OrderCommand => ({
  type: 'CancelOrder',
  data: { orderId, reason, now: T(40) },
});
const markReady = (shipmentId = 'shp-1'): OrderCommand => ({
  type: 'MarkOrderReadyToShip',
  data: { orderId, shipmentId, now: T(20) },
});

const created = OrderEvents.OrderCreated({
  orderId,
  customerId,
  items: [lampLine, bulbLine],
  shippingAddress: address,
  billingAddress: address,
  shippingMethod: 'STANDARD',
  total: eur(6497),
  createdAt: T(0),
});
const paid = OrderEvents.OrderPaid({
  orderId,
  paymentId: 'pay-1',
  amount: eur(6497),
  method: 'CARD',
  transactionId: null,
  // Paid on Saturday 1 March 2025: five business days are Monday 3 to Friday 7.
  estimatedDelivery: '2025-03-07',
  paidAt: T(10),
});
const ready = OrderEvents.OrderReadyToShip({
  orderId,
  shipmentId: 'shp-1',
  readyAt: T(20),
});
const shipped = OrderEvents.OrderShipped({
  orderId,
  carrier: 'DHL',
  trackingNumber: 'JD0123456789',
  estimatedDelivery: null,
  shippedAt: T(30),
});
const refunded = OrderEvents.OrderPaymentRefunded({
  orderId,
  paymentId: 'pay-1',
  amount: eur(6497),
  reason: 'Changed my mind',
  refundedAt: T(40),
});
const cancelled = (wasRefunded: boolean) =>
  OrderEvents.OrderCancelled({
    orderId,
    reason: 'Changed my mind',
    cancelledAt: T(40),
    refunded: wasRefunded,
  });

/** One history per situation an order can be in. */
const histories = {
  PENDING: [created],
  PAID: [created, paid],
  'PAID (ready to ship)': [created, paid, ready],
  SHIPPED: [created, paid, ready, shipped],
  'CANCELLED (unpaid)': [created, cancelled(false)],
  'CANCELLED (refunded)': [created, paid, refunded, cancelled(true)],
} satisfies Record<string, OrderEvent[]>;
type Situation = keyof typeof histories;

const orders = spec(orderDecider);

// ---------------------------------------------------------------------------------------

describe('order decider', () => {
  it('names its stream and snapshot shape', () => {
    expect(orderDecider.streamType).toBe('order');
    expect(orderDecider.snapshotVersion).toBe(2);
    expect(streamId(orderId)).toBe(`order-${orderId}`);
    expect(orderStreamId).toBe(streamId);
    expect(orderDecider.initialState).toEqual({ status: 'NOT_CREATED' });
  });

  describe('CreateOrder', () => {
    it('creates a PENDING order, capturing name, image and price from the catalogue', () => {
      const state = orders.when(create()).then([created]);
      expect(state).toEqual({
        status: 'PENDING',
        orderId,
        customerId,
        items: [lampLine, bulbLine],
        shippingAddress: address,
        billingAddress: address,
        shippingMethod: 'STANDARD',
        estimatedDelivery: null,
        total: eur(6497),
        createdAt: T(0),
        updatedAt: T(0),
      });
    });

    it('keeps line2 when given and leaves it out when null or omitted', () => {
      const withLine2 = { ...address, line2: 'Hinterhaus' };
      orders.when(create({ shippingAddress: withLine2 })).then([
        OrderEvents.OrderCreated({
          ...created.data,
          shippingAddress: withLine2,
          billingAddress: withLine2,
        }),
      ]);
      orders.when(create({ shippingAddress: { ...address, line2: null } })).then([created]);
      orders.when(create({ shippingAddress: { ...address, line2: undefined } })).then([created]);
    });

    it('accepts 10 items and quantities 1 and 1000', () => {
      const items = Array.from({ length: MAX_ORDER_ITEMS }, (_, i) => ({
        productId: p(i + 1),
        quantity: i % 2 ? 1000 : 1,
      }));
      const products = Object.fromEntries(items.map((_, i) => [p(i + 1), info(i + 1)]));
      const lines = items.map((item, i) => line(i + 1, item.quantity, info(i + 1)));
      const total = lines.reduce((sum, l) => sum + l.unitPrice.amount * l.quantity, 0);
      orders.when(create({ items, products })).then([
        OrderEvents.OrderCreated({
          orderId,
          customerId,
          items: lines,
          shippingAddress: address,
          billingAddress: address,
          shippingMethod: 'STANDARD',
          total: eur(total),
          createdAt: T(0),
        }),
      ]);
    });

    it('collects every invalid field in one error, with mutation-input paths', () => {
      orders
        .when(
          create({
            orderId: 'nope',
            customerId: '',
            items: [
              { productId: 'x', quantity: 1 },
              { productId: p(2), quantity: 0 },
            ],
            shippingAddress: {
              line1: ' ',
              line2: '',
              city: '',
              postalCode: 'p'.repeat(201),
              country: 'de',
            },
          }),
        )
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: [
            'id',
            'customerId',
            'items.0.productId',
            'items.1.quantity',
            'shippingAddress.line1',
            'shippingAddress.line2',
            'shippingAddress.city',
            'shippingAddress.postalCode',
            'shippingAddress.country',
          ],
        });
    });

    it.each([
      ['no items', { items: [] }, ['items']],
      [
        '11 items',
        { items: Array.from({ length: 11 }, (_, i) => ({ productId: p(i + 1), quantity: 1 })) },
        ['items'],
      ],
      [
        'the same product twice',
        {
          items: [
            { productId: p(1), quantity: 1 },
            { productId: p(2), quantity: 1 },
            { productId: p(1), quantity: 2 },
          ],
        },
        ['items.2.productId'],
      ],
      ['quantity 0', { items: [{ productId: p(1), quantity: 0 }] }, ['items.0.quantity']],
      ['quantity 1001', { items: [{ productId: p(1), quantity: 1001 }] }, ['items.0.quantity']],
      [
        'a fractional quantity',
        { items: [{ productId: p(1), quantity: 1.5 }] },
        ['items.0.quantity'],
      ],
      ['a negative quantity', { items: [{ productId: p(1), quantity: -1 }] }, ['items.0.quantity']],
      [
        'an upper-case product id',
        { items: [{ productId: orderId.toUpperCase(), quantity: 1 }] },
        ['items.0.productId'],
      ],
      [
        'a three-letter country',
        { shippingAddress: { ...address, country: 'DEU' } },
        ['shippingAddress.country'],
      ],
      [
        'a lower-case country',
        { shippingAddress: { ...address, country: 'de' } },
        ['shippingAddress.country'],
      ],
      [
        'a city over 200 characters',
        { shippingAddress: { ...address, city: 'c'.repeat(201) } },
        ['shippingAddress.city'],
      ],
      [
        'a blank line2',
        { shippingAddress: { ...address, line2: '  ' } },
        ['shippingAddress.line2'],
      ],
      [
        'a line1 with a line break',
        { shippingAddress: { ...address, line1: '1 Main\nStreet' } },
        ['shippingAddress.line1'],
      ],
    ] as [string, Partial<Data<'CreateOrder'>>, string[]][])(
      'refuses %s',
      (_what, over, fields) => {
        orders
          .when(create(over))
          .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields });
      },
    );

    it('refuses an unknown customer', () => {
      orders
        .when(create({ customerExists: false }))
        .thenThrows({ kind: 'notFound', code: 'CUSTOMER_NOT_FOUND', message: customerId });
    });

    it('refuses unknown products, naming all of them', () => {
      const error = orders
        .when(
          create({
            items: [
              { productId: p(1), quantity: 1 },
              { productId: p(7), quantity: 1 },
              { productId: p(8), quantity: 1 },
            ],
            products: { ...catalogue, [p(8)]: undefined },
          }),
        )
        .thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
      expect(error.message).toContain(p(7));
      expect(error.message).toContain(p(8));
      expect(error.message).not.toContain(p(1));
    });

    it('refuses products priced in different currencies', () => {
      orders
        .when(create({ products: { [p(1)]: lamp, [p(2)]: { ...bulb, price: usd(500) } } }))
        .thenThrows({ kind: 'business', code: 'MIXED_CURRENCIES', message: 'EUR, USD' });
    });

    it.each(Object.keys(histories) as Situation[])(
      'refuses to create again when the order is %s',
      (situation) => {
        orders
          .given(histories[situation])
          .when(create())
          .thenThrows({ kind: 'business', code: 'ORDER_ALREADY_EXISTS' });
      },
    );

    it('validates input before looking at the state', () => {
      orders
        .given([created])
        .when(create({ items: [] }))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['items'] });
    });
  });

  describe('money arithmetic in integer minor units', () => {
    it('3 × 19.99 is exactly 59.97', () => {
      expect(lineTotal(lampLine)).toEqual(eur(5997));
      orders.when(create({ items: [{ productId: p(1), quantity: 3 }] })).then([
        OrderEvents.OrderCreated({
          ...created.data,
          items: [lampLine],
          total: eur(5997),
        }),
      ]);
    });

    it('sums prices that floats get wrong (0.10 + 0.20)', () => {
      const dime: ProductInfo = { ...lamp, price: eur(10) };
      const twenty: ProductInfo = { ...bulb, price: eur(20) };
      const [e] = orderDecider.decide(
        create({
          items: [
            { productId: p(1), quantity: 1 },
            { productId: p(2), quantity: 1 },
          ],
          products: { [p(1)]: dime, [p(2)]: twenty },
        }),
        orderDecider.initialState,
      );
      expect(e?.type === 'OrderCreated' && e.data.total).toEqual(eur(30));
    });

    it('stays exact up to the largest total, and refuses one cent more', () => {
      // One limit for a total, the domain's: that of any single amount, so it can be paid.
      expect(MAX_ORDER_TOTAL).toBe(MAX_AMOUNT);
      // 1000 × 999 999.99 + 1 × 10.00 = 1 000 000 000.00, exactly MAX_ORDER_TOTAL.
      const items = [
        { productId: p(1), quantity: 1000 },
        { productId: p(2), quantity: 1 },
      ];
      const products = { [p(1)]: info(1, eur(99_999_999)), [p(2)]: info(2, eur(1000)) };
      const [e] = orderDecider.decide(create({ items, products }), orderDecider.initialState);
      if (e?.type !== 'OrderCreated') throw new Error('expected OrderCreated');
      expect(e.data.total).toEqual(eur(MAX_ORDER_TOTAL));
      expect(formatMoney(e.data.total)).toBe('1000000000.00 EUR');
      const state = orderDecider.evolve(orderDecider.initialState, e);
      // Paid to the cent even at this size.
      orders
        .given([e])
        .when(pay(eur(MAX_ORDER_TOTAL)))
        .then([OrderEvents.OrderPaid({ ...paid.data, amount: eur(MAX_ORDER_TOTAL) })]);
      orders
        .given([e])
        .when(pay(eur(MAX_ORDER_TOTAL - 1)))
        .thenThrows({
          kind: 'business',
          code: 'PAYMENT_AMOUNT_MISMATCH',
          message: 'expected exactly 1000000000.00 EUR',
        });
      expect(state.status).toBe('PENDING');

      const tooMuch = { ...products, [p(2)]: info(2, eur(1001)) };
      orders.when(create({ items, products: tooMuch })).thenThrows({
        kind: 'business',
        code: 'ORDER_TOTAL_TOO_LARGE',
        message: 'would total 1000000000.01 EUR; the most an order may total is 1000000000.00 EUR',
      });
      orders
        .given([e])
        .when(addItem(3, 1, info(3, eur(1))))
        .thenThrows({ kind: 'business', code: 'ORDER_TOTAL_TOO_LARGE' });
    });

    it('takes totals past GraphQL’s 32-bit Int, which bounds nothing any more', () => {
      // 2 × 20 000 000.00 = 40 000 000.00 EUR, past 2^31 − 1 minor units.
      const items = [{ productId: p(1), quantity: 2 }];
      const products = { [p(1)]: info(1, eur(2_000_000_000)) };
      const [e] = orderDecider.decide(create({ items, products }), orderDecider.initialState);
      if (e?.type !== 'OrderCreated') throw new Error('expected OrderCreated');
      expect(e.data.total).toEqual(eur(4_000_000_000));
      const state = orderDecider.evolve(orderDecider.initialState, e);
      const [added] = orderDecider.decide(addItem(2, 1000, info(2, eur(1_000_000))), state);
      expect(added?.type === 'OrderItemAdded' && added.data.total).toEqual(eur(5_000_000_000));
      orders
        .given([e])
        .when(pay(eur(4_000_000_000)))
        .then([OrderEvents.OrderPaid({ ...paid.data, amount: eur(4_000_000_000) })]);
    });

    it('computes the worst case (10 × 1000 × the maximum price) exactly before refusing it', () => {
      const items = Array.from({ length: 10 }, (_, i) => ({ productId: p(i + 1), quantity: 1000 }));
      const products = Object.fromEntries(
        items.map((_, i) => [p(i + 1), info(i + 1, eur(MAX_AMOUNT))]),
      );
      orders.when(create({ items, products })).thenThrows({
        kind: 'business',
        code: 'ORDER_TOTAL_TOO_LARGE',
        message: '10000000000000.00 EUR',
      });
    });

    it('computes the total from the lines, never from what a caller claims', () => {
      expect(orderTotal([lampLine, bulbLine])).toEqual(eur(6497));
      expect(() => orderTotal([])).toThrow();
    });
  });

  describe('AddOrderItem', () => {
    it('adds a line at the catalogue price of the moment and updates the total', () => {
      const widget = info(3, eur(1234));
      const state = orders
        .given([created])
        .when(addItem(3, 2, widget))
        .then([
          OrderEvents.OrderItemAdded({
            orderId,
            item: line(3, 2, widget),
            total: eur(6497 + 2468),
            addedAt: T(5),
          }),
        ]);
      expect(state).toMatchObject({
        status: 'PENDING',
        items: [lampLine, bulbLine, line(3, 2, widget)],
        total: eur(8965),
        updatedAt: T(5),
      });
    });

    it('keeps the price captured earlier when the catalogue price has changed since', () => {
      // Lamp now costs 25.00 in the catalogue; the existing line still says 19.99.
      const state = orders
        .given([created])
        .when(addItem(3, 1, info(3, eur(100))))
        .then([
          OrderEvents.OrderItemAdded({
            orderId,
            item: line(3, 1, info(3, eur(100))),
            total: eur(6597),
            addedAt: T(5),
          }),
        ]);
      expect(state.status === 'PENDING' && state.items[0]?.unitPrice).toEqual(eur(1999));
    });

    it('refuses a product already in the order', () => {
      orders
        .given([created])
        .when(addItem(1, 1, lamp))
        .thenThrows({ kind: 'business', code: 'ITEM_ALREADY_IN_ORDER' });
    });

    it('refuses an 11th item', () => {
      const full: OrderEvent[] = [created];
      let total = 6497;
      for (let n = 3; n <= MAX_ORDER_ITEMS; n++) {
        total += info(n).price.amount;
        full.push(
          OrderEvents.OrderItemAdded({
            orderId,
            item: line(n, 1, info(n)),
            total: eur(total),
            addedAt: T(n),
          }),
        );
      }
      expect(orders.given(full).state).toMatchObject({ items: { length: 10 } });
      orders
        .given(full)
        .when(addItem(11, 1))
        .thenThrows({ kind: 'business', code: 'TOO_MANY_ITEMS' });
    });

    it('refuses a product in another currency', () => {
      orders
        .given([created])
        .when(addItem(3, 1, info(3, usd(100))))
        .thenThrows({ kind: 'business', code: 'MIXED_CURRENCIES' });
    });

    it('refuses a product missing from the catalogue', () => {
      orders
        .given([created])
        .when({
          type: 'AddOrderItem',
          data: { orderId, productId: p(3), quantity: 1, product: undefined, now: T(5) },
        })
        .thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND', message: p(3) });
    });

    it.each([[0], [1001], [2.5]])('refuses quantity %s', (quantity) => {
      orders
        .given([created])
        .when(addItem(3, quantity))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['quantity'] });
    });

    it('validates the ids', () => {
      orders
        .given([created])
        .when({
          type: 'AddOrderItem',
          data: { orderId: 'o', productId: 'p', quantity: 1, product: lamp, now: T(5) },
        })
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['orderId', 'productId'],
        });
    });
  });

  describe('RemoveOrderItem', () => {
    it('removes a line and recomputes the total', () => {
      const state = orders
        .given([created])
        .when(removeItem(2))
        .then([
          OrderEvents.OrderItemRemoved({
            orderId,
            productId: p(2),
            productName: 'Bulb',
            total: eur(5997),
            removedAt: T(5),
          }),
        ]);
      expect(state).toMatchObject({ items: [lampLine], total: eur(5997) });
    });

    it('never empties an order', () => {
      const removed = OrderEvents.OrderItemRemoved({
        orderId,
        productId: p(2),
        productName: 'Bulb',
        total: eur(5997),
        removedAt: T(5),
      });
      orders
        .given([created, removed])
        .when(removeItem(1))
        .thenThrows({ kind: 'business', code: 'LAST_ITEM' });
    });

    it('refuses a product not in the order', () => {
      orders
        .given([created])
        .when(removeItem(9))
        .thenThrows({ kind: 'business', code: 'ITEM_NOT_IN_ORDER' });
    });

    it('lets a removed product be added again', () => {
      const removed = OrderEvents.OrderItemRemoved({
        orderId,
        productId: p(2),
        productName: 'Bulb',
        total: eur(5997),
        removedAt: T(5),
      });
      orders
        .given([created, removed])
        .when(addItem(2, 2, bulb))
        .then([
          OrderEvents.OrderItemAdded({
            orderId,
            item: line(2, 2, bulb),
            total: eur(6997),
            addedAt: T(5),
          }),
        ]);
    });
  });

  describe('ChangeShippingAddress', () => {
    it.each(['PENDING', 'PAID', 'PAID (ready to ship)'] as Situation[])(
      'changes the address of a %s order',
      (situation) => {
        const state = orders
          .given(histories[situation])
          .when(changeAddress())
          .then([
            OrderEvents.OrderShippingAddressChanged({
              orderId,
              shippingAddress: otherAddress,
              changedAt: T(6),
            }),
          ]);
        expect(state).toMatchObject({ shippingAddress: otherAddress, updatedAt: T(6) });
      },
    );

    it('can drop line2', () => {
      const withLine2 = OrderEvents.OrderShippingAddressChanged({
        orderId,
        shippingAddress: otherAddress,
        changedAt: T(6),
      });
      const state = orders
        .given([created, withLine2])
        .when(changeAddress({ ...otherAddress, line2: null }))
        .then([
          OrderEvents.OrderShippingAddressChanged({
            orderId,
            shippingAddress: {
              line1: '2 High Street',
              city: 'London',
              postalCode: 'SW1A 1AA',
              country: 'GB',
            },
            changedAt: T(6),
          }),
        ]);
      expect(state.status === 'PENDING' && state.shippingAddress).not.toHaveProperty('line2');
    });

    it('refuses the same address (null line2 equals none)', () => {
      orders
        .given([created])
        .when(changeAddress({ ...address, line2: null }))
        .thenThrows({ kind: 'business', code: 'SHIPPING_ADDRESS_UNCHANGED' });
    });

    it('validates every field', () => {
      orders
        .given([created])
        .when(
          changeAddress({
            line1: '',
            city: 'x'.repeat(201),
            postalCode: '\u0000',
            country: 'Germany',
          }),
        )
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: [
            'shippingAddress.line1',
            'shippingAddress.city',
            'shippingAddress.postalCode',
            'shippingAddress.country',
          ],
        });
    });
  });

  describe('PayOrder', () => {
    it('pays the exact total', () => {
      const state = orders.given([created]).when(pay()).then([paid]);
      expect(state).toEqual({
        status: 'PAID',
        orderId,
        customerId,
        items: [lampLine, bulbLine],
        shippingAddress: address,
        billingAddress: address,
        shippingMethod: 'STANDARD',
        estimatedDelivery: '2025-03-07',
        total: eur(6497),
        payment: {
          paymentId: 'pay-1',
          amount: eur(6497),
          method: 'CARD',
          transactionId: null,
          paidAt: T(10),
        },
        readyToShip: false,
        shipmentId: null,
        createdAt: T(0),
        updatedAt: T(10),
      });
    });

    it.each([
      ['one cent short', eur(6496)],
      ['one cent over', eur(6498)],
      ['the right amount in another currency', usd(6497)],
      ['nothing', eur(0)],
    ])('refuses %s, naming the expected amount', (_what, amount) => {
      orders.given([created]).when(pay(amount)).thenThrows({
        kind: 'business',
        code: 'PAYMENT_AMOUNT_MISMATCH',
        message: 'expected exactly 64.97 EUR',
      });
    });

    it('pays the total after items changed', () => {
      const added = OrderEvents.OrderItemAdded({
        orderId,
        item: line(3, 1, info(3)),
        total: eur(7500),
        addedAt: T(5),
      });
      orders
        .given([created, added])
        .when(pay(eur(6497)))
        .thenThrows({ kind: 'business', code: 'PAYMENT_AMOUNT_MISMATCH', message: '75.00 EUR' });
      orders
        .given([created, added])
        .when(pay(eur(7500)))
        .then([OrderEvents.OrderPaid({ ...paid.data, amount: eur(7500) })]);
    });

    it.each([
      ['a blank payment id', { paymentId: '  ' }, ['paymentId']],
      ['a payment id over 100 characters', { paymentId: 'x'.repeat(101) }, ['paymentId']],
      ['a negative amount', { amount: eur(-6497) }, ['amount.amount']],
      ['a fractional amount', { amount: eur(64.97) }, ['amount.amount']],
      ['a bad currency', { amount: { amount: 6497, currency: '€' } }, ['amount.currency']],
    ] as [string, Partial<Data<'PayOrder'>>, string[]][])('refuses %s', (_what, over, fields) => {
      const command = pay();
      orders
        .given([created])
        .when({
          ...command,
          data: { ...(command.data as Data<'PayOrder'>), ...over },
        } as OrderCommand)
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields });
    });
  });

  describe('MarkOrderReadyToShip', () => {
    it('marks a paid order ready; it stays PAID', () => {
      const state = orders.given([created, paid]).when(markReady()).then([ready]);
      expect(state).toMatchObject({
        status: 'PAID',
        readyToShip: true,
        shipmentId: 'shp-1',
        updatedAt: T(20),
      });
    });

    it('is idempotent for the same shipment', () => {
      orders.given([created, paid, ready]).when(markReady('shp-1')).then([]);
    });

    it('refuses another shipment', () => {
      orders
        .given([created, paid, ready])
        .when(markReady('shp-2'))
        .thenThrows({ kind: 'business', code: 'SHIPMENT_ALREADY_ASSIGNED' });
    });

    it('validates the shipment id', () => {
      orders
        .given([created, paid])
        .when(markReady(''))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['shipmentId'] });
    });
  });

  describe('ShipOrder', () => {
    it.each(['PAID', 'PAID (ready to ship)'] as Situation[])('ships a %s order', (situation) => {
      const state = orders.given(histories[situation]).when(ship()).then([shipped]);
      expect(state).toMatchObject({
        status: 'SHIPPED',
        payment: { paymentId: 'pay-1', amount: eur(6497), paidAt: T(10) },
        shipment: { carrier: 'DHL', trackingNumber: 'JD0123456789', shippedAt: T(30) },
      });
      expect(state).not.toHaveProperty('readyToShip');
    });

    it('validates carrier and tracking number', () => {
      orders
        .given([created, paid])
        .when(ship(' ', 'x'.repeat(101)))
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['carrier', 'trackingNumber'],
        });
    });
  });

  describe('CancelOrder', () => {
    it('cancels a pending order without refund', () => {
      const state = orders
        .given([created])
        .when(cancel())
        .then([cancelled(false)]);
      expect(state).toMatchObject({
        status: 'CANCELLED',
        payment: null,
        refunded: false,
        reason: 'Changed my mind',
        cancelledAt: T(40),
      });
    });

    it.each(['PAID', 'PAID (ready to ship)'] as Situation[])(
      'refunds, then cancels, a %s order',
      (situation) => {
        const state = orders
          .given(histories[situation])
          .when(cancel())
          .then([refunded, cancelled(true)]);
        expect(state).toMatchObject({
          status: 'CANCELLED',
          payment: { paymentId: 'pay-1', amount: eur(6497) },
          refunded: true,
          total: eur(6497),
        });
      },
    );

    it('accepts a multi-line reason of 500 characters and refuses 501', () => {
      const reason = `Line one\n${'r'.repeat(491)}`;
      expect([...reason]).toHaveLength(500);
      orders
        .given([created])
        .when(cancel(reason))
        .then([OrderEvents.OrderCancelled({ ...cancelled(false).data, reason })]);
      orders
        .given([created])
        .when(cancel(`${reason}r`))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['reason'] });
    });

    it('refuses a blank reason', () => {
      orders
        .given([created])
        .when(cancel(' \n '))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['reason'] });
    });
  });

  // -------------------------------------------------------------------------------------
  // Every command in every situation. `ok` means the command is accepted.

  describe('transitions', () => {
    type Outcome = 'ok' | [DomainErrorKind, string];
    const commands: Record<string, OrderCommand> = {
      CreateOrder: create(),
      AddOrderItem: addItem(3, 1),
      RemoveOrderItem: removeItem(2),
      ChangeShippingAddress: changeAddress(),
      PayOrder: pay(),
      MarkOrderReadyToShip: markReady('shp-1'),
      ShipOrder: ship(),
      CancelOrder: cancel(),
    };
    const notPending: Outcome = ['business', 'ORDER_NOT_PENDING'];
    const notPaid: Outcome = ['business', 'ORDER_NOT_PAID'];
    const exists: Outcome = ['business', 'ORDER_ALREADY_EXISTS'];
    const isShipped: Outcome = ['business', 'ORDER_ALREADY_SHIPPED'];
    const isCancelled: Outcome = ['business', 'ORDER_ALREADY_CANCELLED'];
    const notFound: Outcome = ['notFound', 'ORDER_NOT_FOUND'];
    const matrix: Record<'none' | Situation, Record<keyof typeof commands, Outcome>> = {
      none: {
        CreateOrder: 'ok',
        AddOrderItem: notFound,
        RemoveOrderItem: notFound,
        ChangeShippingAddress: notFound,
        PayOrder: notFound,
        MarkOrderReadyToShip: notFound,
        ShipOrder: notFound,
        CancelOrder: notFound,
      },
      PENDING: {
        CreateOrder: exists,
        AddOrderItem: 'ok',
        RemoveOrderItem: 'ok',
        ChangeShippingAddress: 'ok',
        PayOrder: 'ok',
        MarkOrderReadyToShip: notPaid,
        ShipOrder: notPaid,
        CancelOrder: 'ok',
      },
      PAID: {
        CreateOrder: exists,
        AddOrderItem: notPending,
        RemoveOrderItem: notPending,
        ChangeShippingAddress: 'ok',
        PayOrder: notPending,
        MarkOrderReadyToShip: 'ok',
        ShipOrder: 'ok',
        CancelOrder: 'ok',
      },
      'PAID (ready to ship)': {
        CreateOrder: exists,
        AddOrderItem: notPending,
        RemoveOrderItem: notPending,
        ChangeShippingAddress: 'ok',
        PayOrder: notPending,
        MarkOrderReadyToShip: 'ok', // same shipment again: accepted with no events
        ShipOrder: 'ok',
        CancelOrder: 'ok',
      },
      SHIPPED: {
        CreateOrder: exists,
        AddOrderItem: notPending,
        RemoveOrderItem: notPending,
        ChangeShippingAddress: isShipped,
        PayOrder: notPending,
        MarkOrderReadyToShip: notPaid,
        ShipOrder: notPaid,
        CancelOrder: isShipped,
      },
      'CANCELLED (unpaid)': {
        CreateOrder: exists,
        AddOrderItem: notPending,
        RemoveOrderItem: notPending,
        ChangeShippingAddress: isCancelled,
        PayOrder: notPending,
        MarkOrderReadyToShip: notPaid,
        ShipOrder: notPaid,
        CancelOrder: isCancelled,
      },
      'CANCELLED (refunded)': {
        CreateOrder: exists,
        AddOrderItem: notPending,
        RemoveOrderItem: notPending,
        ChangeShippingAddress: isCancelled,
        PayOrder: notPending,
        MarkOrderReadyToShip: notPaid,
        ShipOrder: notPaid,
        CancelOrder: isCancelled,
      },
    };
    const cases = Object.entries(matrix).flatMap(([situation, row]) =>
      Object.entries(row).map(([command, outcome]) => [situation, command, outcome] as const),
    );

    it.each(cases)('%s + %s → %j', (situation, command, outcome) => {
      const given = situation === 'none' ? [] : histories[situation as Situation];
      const when = orders.given(given).when(commands[command]!);
      if (outcome === 'ok') {
        const events = orderDecider.decide(commands[command]!, orders.given(given).state);
        when.then(events); // re-checks determinism, JSON shape and that evolve accepts them
      } else {
        when.thenThrows({ kind: outcome[0], code: outcome[1] });
      }
    });

    it('leads to the status the API names', () => {
      const statusAfter = (situation: Situation, command: OrderCommand): OrderState['status'] => {
        const state = orders.given(histories[situation]).state;
        return orderDecider.decide(command, state).reduce(orderDecider.evolve, state).status;
      };
      expect(orders.when(create()).then([created]).status).toBe('PENDING');
      expect(statusAfter('PENDING', pay())).toBe('PAID');
      expect(statusAfter('PAID', markReady())).toBe('PAID');
      expect(statusAfter('PAID', ship())).toBe('SHIPPED');
      expect(statusAfter('PENDING', cancel())).toBe('CANCELLED');
      expect(statusAfter('PAID', cancel())).toBe('CANCELLED');
    });
  });

  describe('evolve', () => {
    it('folds a whole history to the expected state', () => {
      const added = OrderEvents.OrderItemAdded({
        orderId,
        item: line(3, 2, info(3)),
        total: eur(6497 + 2006),
        addedAt: T(2),
      });
      const removed = OrderEvents.OrderItemRemoved({
        orderId,
        productId: p(1),
        productName: 'Desk lamp',
        total: eur(500 + 2006),
        removedAt: T(3),
      });
      const moved = OrderEvents.OrderShippingAddressChanged({
        orderId,
        shippingAddress: otherAddress,
        changedAt: T(4),
      });
      const paidRight = OrderEvents.OrderPaid({
        orderId,
        paymentId: 'pay-9',
        amount: eur(2506),
        method: 'PAYPAL',
        transactionId: 'PP-77',
        estimatedDelivery: '2025-03-07',
        paidAt: T(10),
      });
      const state = orders.given([created, added, removed, moved, paidRight, ready, shipped]).state;
      expect(state).toEqual({
        status: 'SHIPPED',
        orderId,
        customerId,
        items: [bulbLine, line(3, 2, info(3))],
        shippingAddress: otherAddress,
        billingAddress: address,
        shippingMethod: 'STANDARD',
        estimatedDelivery: '2025-03-07',
        total: eur(2506),
        payment: {
          paymentId: 'pay-9',
          amount: eur(2506),
          method: 'PAYPAL',
          transactionId: 'PP-77',
          paidAt: T(10),
        },
        shipmentId: 'shp-1',
        shipment: { carrier: 'DHL', trackingNumber: 'JD0123456789', shippedAt: T(30) },
        createdAt: T(0),
        updatedAt: T(30),
      });
    });

    it('folds a refunded cancellation', () => {
      expect(orders.given(histories['CANCELLED (refunded)']).state).toEqual({
        status: 'CANCELLED',
        orderId,
        customerId,
        items: [lampLine, bulbLine],
        shippingAddress: address,
        billingAddress: address,
        shippingMethod: 'STANDARD',
        estimatedDelivery: null,
        total: eur(6497),
        payment: {
          paymentId: 'pay-1',
          amount: eur(6497),
          method: 'CARD',
          transactionId: null,
          paidAt: T(10),
        },
        refunded: true,
        reason: 'Changed my mind',
        cancelledAt: T(40),
        createdAt: T(0),
        updatedAt: T(40),
      });
    });

    it.each([
      ['OrderPaid before OrderCreated', [], paid],
      ['OrderCreated twice', [created], created],
      [
        'OrderItemAdded after payment',
        [created, paid],
        OrderEvents.OrderItemAdded({
          orderId,
          item: line(3, 1, info(3)),
          total: eur(1),
          addedAt: T(1),
        }),
      ],
      ['OrderShipped before payment', [created], shipped],
      ['OrderCancelled after shipping', [created, paid, shipped], cancelled(true)],
      ['OrderReadyToShip while pending', [created], ready],
      ['OrderPaymentRefunded while pending', [created], refunded],
    ] as [string, OrderEvent[], OrderEvent][])(
      'refuses %s as a damaged stream',
      (_what, history, event) => {
        const state = history.reduce(orderDecider.evolve, orderDecider.initialState);
        expect(() => orderDecider.evolve(state, event)).toThrow(/cannot apply/);
      },
    );
  });

  describe('timeline', () => {
    it.each([
      [created, 'Order created with 4 items, total 64.97 EUR'],
      [
        OrderEvents.OrderCreated({
          ...created.data,
          items: [lampLine],
          total: eur(5997),
        }),
        'Order created with 3 items, total 59.97 EUR',
      ],
      [
        OrderEvents.OrderCreated({
          ...created.data,
          items: [bulbLine],
          total: eur(500),
        }),
        'Order created with 1 item, total 5.00 EUR',
      ],
      [
        OrderEvents.OrderItemAdded({
          orderId,
          item: line(2, 2, bulb),
          total: eur(6997),
          addedAt: T(5),
        }),
        'Added 2 × Bulb at 5.00 EUR; total 69.97 EUR',
      ],
      [
        OrderEvents.OrderItemRemoved({
          orderId,
          productId: p(2),
          productName: 'Bulb',
          total: eur(5997),
          removedAt: T(5),
        }),
        'Removed Bulb; total 59.97 EUR',
      ],
      [
        OrderEvents.OrderShippingAddressChanged({
          orderId,
          shippingAddress: otherAddress,
          changedAt: T(6),
        }),
        'Shipping address changed to 2 High Street, Flat 3, SW1A 1AA London, GB',
      ],
      [paid, 'Paid 64.97 EUR by card (payment pay-1); estimated delivery 2025-03-07'],
      [
        OrderEvents.OrderPaid({
          ...paid.data,
          method: 'BANK_TRANSFER',
          transactionId: 'TX-9',
          estimatedDelivery: '2025-03-04',
        }),
        'Paid 64.97 EUR by bank transfer (payment pay-1, transaction TX-9); estimated delivery 2025-03-04',
      ],
      [
        OrderEvents.OrderBillingAddressChanged({
          orderId,
          billingAddress: otherAddress,
          changedAt: T(5),
        }),
        'Billing address changed to 2 High Street, Flat 3, SW1A 1AA London, GB',
      ],
      [ready, 'Stock reserved; ready to ship (shipment shp-1)'],
      [shipped, 'Shipped with DHL, tracking number JD0123456789'],
      [
        OrderEvents.OrderShipped({ ...shipped.data, estimatedDelivery: '2025-03-05' }),
        'Shipped with DHL, tracking number JD0123456789; estimated delivery 2025-03-05',
      ],
      [refunded, 'Refunded 64.97 EUR (payment pay-1)'],
      [cancelled(false), 'Cancelled: Changed my mind'],
      [cancelled(true), 'Cancelled: Changed my mind; payment refunded'],
    ] as [OrderEvent, string][])('describes %j', (event, text) => {
      expect(describeOrderEvent(event)).toBe(text);
    });

    it('gives every event type a description and a time', () => {
      const all = [
        created,
        OrderEvents.OrderItemAdded({ orderId, item: bulbLine, total: eur(1), addedAt: T(1) }),
        OrderEvents.OrderItemRemoved({
          orderId,
          productId: p(2),
          productName: 'Bulb',
          total: eur(1),
          removedAt: T(2),
        }),
        OrderEvents.OrderShippingAddressChanged({
          orderId,
          shippingAddress: address,
          changedAt: T(3),
        }),
        OrderEvents.OrderBillingAddressChanged({
          orderId,
          billingAddress: otherAddress,
          changedAt: T(4),
        }),
        paid,
        ready,
        shipped,
        refunded,
        cancelled(true),
      ];
      expect(all.map((e) => e.type).sort()).toEqual([...orderEventTypes].sort());
      expect(all.map(orderEventTime)).toEqual([
        T(0),
        T(1),
        T(2),
        T(3),
        T(4),
        T(10),
        T(20),
        T(30),
        T(40),
        T(40),
      ]);
      for (const e of all) expect(describeOrderEvent(e).length).toBeGreaterThan(0);
    });
  });
});

// ---------------------------------------------------------------------------------------
// The order as the specification has it: stock at ordering, billing, methods, estimate

describe('order decider: stock at ordering', () => {
  const short = (available: number, product: ProductInfo = lamp): ProductInfo => ({
    ...product,
    available,
  });

  it('accepts a quantity equal to what is available', () => {
    orders.when(create({ products: { [p(1)]: short(3), [p(2)]: short(1, bulb) } })).then([created]);
  });

  it('refuses every product short at once, naming requested and available, and writes nothing', () => {
    const err = orders
      .when(create({ products: { [p(1)]: short(2), [p(2)]: short(0, bulb) } }))
      .thenThrows({ kind: 'business', code: 'INSUFFICIENT_STOCK', message: /Insufficient stock/ });
    expect(err).toBeInstanceOf(InsufficientStockError);
    expect((err as InsufficientStockError).shortages).toEqual([
      { productId: p(1), productName: 'Desk lamp', requested: 3, available: 2 },
      { productId: p(2), productName: 'Bulb', requested: 1, available: 0 },
    ]);
  });

  it('refuses an added item beyond what is available, and accepts it within', () => {
    const err = orders
      .given([created])
      .when(addItem(3, 5, { ...info(3), available: 4 }))
      .thenThrows({ kind: 'business', code: 'INSUFFICIENT_STOCK' });
    expect((err as InsufficientStockError).shortages).toEqual([
      { productId: p(3), productName: 'Product 3', requested: 5, available: 4 },
    ]);
    orders
      .given([created])
      .when(addItem(3, 4, { ...info(3), available: 4 }))
      .then([
        OrderEvents.OrderItemAdded({
          orderId,
          item: line(3, 4, info(3)),
          total: eur(6497 + 4 * 1003),
          addedAt: T(5),
        }),
      ]);
  });

  it('checks that the products exist before their stock', () => {
    orders
      .when(create({ products: { [p(1)]: short(0) } }))
      .thenThrows({ kind: 'notFound', code: 'PRODUCT_NOT_FOUND' });
  });
});

describe('order decider: billing address', () => {
  it('bills to the address given at ordering', () => {
    orders
      .when(create({ billingAddress: otherAddress }))
      .then([OrderEvents.OrderCreated({ ...created.data, billingAddress: otherAddress })]);
  });

  it('checks the billing address like the shipping address, by its own paths', () => {
    orders
      .when(create({ billingAddress: { ...address, city: '', country: 'Germany' } }))
      .thenThrows({
        kind: 'validation',
        code: 'VALIDATION_FAILED',
        fields: ['billingAddress.city', 'billingAddress.country'],
      });
  });

  const changeBilling = (billingAddress = otherAddress): OrderCommand => ({
    type: 'ChangeBillingAddress',
    data: { orderId, billingAddress, now: T(7) },
  });

  it('changes it while the order is PENDING', () => {
    const state = orders
      .given([created])
      .when(changeBilling())
      .then([
        OrderEvents.OrderBillingAddressChanged({
          orderId,
          billingAddress: otherAddress,
          changedAt: T(7),
        }),
      ]);
    expect(state).toMatchObject({ billingAddress: otherAddress, shippingAddress: address });
  });

  it('refuses the same address, and any change once paid', () => {
    orders
      .given([created])
      .when(changeBilling(address))
      .thenThrows({ kind: 'business', code: 'BILLING_ADDRESS_UNCHANGED' });
    orders
      .given([created, paid])
      .when(changeBilling())
      .thenThrows({ kind: 'business', code: 'ORDER_NOT_PENDING' });
    orders.when(changeBilling()).thenThrows({ kind: 'notFound', code: 'ORDER_NOT_FOUND' });
  });
});

describe('order decider: payment and shipping methods, delivery estimate', () => {
  const payWith = (over: Partial<Data<'PayOrder'>>): OrderCommand => ({
    type: 'PayOrder',
    data: { orderId, paymentId: 'pay-1', amount: eur(6497), now: T(10), ...over },
  });

  it('pays by CARD without a transaction id unless told otherwise', () => {
    orders
      .given([created])
      .when(payWith({ method: null, transactionId: null }))
      .then([paid]);
    orders
      .given([created])
      .when(payWith({ method: 'INVOICE', transactionId: 'INV-2025-001' }))
      .then([
        OrderEvents.OrderPaid({ ...paid.data, method: 'INVOICE', transactionId: 'INV-2025-001' }),
      ]);
  });

  it('refuses an unknown method and an unusable transaction id', () => {
    orders
      .given([created])
      .when(payWith({ method: 'CASH' as never, transactionId: 'x'.repeat(101) }))
      .thenThrows({
        kind: 'validation',
        code: 'VALIDATION_FAILED',
        fields: ['method', 'transactionId'],
      });
  });

  it('estimates delivery at payment from the shipping method chosen at ordering', () => {
    const express = OrderEvents.OrderCreated({ ...created.data, shippingMethod: 'EXPRESS' });
    orders.when(create({ shippingMethod: 'EXPRESS' })).then([express]);
    // Paid on Saturday 1 March 2025: two business days are Monday 3 and Tuesday 4.
    orders
      .given([express])
      .when(pay())
      .then([OrderEvents.OrderPaid({ ...paid.data, estimatedDelivery: '2025-03-04' })]);
    orders
      .when(create({ shippingMethod: 'BY_SEA' as never }))
      .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['shippingMethod'] });
  });

  const shipWith = (estimatedDelivery: string | null): OrderCommand => ({
    type: 'ShipOrder',
    data: {
      orderId,
      carrier: 'DHL',
      trackingNumber: 'JD0123456789',
      estimatedDelivery,
      now: T(30),
    },
  });

  it('takes the carrier’s estimate at dispatch in place of the one made at payment', () => {
    const state = orders
      .given([created, paid, ready])
      .when(shipWith('2025-03-05'))
      .then([OrderEvents.OrderShipped({ ...shipped.data, estimatedDelivery: '2025-03-05' })]);
    expect(state).toMatchObject({ status: 'SHIPPED', estimatedDelivery: '2025-03-05' });
    const kept = orders.given([created, paid, ready]).when(shipWith(null)).then([shipped]);
    expect(kept).toMatchObject({ estimatedDelivery: '2025-03-07' });
  });

  it.each([
    ['not a date', 'next week'],
    ['no such day', '2025-02-30'],
    ['before the day of dispatch', '2025-02-28'],
  ])('refuses a carrier estimate that is %s', (_what, date) => {
    orders
      .given([created, paid, ready])
      .when(shipWith(date))
      .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: ['estimatedDelivery'] });
  });

  it('forgets the estimate when the order is cancelled', () => {
    expect(orders.given([created, paid, refunded, cancelled(true)]).state).toMatchObject({
      status: 'CANCELLED',
      estimatedDelivery: null,
    });
  });
});

describe('estimateDelivery', () => {
  it.each([
    // Monday 1 December 2025 at noon.
    ['STANDARD', '2025-12-01T12:00:00Z', '2025-12-08'],
    ['EXPRESS', '2025-12-01T12:00:00Z', '2025-12-03'],
    ['NEXT_DAY', '2025-12-01T12:00:00Z', '2025-12-02'],
    // Friday: the weekend does not count.
    ['NEXT_DAY', '2025-12-05T09:00:00Z', '2025-12-08'],
    ['EXPRESS', '2025-12-05T09:00:00Z', '2025-12-09'],
    ['STANDARD', '2025-12-05T09:00:00Z', '2025-12-12'],
    // Saturday and Sunday count from Monday.
    ['NEXT_DAY', '2025-12-06T09:00:00Z', '2025-12-08'],
    ['NEXT_DAY', '2025-12-07T23:59:59Z', '2025-12-08'],
    // The UTC date of the payment counts, across months and years.
    ['STANDARD', '2025-12-29T00:00:00Z', '2026-01-05'],
    ['EXPRESS', '2026-02-27T10:00:00+00:00', '2026-03-03'],
  ] as const)('%s paid at %s arrives %s', (method, paidAt, expected) => {
    expect(estimateDelivery(method, paidAt)).toBe(expected);
  });

  it('knows real calendar dates', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2025-02-29')).toBe(false);
    expect(isCalendarDate('2025-1-01')).toBe(false);
    expect(isCalendarDate(20250101)).toBe(false);
  });
});

describe('order upcasters', () => {
  const registry = eventUpcasters();
  const upcast = (type: string, data: unknown) => registry.upcast(type, 1, data).data;

  it('reads orders from before billing addresses and methods with their defaults', () => {
    const { billingAddress: _b, shippingMethod: _m, ...v1 } = created.data;
    expect(upcast('OrderCreated', v1)).toEqual(created.data);
    const { method: _p, transactionId: _t, estimatedDelivery: _e, ...paidV1 } = paid.data;
    // Paid on a Saturday: STANDARD, five business days.
    expect(upcast('OrderPaid', paidV1)).toEqual(paid.data);
    const { estimatedDelivery: _s, ...shippedV1 } = shipped.data;
    expect(upcast('OrderShipped', shippedV1)).toEqual(shipped.data);
  });

  it('leaves a payload that already has the fields as it is', () => {
    const express = { ...paid.data, method: 'PAYPAL', estimatedDelivery: '2025-03-04' };
    expect(upcast('OrderPaid', express)).toEqual(express);
    const billed = { ...created.data, billingAddress: otherAddress, shippingMethod: 'NEXT_DAY' };
    expect(upcast('OrderCreated', billed)).toEqual(billed);
    expect(registry.currentVersion('OrderPaid')).toBe(2);
    expect(registry.currentVersion('OrderItemAdded')).toBe(1);
  });
});
