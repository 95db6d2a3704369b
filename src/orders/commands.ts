import type { ProductInfo } from '../catalog/index.js';
import type { DomainCommand } from '../shared/decider.js';
import type { Money } from '../shared/money.js';
import type { CalendarDate, PaymentMethod, ShippingMethod } from './delivery.js';

/** A shipping address as a client sends it; GraphQL gives `null` for an omitted `line2`. */
export interface AddressInput {
  line1: string;
  line2?: string | null;
  city: string;
  postalCode: string;
  country: string;
}

export interface OrderItemInput {
  productId: string;
  quantity: number;
}

export type OrderCommand =
  | DomainCommand<
      'CreateOrder',
      {
        orderId: string;
        customerId: string;
        /** Whether the handler found the customer's stream. */
        customerExists: boolean;
        items: OrderItemInput[];
        /** The catalogue entry of each requested product as the handler loaded it; undefined when missing. */
        products: Record<string, ProductInfo | undefined>;
        shippingAddress: AddressInput;
        /** The shipping address when absent. */
        billingAddress?: AddressInput | null;
        /** STANDARD when absent. */
        shippingMethod?: ShippingMethod | null;
        now: string;
      }
    >
  | DomainCommand<
      'AddOrderItem',
      {
        orderId: string;
        productId: string;
        quantity: number;
        product: ProductInfo | undefined;
        now: string;
      }
    >
  | DomainCommand<'RemoveOrderItem', { orderId: string; productId: string; now: string }>
  | DomainCommand<
      'ChangeShippingAddress',
      { orderId: string; shippingAddress: AddressInput; now: string }
    >
  | DomainCommand<
      'ChangeBillingAddress',
      { orderId: string; billingAddress: AddressInput; now: string }
    >
  | DomainCommand<
      'PayOrder',
      {
        orderId: string;
        paymentId: string;
        amount: Money;
        /** CARD when absent. */
        method?: PaymentMethod | null;
        transactionId?: string | null;
        now: string;
      }
    >
  | DomainCommand<
      'ShipOrder',
      {
        orderId: string;
        carrier: string;
        trackingNumber: string;
        /** The carrier's estimate, if it gave one. */
        estimatedDelivery?: CalendarDate | null;
        now: string;
      }
    >
  | DomainCommand<'CancelOrder', { orderId: string; reason: string; now: string }>
  /** Sent by the fulfillment process once the order's stock is reserved. */
  | DomainCommand<'MarkOrderReadyToShip', { orderId: string; shipmentId: string; now: string }>;

export type OrderCommandType = OrderCommand['type'];
