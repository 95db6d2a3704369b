import type { DomainCommand } from '../shared/decider.js';
import type { Money } from '../shared/money.js';

export type ProductCommand =
  | DomainCommand<
      'RegisterProduct',
      {
        productId: string;
        name: string;
        imageUrl: string;
        price: Money;
        initialStock: number;
        now: string;
      }
    >
  | DomainCommand<'ChangeProductPrice', { productId: string; price: Money; now: string }>
  | DomainCommand<'RestockProduct', { productId: string; quantity: number; now: string }>
  /** Sent by the fulfillment process once an order is paid. */
  | DomainCommand<
      'ReserveStock',
      { productId: string; orderId: string; quantity: number; now: string }
    >
  /** Sent by the fulfillment process when a paid order is cancelled (compensation). */
  | DomainCommand<'ReleaseStock', { productId: string; orderId: string; now: string }>;

export type ProductCommandType = ProductCommand['type'];
