/** An amount in minor units (cents) of one currency. Integers only: no floats touch money. */
export interface Money {
  amount: number;
  /** ISO 4217 code, upper case (EUR, USD …). */
  currency: string;
}

export const CURRENCY = /^[A-Z]{3}$/;
/** Largest amount Strata accepts anywhere: keeps sums far inside the safe integer range. */
export const MAX_AMOUNT = 1_000_000_000_00;

export function isValidMoney(m: Money): boolean {
  return (
    Number.isSafeInteger(m.amount) &&
    m.amount >= 0 &&
    m.amount <= MAX_AMOUNT &&
    CURRENCY.test(m.currency)
  );
}

export function multiply(m: Money, quantity: number): Money {
  return { amount: m.amount * quantity, currency: m.currency };
}

export function add(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new Error(`Cannot add ${a.currency} to ${b.currency}`);
  return { amount: a.amount + b.amount, currency: a.currency };
}

export const zero = (currency: string): Money => ({ amount: 0, currency });
