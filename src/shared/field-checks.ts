import { validationError, type FieldError } from './decider.js';
import { CURRENCY, MAX_AMOUNT, type Money } from './money.js';

/*
 * Input checks shared by the customer, catalogue and order deciders. A command's
 * problems are all collected before anything is refused, so a client can fix its form in
 * one round trip. Nothing is trimmed or rewritten: a value is accepted as given or
 * refused with the path of the mutation input it came from.
 */

/** Upper bound for person and product names. */
export const MAX_NAME_LENGTH = 200;
/** RFC 5321 limit for a whole address. */
export const MAX_EMAIL_LENGTH = 254;
export const MAX_PHONE_LENGTH = 32;
export const MAX_ADDRESS_FIELD_LENGTH = 200;
export const MAX_URL_LENGTH = 2048;
/** Upper bound for external references: payment, carrier, tracking and shipment ids. */
export const MAX_REFERENCE_LENGTH = 100;
export const MAX_REASON_LENGTH = 500;

/**
 * Entity ids are the canonical lower-case uuid text. Upper case is refused rather than
 * folded: `order-ABC…` and `order-abc…` would otherwise be two streams for one order.
 */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/*
 * Deliberately stricter than RFC 5322: the dot-atom local part that real mailboxes use,
 * and a dotted host name with a letter-only top-level label. Quoted local parts and
 * IP-literal domains are refused.
 */
const EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const MAX_EMAIL_LOCAL_LENGTH = 64;
const PHONE = /^[0-9 +\-()]+$/;
const PHONE_MIN_DIGITS = 3;
/** C0 controls and DEL: invisible in every UI, and NUL cannot be stored in jsonb at all. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Same, but free text such as a cancellation reason may span lines. */
// eslint-disable-next-line no-control-regex
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Length in characters as a person counts them (code points), not UTF-16 units. */
export const charLength = (s: string): number => [...s].length;

export interface StringRule {
  max: number;
  /** Allow line breaks and tabs (free text); single-line fields refuse them. */
  multiline?: boolean;
}

/** Collects {@link FieldError}s for one command; `throwIfAny` refuses it with all of them. */
export class FieldChecks {
  private readonly errors: FieldError[] = [];

  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }

  /** Throws a validation {@link DomainError} carrying every problem found so far. */
  throwIfAny(): void {
    if (this.errors.length > 0) {
      const summary = this.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      throw validationError([...this.errors], `Invalid input: ${summary}`);
    }
  }

  /** A required, non-blank string within `rule.max` characters. */
  text(path: string, value: unknown, rule: StringRule): value is string {
    if (typeof value !== 'string') {
      this.add(path, 'is required');
      return false;
    }
    if (value.trim().length === 0) {
      this.add(path, 'must not be empty or blank');
      return false;
    }
    const length = charLength(value);
    if (length > rule.max) {
      this.add(path, `must be at most ${rule.max} characters (got ${length})`);
      return false;
    }
    if ((rule.multiline ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL).test(value)) {
      this.add(path, 'must not contain control characters');
      return false;
    }
    return true;
  }

  uuid(path: string, value: unknown): value is string {
    if (typeof value !== 'string' || !UUID.test(value)) {
      this.add(path, 'must be a lower-case uuid');
      return false;
    }
    return true;
  }

  /** One of `allowed` (an enum the API already narrows; a command built elsewhere may not). */
  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): value is T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.add(path, `must be one of ${allowed.join(', ')}`);
      return false;
    }
    return true;
  }

  /** A whole number in `[min, max]`. */
  integer(path: string, value: unknown, min: number, max: number): value is number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      this.add(path, 'must be a whole number');
      return false;
    }
    if (value < min || value > max) {
      this.add(path, `must be between ${min} and ${max} (got ${value})`);
      return false;
    }
    return true;
  }

  email(path: string, value: unknown): value is string {
    if (!this.text(path, value, { max: MAX_EMAIL_LENGTH })) return false;
    const at = value.lastIndexOf('@');
    if (!EMAIL.test(value) || at > MAX_EMAIL_LOCAL_LENGTH) {
      this.add(path, 'must be an email address like name@example.com');
      return false;
    }
    return true;
  }

  phone(path: string, value: unknown): value is string {
    if (!this.text(path, value, { max: MAX_PHONE_LENGTH })) return false;
    if (!PHONE.test(value)) {
      this.add(path, 'may contain only digits, spaces and + - ( )');
      return false;
    }
    if ((value.match(/[0-9]/g) ?? []).length < PHONE_MIN_DIGITS) {
      this.add(path, `must contain at least ${PHONE_MIN_DIGITS} digits`);
      return false;
    }
    return true;
  }

  /** An absolute http or https URL with a host. */
  httpUrl(path: string, value: unknown): value is string {
    if (!this.text(path, value, { max: MAX_URL_LENGTH })) return false;
    // The URL parser quietly drops surrounding and embedded whitespace; refuse it instead.
    if (/\s/.test(value) || !URL.canParse(value)) {
      this.add(path, 'must be an absolute http(s) URL');
      return false;
    }
    const url = new URL(value);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      this.add(path, 'must be an absolute http(s) URL');
      return false;
    }
    return true;
  }

  /**
   * A {@link Money} value: a whole amount of minor units in `[minAmount, MAX_AMOUNT]` and
   * an upper-case ISO 4217 code. Problems are reported on `<path>.amount` and
   * `<path>.currency`.
   */
  money(path: string, value: unknown, minAmount = 0): value is Money {
    if (typeof value !== 'object' || value === null) {
      this.add(path, 'is required');
      return false;
    }
    const { amount, currency } = value as Partial<Record<keyof Money, unknown>>;
    const amountOk = this.integer(`${path}.amount`, amount, minAmount, MAX_AMOUNT);
    const currencyOk = typeof currency === 'string' && CURRENCY.test(currency);
    if (!currencyOk)
      this.add(`${path}.currency`, 'must be a three-letter upper-case ISO 4217 code');
    return amountOk && currencyOk;
  }
}
