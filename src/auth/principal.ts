/**
 * Who is making a request. Every GraphQL operation runs on behalf of exactly one
 * principal, taken from its bearer token (docs/architecture.md,
 * "Security"); its `userId` goes into the metadata of each event it causes.
 */

/** The roles a token can carry; nothing else is accepted. */
export const ROLES = ['admin', 'customer', 'service'] as const;

/**
 * - `admin`: staff, may read and change every customer's data.
 * - `customer`: bound to one customer id; reads, changes and subscribes to its own orders only.
 * - `service`: another system acting for the business (not bound to a customer).
 */
export type Role = (typeof ROLES)[number];

/**
 * The authenticated caller.
 *
 * Invariant (enforced when tokens are verified and minted): `customerId` is present, as a
 * lowercase uuid, exactly when `role` is `customer`.
 */
export interface Principal {
  /** Stable user id (the token's `sub`): non-empty, at most 255 characters. */
  userId: string;
  role: Role;
  /** The customer this principal is bound to; set for (and only for) the `customer` role. */
  customerId?: string;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Staff are the principals not bound to a customer: `admin` and `service`. */
export function isStaff(principal: Principal): boolean {
  return principal.role === 'admin' || principal.role === 'service';
}

/**
 * Whether `principal` may read, change or subscribe to data of `customerId`: staff may act
 * for any customer, a customer only for itself. Unknown roles and customers without a
 * customer id get `false` (fail closed). Uuids compare case-insensitively.
 */
export function canActForCustomer(principal: Principal, customerId: string): boolean {
  if (isStaff(principal)) return true;
  if (principal.role !== 'customer') return false;
  const own = principal.customerId;
  return (
    typeof own === 'string' &&
    own !== '' &&
    typeof customerId === 'string' &&
    own.toLowerCase() === customerId.toLowerCase()
  );
}
