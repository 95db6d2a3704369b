/**
 * The synthetic log of bench:read: customers, products, and orders that advance in cohorts
 * through the commands a shop sees, appended by several writers at once so that events of
 * different orders interleave as they would in production. Its shape is the same on every
 * run (a seeded PRNG); only ids such as tracking numbers and correlation ids differ.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { EventStore } from '../src/eventstore/store.js';
import { seededRandom } from '../test/support/random.js';
import type { NewEvent, StreamAppend } from '../src/eventstore/types.js';
import { PRODUCT_STREAM_TYPE, productStreamId } from '../src/catalog/decider.js';
import { ProductEvents } from '../src/catalog/events.js';
import { CUSTOMER_STREAM_TYPE, customerStreamId } from '../src/customers/decider.js';
import { CustomerEvents } from '../src/customers/events.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../src/orders/decider.js';
import { estimateDelivery } from '../src/orders/delivery.js';
import { OrderEvents, type Address, type OrderLine } from '../src/orders/events.js';

export const CUSTOMERS = 2_000;
export const PRODUCTS = 200;
const COHORT = 150;
export const WRITERS = 8;

/** The shop's vocabulary: names, products, cities and carriers (bench/scale-log.ts too). */
export const FIRST = [
  'Ann',
  'Ben',
  'Clara',
  'David',
  'Eva',
  'Felix',
  'Greta',
  'Hugo',
  'Ida',
  'Jonas',
];
export const LAST = [
  'Schmidt',
  'Meyer',
  'Weber',
  'Fischer',
  'Wagner',
  'Becker',
  'Hoffmann',
  'Koch',
];
export const NOUNS = [
  'Mug',
  'Shirt',
  'Lamp',
  'Chair',
  'Kettle',
  'Towel',
  'Notebook',
  'Backpack',
  'Vase',
];
export const CITIES: [string, string][] = [
  ['Berlin', '10115'],
  ['Hamburg', '20095'],
  ['Munich', '80331'],
  ['Cologne', '50667'],
  ['Leipzig', '04109'],
];
export const CARRIERS = ['DHL', 'UPS', 'DPD', 'Hermes'];

export interface Plan {
  /** Customer and product registrations: appended first. */
  setup: StreamAppend[][];
  /** Per cohort of orders: its appends, to be made in this order. */
  cohorts: StreamAppend[][][];
  events: number;
  orders: number;
  byType: Map<string, number>;
}

/** One command's events, per stream. */
type Action = { streamId: string; streamType: string; events: NewEvent[] }[];

