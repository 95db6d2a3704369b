import { describe, expect, it } from 'vitest';
import type { CustomerCommand, CustomerEvent } from '../../src/customers/index.js';
import {
  customerDecider,
  customerStreamId,
  normalizeEmail,
  streamId,
  CustomerEvents,
} from '../../src/customers/index.js';
import { spec } from '../support/decider-spec.js';

const customerId = '5b0c3f8e-6a43-4c3e-9d54-0a1f0e7b2c11';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-02T11:30:00.000Z';

const register = (
  over: Partial<Extract<CustomerCommand, { type: 'RegisterCustomer' }>['data']> = {},
): CustomerCommand => ({
  type: 'RegisterCustomer',
  data: {
    customerId,
    name: 'Ada Lovelace',
    email: 'Ada@Example.org',
    phone: '+44 (20) 7946-0000',
    now: T0,
    ...over,
  },
});
const changeEmail = (email: string, over: { customerId?: string } = {}): CustomerCommand => ({
  type: 'ChangeCustomerEmail',
  data: { customerId, email, now: T1, ...over },
});

const registered: CustomerEvent = CustomerEvents.CustomerRegistered({
  customerId,
  name: 'Ada Lovelace',
  email: 'Ada@Example.org',
  phone: '+44 (20) 7946-0000',
  registeredAt: T0,
});
const customers = spec(customerDecider);

