import { describe, expect, it } from 'vitest';
import { canActForCustomer, isRole, isStaff, type Principal } from '../../src/auth/principal.js';

const C1 = '3f9c1f5e-8d3a-4b7e-9a51-2c6d7e8f9a0b';
const C2 = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

const admin: Principal = { userId: 'a', role: 'admin' };
const service: Principal = { userId: 's', role: 'service' };
const customer: Principal = { userId: 'c', role: 'customer', customerId: C1 };

describe('principal helpers', () => {
  it('staff may act for any customer', () => {
    expect(canActForCustomer(admin, C1)).toBe(true);
    expect(canActForCustomer(service, C2)).toBe(true);
    expect(isStaff(admin)).toBe(true);
    expect(isStaff(service)).toBe(true);
    expect(isStaff(customer)).toBe(false);
  });

  it('a customer may act for itself only', () => {
    expect(canActForCustomer(customer, C1)).toBe(true);
    expect(canActForCustomer(customer, C1.toUpperCase())).toBe(true);
    expect(canActForCustomer(customer, C2)).toBe(false);
    expect(canActForCustomer(customer, '')).toBe(false);
  });

  it('fails closed on malformed principals', () => {
    expect(canActForCustomer({ userId: 'c', role: 'customer' }, C1)).toBe(false);
    expect(canActForCustomer({ userId: 'c', role: 'customer', customerId: '' }, '')).toBe(false);
    expect(canActForCustomer({ userId: 'x', role: 'root' } as unknown as Principal, C1)).toBe(
      false,
    );
    expect(isStaff({ userId: 'x', role: 'root' } as unknown as Principal)).toBe(false);
  });

  it('isRole', () => {
    expect(['admin', 'customer', 'service'].every(isRole)).toBe(true);
    expect([undefined, 'Admin', 'root', 1].some(isRole)).toBe(false);
  });
});