export function planLog(target: number): Plan {
  const rng = seededRandom(42);
  const int = (n: number) => Math.floor(rng() * n);
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
  const byType = new Map<string, number>();
  let events = 0;
  const count = (e: NewEvent) => {
    events++;
    byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    return e;
  };
  const DAY = 86_400_000;
  const start = Date.now() - 120 * DAY;
  const iso = (ms: number) => new Date(ms).toISOString();
  const address = (): Address => {
    const [city, postalCode] = pick(CITIES);
    return { line1: `${pick(LAST)}straße ${1 + int(120)}`, city, postalCode, country: 'DE' };
  };

  // Customers and products.
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({
    id: randomUUID(),
    name: `${pick(FIRST)} ${pick(LAST)}`,
    email: `customer${i}@example.org`,
  }));
  const products = Array.from({ length: PRODUCTS }, (_, i) => ({
    id: randomUUID(),
    name: `${pick(NOUNS)} ${i}`,
    price: 500 + int(20_000),
    stock: 1_000_000,
    version: 1,
  }));
  const setup: StreamAppend[][] = [];
  for (let i = 0; i < CUSTOMERS; i += 200) {
    setup.push(
      customers.slice(i, i + 200).map((c, k) => ({
        streamId: customerStreamId(c.id),
        streamType: CUSTOMER_STREAM_TYPE,
        expected: 'noStream' as const,
        events: [
          count(
            CustomerEvents.CustomerRegistered({
              customerId: c.id,
              name: c.name,
              email: c.email,
              phone: `+49 30 ${1000 + i + k}`,
              registeredAt: iso(start - 10 * DAY + (i + k) * 1000),
            }),
          ),
        ],
      })),
    );
  }
  setup.push(
    products.map((p) => ({
      streamId: productStreamId(p.id),
      streamType: PRODUCT_STREAM_TYPE,
      expected: 'noStream' as const,
      events: [
        count(
          ProductEvents.ProductRegistered({
            productId: p.id,
            name: p.name,
            imageUrl: `https://img.example.org/products/${p.id}.png`,
            price: { amount: p.price, currency: 'EUR' },
            initialStock: p.stock,
            registeredAt: iso(start - 20 * DAY),
          }),
        ),
      ],
    })),
  );

  const lineOf = (p: (typeof products)[number], quantity: number): OrderLine => ({
    productId: p.id,
    productName: p.name,
    imageUrl: `https://img.example.org/products/${p.id}.png`,
    quantity,
    unitPrice: { amount: p.price, currency: 'EUR' },
  });
  const totalOf = (items: OrderLine[]) => ({
    amount: items.reduce((n, l) => n + l.unitPrice.amount * l.quantity, 0),
    currency: 'EUR',
  });

  // Orders, in cohorts.
  const cohorts: StreamAppend[][][] = [];
  let orders = 0;
  let emailChanges = 0;
  while (events < target) {
    const actionsByOrder: Action[][] = [];
    const extras: Action = [];
    // Now and then a customer changes e-mail and a product its price (before these orders).
    for (let k = 0; k < 2; k++) {
      const c = customers[emailChanges++ % CUSTOMERS]!;
      const email = `customer-${randomUUID().slice(0, 8)}@example.net`;
      extras.push({
        streamId: customerStreamId(c.id),
        streamType: CUSTOMER_STREAM_TYPE,
        events: [
          count(
            CustomerEvents.CustomerEmailChanged({
              customerId: c.id,
              previousEmail: c.email,
              email,
              changedAt: iso(start + orders * 500),
            }),
          ),
        ],
      });
      c.email = email;
    }
    {
      const p = pick(products);
      const previous = p.price;
      p.price = Math.max(100, Math.round(p.price * (0.9 + rng() * 0.2)));
      extras.push({
        streamId: productStreamId(p.id),
        streamType: PRODUCT_STREAM_TYPE,
        events: [
          count(
            ProductEvents.ProductPriceChanged({
              productId: p.id,
              previousPrice: { amount: previous, currency: 'EUR' },
              price: { amount: p.price, currency: 'EUR' },
              changedAt: iso(start + orders * 500),
            }),
          ),
        ],
      });
    }
    for (let o = 0; o < COHORT; o++, orders++) {
      const orderId = randomUUID();
      const streamId = orderStreamId(orderId);
      const customer = pick(customers);
      let at = start + orders * 500;
      const next = () => iso((at += 60_000 + int(3_600_000)));
      const onOrder = (...es: NewEvent[]): Action => [
        { streamId, streamType: ORDER_STREAM_TYPE, events: es },
      ];
      const actions: Action[] = [];
      let items: OrderLine[] = [];
      while (items.length < 1 + int(3)) {
        const p = pick(products);
        if (!items.some((l) => l.productId === p.id)) items.push(lineOf(p, 1 + int(3)));
      }
      const shippingAddress = address();
      actions.push(
        onOrder(
          count(
            OrderEvents.OrderCreated({
              orderId,
              customerId: customer.id,
              items,
              shippingAddress,
              billingAddress: shippingAddress,
              shippingMethod: 'STANDARD',
              total: totalOf(items),
              createdAt: iso(at),
            }),
          ),
        ),
      );
      for (let a = int(3); a > 0; a--) {
        const p = pick(products);
        if (items.some((l) => l.productId === p.id)) continue;
        const item = lineOf(p, 1 + int(3));
        items = [...items, item];
        actions.push(
          onOrder(
            count(
              OrderEvents.OrderItemAdded({ orderId, item, total: totalOf(items), addedAt: next() }),
            ),
          ),
        );
      }
      if (items.length > 1 && rng() < 0.3) {
        const gone = pick(items);
        items = items.filter((l) => l !== gone);
        actions.push(
          onOrder(
            count(
              OrderEvents.OrderItemRemoved({
                orderId,
                productId: gone.productId,
                productName: gone.productName,
                total: totalOf(items),
                removedAt: next(),
              }),
            ),
          ),
        );
      }
      if (rng() < 0.1) {
        actions.push(
          onOrder(
            count(
              OrderEvents.OrderShippingAddressChanged({
                orderId,
                shippingAddress: address(),
                changedAt: next(),
              }),
            ),
          ),
        );
      }
      const stock = (type: 'StockReserved' | 'StockReleased', when: string): Action =>
        items.map((l) => {
          const p = products.find((x) => x.id === l.productId)!;
          p.stock += type === 'StockReserved' ? -l.quantity : l.quantity;
          return {
            streamId: productStreamId(p.id),
            streamType: PRODUCT_STREAM_TYPE,
            events: [
              count(
                type === 'StockReserved'
                  ? ProductEvents.StockReserved({
                      productId: p.id,
                      orderId,
                      quantity: l.quantity,
                      availableAfter: p.stock,
                      reservedAt: when,
                    })
                  : ProductEvents.StockReleased({
                      productId: p.id,
                      orderId,
                      quantity: l.quantity,
                      availableAfter: p.stock,
                      releasedAt: when,
                    }),
              ),
            ],
          };
        });
      const cancel = (refund: boolean): Action => {
        const when = next();
        const total = totalOf(items);
        return onOrder(
          ...(refund
            ? [
                count(
                  OrderEvents.OrderPaymentRefunded({
                    orderId,
                    paymentId: `pay-${orderId}`,
                    amount: total,
                    reason: 'customer changed their mind',
                    refundedAt: when,
                  }),
                ),
              ]
            : []),
          count(
            OrderEvents.OrderCancelled({
              orderId,
              reason: 'customer changed their mind',
              cancelledAt: when,
              refunded: refund,
            }),
          ),
        );
      };
      const outcome = rng();
      if (outcome < 0.08) {
        actions.push(cancel(false));
      } else if (outcome < 0.83) {
        const paidAt = next();
        actions.push(
          onOrder(
            count(
              OrderEvents.OrderPaid({
                orderId,
                paymentId: `pay-${orderId}`,
                amount: totalOf(items),
                method: 'CARD',
                transactionId: null,
                estimatedDelivery: estimateDelivery('STANDARD', paidAt),
                paidAt,
              }),
            ),
          ),
        );
        const after = rng();
        if (after < 0.65) {
          const when = next();
          actions.push([
            ...onOrder(
              count(
                OrderEvents.OrderReadyToShip({ orderId, shipmentId: randomUUID(), readyAt: when }),
              ),
            ),
            ...stock('StockReserved', when),
          ]);
          if (rng() < 0.95) {
            actions.push(
              onOrder(
                count(
                  OrderEvents.OrderShipped({
                    orderId,
                    carrier: pick(CARRIERS),
                    trackingNumber: `TRK${randomBytes(6).toString('hex').toUpperCase()}`,
                    estimatedDelivery: null,
                    shippedAt: next(),
                  }),
                ),
              ),
            );
          } else {
            const c = cancel(true);
            actions.push([...c, ...stock('StockReleased', next())]);
          }
        } else if (after < 0.72) {
          actions.push(cancel(true));
        }
      }
      actionsByOrder.push(actions);
    }
    // Step s of the cohort: the s-th command of every order still going, as one append
    // (events of one stream merged, in order).
    const steps = Math.max(...actionsByOrder.map((a) => a.length));
    const appends: StreamAppend[][] = [];
    for (let s = 0; s < steps; s++) {
      const merged = new Map<string, StreamAppend>();
      const parts = actionsByOrder.flatMap((a) => a[s] ?? []);
      if (s === 0) parts.push(...extras);
      for (const part of parts) {
        const m = merged.get(part.streamId);
        if (m) m.events.push(...part.events);
        else
          merged.set(part.streamId, {
            streamId: part.streamId,
            streamType: part.streamType,
            expected: s === 0 && part.streamType === 'order' ? 'noStream' : 'any',
            events: [...part.events],
          });
      }
      appends.push([...merged.values()]);
    }
    cohorts.push(appends);
  }
  return { setup, cohorts, events, orders, byType };
}

export async function appendLog(store: EventStore, plan: Plan) {
  const metadata = (role: string) => ({
    userId: `bench-${role}`,
    role,
    correlationId: randomUUID(),
  });
  for (const appends of plan.setup)
    await store.appendMany(appends, { metadata: metadata('admin') });
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let c = next++; c < plan.cohorts.length; c = next++) {
        for (const appends of plan.cohorts[c]!)
          await store.appendMany(appends, { metadata: metadata('service') });
      }
    }),
  );
}