/** A well-formed address of `n` characters (domain labels stay within 63). */
function emailOfLength(n: number): string {
  const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(59)}.org`;
  const email = `${'a'.repeat(n - domain.length - 1)}@${domain}`;
  expect(email).toHaveLength(n);
  return email;
}

describe('customer decider', () => {
  it('names its stream and snapshot shape', () => {
    expect(customerDecider.streamType).toBe('customer');
    expect(customerDecider.snapshotVersion).toBe(1);
    expect(streamId(customerId)).toBe(`customer-${customerId}`);
    expect(customerStreamId).toBe(streamId);
    expect(customerDecider.initialState).toEqual({ status: 'NOT_REGISTERED' });
  });

  describe('RegisterCustomer', () => {
    it('registers a new customer, keeping the email as typed', () => {
      const state = customers.when(register()).then([registered]);
      expect(state).toEqual({
        status: 'REGISTERED',
        customerId,
        name: 'Ada Lovelace',
        email: 'Ada@Example.org',
        phone: '+44 (20) 7946-0000',
        registeredAt: T0,
        updatedAt: T0,
      });
    });

    it('registers only once', () => {
      customers
        .given([registered])
        .when(register({ name: 'Someone Else' }))
        .thenThrows({ kind: 'business', code: 'CUSTOMER_ALREADY_REGISTERED' });
    });

    it('collects every invalid field in one error, with mutation-input paths', () => {
      const error = customers
        .when(register({ customerId: 'not-a-uuid', name: '   ', email: 'nope', phone: 'call me' }))
        .thenThrows({
          kind: 'validation',
          code: 'VALIDATION_FAILED',
          fields: ['id', 'name', 'email', 'phone'],
        });
      expect(error.message).toContain('email');
    });

    it.each([
      ['empty name', { name: '' }, 'name'],
      ['whitespace-only name', { name: ' \t ' }, 'name'],
      ['name of 201 characters', { name: 'a'.repeat(201) }, 'name'],
      ['name with a control character', { name: 'Ada\u0000' }, 'name'],
      ['name with a line break', { name: 'Ada\nLovelace' }, 'name'],
      ['upper-case uuid', { customerId: customerId.toUpperCase() }, 'id'],
      ['email without @', { email: 'ada.example.org' }, 'email'],
      ['email without a dot in the domain', { email: 'ada@localhost' }, 'email'],
      ['email with surrounding spaces', { email: ' ada@example.org ' }, 'email'],
      ['email with two @', { email: 'ada@@example.org' }, 'email'],
      ['email with a double dot', { email: 'ada..l@example.org' }, 'email'],
      ['email of 255 characters', { email: emailOfLength(255) }, 'email'],
      ['email with a 65-character local part', { email: `${'a'.repeat(65)}@example.org` }, 'email'],
      ['empty email', { email: '' }, 'email'],
      ['phone with letters', { phone: '+44 20 CALL' }, 'phone'],
      ['phone of 33 characters', { phone: '1'.repeat(33) }, 'phone'],
      ['phone without enough digits', { phone: '+()' }, 'phone'],
      ['blank phone', { phone: '   ' }, 'phone'],
    ])('refuses %s', (_what, over, path) => {
      customers
        .when(register(over))
        .thenThrows({ kind: 'validation', code: 'VALIDATION_FAILED', fields: [path] });
    });

    it.each([
      ['a name of exactly 200 characters', { name: 'é'.repeat(200) }],
      ['a name with non-Latin letters', { name: '山田 太郎' }],
      ['an email of exactly 254 characters', { email: emailOfLength(254) }],
      ['a plus-addressed email', { email: 'ada+orders@mail.example.co.uk' }],
      ['a phone of exactly 32 characters', { phone: '+'.concat('1'.repeat(31)) }],
      ['a phone with dashes and brackets', { phone: '(555) 010-0199' }],
    ])('accepts %s', (_what, over) => {
      const command = register(over);
      const data = command.data as Extract<CustomerCommand, { type: 'RegisterCustomer' }>['data'];
      customers.when(command).then([
        CustomerEvents.CustomerRegistered({
          customerId,
          name: data.name,
          email: data.email,
          phone: data.phone,
          registeredAt: T0,
        }),
      ]);
    });
  });

  describe('ChangeCustomerEmail', () => {
    it('changes the email and records the previous one', () => {
      const state = customers
        .given([registered])
        .when(changeEmail('ada@analytical.engine.org'))
        .then([
          CustomerEvents.CustomerEmailChanged({
            customerId,
            previousEmail: 'Ada@Example.org',
            email: 'ada@analytical.engine.org',
            changedAt: T1,
          }),
        ]);
      expect(state).toMatchObject({
        status: 'REGISTERED',
        email: 'ada@analytical.engine.org',
        updatedAt: T1,
        registeredAt: T0,
      });
    });

    it('folds several changes, the latest winning', () => {
      const s = customers.given([
        registered,
        CustomerEvents.CustomerEmailChanged({
          customerId,
          previousEmail: 'Ada@Example.org',
          email: 'a@b.io',
          changedAt: T1,
        }),
        CustomerEvents.CustomerEmailChanged({
          customerId,
          previousEmail: 'a@b.io',
          email: 'c@d.io',
          changedAt: '2025-04-01T00:00:00.000Z',
        }),
      ]).state;
      expect(s).toMatchObject({ email: 'c@d.io', updatedAt: '2025-04-01T00:00:00.000Z' });
    });

    it('is refused for an unknown customer', () => {
      customers
        .when(changeEmail('ada@example.org'))
        .thenThrows({ kind: 'notFound', code: 'CUSTOMER_NOT_FOUND' });
    });

    it.each([['Ada@Example.org'], ['ada@example.org'], ['ADA@EXAMPLE.ORG']])(
      'refuses %s as unchanged (same reservation key)',
      (email) => {
        customers
          .given([registered])
          .when(changeEmail(email))
          .thenThrows({ kind: 'business', code: 'EMAIL_UNCHANGED' });
      },
    );

    it('validates before looking at the state', () => {
      customers.when(changeEmail('bad', { customerId: 'x' })).thenThrows({
        kind: 'validation',
        code: 'VALIDATION_FAILED',
        fields: ['customerId', 'email'],
      });
    });
  });

  describe('normalizeEmail', () => {
    it('trims and lower-cases, for the uniqueness reservation only', () => {
      expect(normalizeEmail('  Ada@Example.ORG ')).toBe('ada@example.org');
      expect(normalizeEmail('ada@example.org')).toBe('ada@example.org');
    });
  });

  describe('evolve', () => {
    it('refuses events a customer in that status cannot have', () => {
      expect(() =>
        customerDecider.evolve(customerDecider.initialState, changeEmailEvent()),
      ).toThrow(/NOT_REGISTERED/);
      const s = customerDecider.evolve(customerDecider.initialState, registered);
      expect(() => customerDecider.evolve(s, registered)).toThrow(/REGISTERED/);
    });
  });
});

function changeEmailEvent(): CustomerEvent {
  return CustomerEvents.CustomerEmailChanged({
    customerId,
    previousEmail: 'a@b.io',
    email: 'c@d.io',
    changedAt: T1,
  });
}
