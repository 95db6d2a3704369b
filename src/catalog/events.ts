import type { DomainEvent } from '../shared/decider.js';
import { eventBuilders, eventTypes } from '../shared/events.js';
import type { Money } from '../shared/money.js';

/**
 * A product of the catalogue and its stock. "Available" stock is what is on hand and not
 * reserved; a reservation is stock set aside for one paid order until it ships or the
 * order is cancelled.
 */
export type ProductEvent =
  | DomainEvent<
      'ProductRegistered',
      {
        productId: string;
        name: string;
        imageUrl: string;
        price: Money;
        initialStock: number;
        registeredAt: string;
      }
    >
  | DomainEvent<
      'ProductPriceChanged',
      { productId: string; previousPrice: Money; price: Money; changedAt: string }
    >
  | DomainEvent<
      'ProductRestocked',
      { productId: string; quantity: number; availableAfter: number; restockedAt: string }
    >
  | DomainEvent<
      'StockReserved',
      {
        productId: string;
        orderId: string;
        quantity: number;
        availableAfter: number;
        reservedAt: string;
      }
    >
  | DomainEvent<
      'StockReleased',
      {
        productId: string;
        orderId: string;
        quantity: number;
        availableAfter: number;
        releasedAt: string;
      }
    >;

export type ProductEventType = ProductEvent['type'];

/** Every product event type: one that is missing here, or extra, does not compile. */
export const productEventTypes = eventTypes<ProductEvent>({
  ProductRegistered: true,
  ProductPriceChanged: true,
  ProductRestocked: true,
  StockReserved: true,
  StockReleased: true,
});

/** `ProductEvents.ProductRestocked(data)` is that event, its payload checked. */
export const ProductEvents = eventBuilders(productEventTypes);
