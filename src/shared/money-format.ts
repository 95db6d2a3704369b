import type { Money } from './money.js';

/**
 * `5997 EUR` → `"59.97 EUR"`. Works on the digits of the integer, never on a float, so
 * amounts of any size print exactly. Every currency is shown with two decimals, as the
 * rest of Strata assumes cents.
 */
export function formatMoney(money: Money): string {
  const sign = money.amount < 0 ? '-' : '';
  const digits = String(Math.abs(money.amount)).padStart(3, '0');
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)} ${money.currency}`;
}
