import type { Address } from '../shared/address.js';
import { MAX_AMOUNT, type Money } from '../shared/money.js';
import { builder } from './builder.js';

export const MoneyRef = builder.objectRef<Money>('Money').implement({
  description: 'An amount of money in minor units (cents) of one currency',
  fields: (t) => ({
    amount: t.expose('amount', {
      type: 'SafeInt',
      description: `In minor units: 1999 is 19.99. One price, payment or order total is at most ${MAX_AMOUNT.toLocaleString('en-US')}; a sum of them (a customer’s total spent) may be more`,
    }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code, e.g. EUR' }),
  }),
});

export const MoneyInput = builder.inputType('MoneyInput', {
  fields: (t) => ({
    amount: t.field({
      type: 'SafeInt',
      required: true,
      description: `In minor units (cents); one amount is at most ${MAX_AMOUNT.toLocaleString('en-US')}`,
    }),
    currency: t.string({ required: true, description: 'ISO 4217 code, e.g. EUR' }),
  }),
});

export const AddressRef = builder.objectRef<Address>('Address').implement({
  fields: (t) => ({
    line1: t.exposeString('line1'),
    line2: t.string({ nullable: true, resolve: (a) => a.line2 ?? null }),
    city: t.exposeString('city'),
    postalCode: t.exposeString('postalCode'),
    country: t.exposeString('country', { description: 'ISO 3166-1 alpha-2 code, e.g. DE' }),
  }),
});

export const AddressInput = builder.inputType('AddressInput', {
  fields: (t) => ({
    line1: t.string({ required: true }),
    line2: t.string({ required: false }),
    city: t.string({ required: true }),
    postalCode: t.string({ required: true }),
    country: t.string({ required: true, description: 'ISO 3166-1 alpha-2 code, e.g. DE' }),
  }),
});

/** `commandId: ID!` — every mutation input carries it. */
export const commandIdField = {
  required: true,
  description: 'Client-made uuid: the idempotency key of this command',
} as const;
