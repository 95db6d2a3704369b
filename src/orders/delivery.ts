/*
 * How an order is paid and shipped, and when it should arrive: the rule the order decider
 * applies at payment (docs/orders.md, "Delivery estimate").
 */

/** The API's `PaymentMethod`. */
export const PAYMENT_METHODS = ['CARD', 'PAYPAL', 'BANK_TRANSFER', 'INVOICE'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
/** What a payment that does not say was made with (and what payments before methods were). */
export const DEFAULT_PAYMENT_METHOD: PaymentMethod = 'CARD';

/** The API's `ShippingMethod`. */
export const SHIPPING_METHODS = ['STANDARD', 'EXPRESS', 'NEXT_DAY'] as const;
export type ShippingMethod = (typeof SHIPPING_METHODS)[number];
/** What an order that does not say ships with (and what orders before methods shipped with). */
export const DEFAULT_SHIPPING_METHOD: ShippingMethod = 'STANDARD';

/** Business days from payment to delivery, by method. */
export const DELIVERY_BUSINESS_DAYS: Readonly<Record<ShippingMethod, number>> = {
  STANDARD: 5,
  EXPRESS: 2,
  NEXT_DAY: 1,
};

/** An ISO calendar date, `YYYY-MM-DD` (the API's `Date`). */
export type CalendarDate = string;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `value` is a real calendar date written `YYYY-MM-DD` (not 2026-02-30). */
export function isCalendarDate(value: unknown): value is CalendarDate {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

/** The calendar date (UTC) of an instant given as an ISO string. */
export const calendarDate = (instant: string): CalendarDate =>
  new Date(instant).toISOString().slice(0, 10);

/**
 * When an order paid at `paidAt` should arrive: the UTC calendar date of the payment plus
 * the method's business days, Saturdays and Sundays not counted (a payment on a Saturday
 * starts counting on Monday). Public holidays and the carrier's cut-off times are not
 * modelled: the carrier's own estimate at dispatch replaces this one.
 */
export const estimateDelivery = (method: ShippingMethod, paidAt: string): CalendarDate =>
  addBusinessDays(calendarDate(paidAt), DELIVERY_BUSINESS_DAYS[method]);

/** The `days`-th business day (Monday to Friday) after `date`. */
export function addBusinessDays(date: CalendarDate, days: number): CalendarDate {
  const day = new Date(`${date}T00:00:00.000Z`);
  let left = days;
  while (left > 0) {
    day.setUTCDate(day.getUTCDate() + 1);
    const weekday = day.getUTCDay();
    if (weekday !== 0 && weekday !== 6) left--;
  }
  return day.toISOString().slice(0, 10);
}
