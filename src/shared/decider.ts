/**
 * A decider (after Jérémie Chassaing's pattern, as in Emmett): the whole business logic of
 * an aggregate as two pure functions. No I/O, no clock, no randomness inside: time and
 * ids arrive in the command.
 *
 * `decide` throws a {@link DomainError} for a command the rules refuse.
 */
export interface Decider<Command, Event, State> {
  /** Stream type in the event store, e.g. `order`. */
  readonly streamType: string;
  /** Version of the state's shape in snapshots; bump it when `State` changes. */
  readonly snapshotVersion: number;
  readonly initialState: State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

/** An event as a decider sees it: a type tag and a payload. */
export interface DomainEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

/** A command as a decider sees it: a type tag and a payload. */
export interface DomainCommand<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

export type DomainErrorKind = 'validation' | 'business' | 'notFound' | 'forbidden';

/** One offending input field, named by its path in the command (`items.2.quantity`). */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * An expected refusal: bad input, a broken business rule, a missing entity. The GraphQL
 * layer turns each kind into a typed error (docs/architecture.md,
 * "GraphQL contract conventions").
 */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** Stable machine-readable code, e.g. `ORDER_NOT_PENDING`. */
    readonly code: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
  }
}

export const validationError = (fields: FieldError[], message = 'Invalid input') =>
  new DomainError('validation', message, 'VALIDATION_FAILED', fields);
export const ruleViolation = (code: string, message: string) =>
  new DomainError('business', message, code);
export const notFound = (code: string, message: string) =>
  new DomainError('notFound', message, code);
/** The caller may not do this (an authorization rule of the command, e.g. "own orders only"). */
export const forbidden = (message: string, code = 'FORBIDDEN') =>
  new DomainError('forbidden', message, code);

/**
 * `evolve` met an event its state cannot take. `decide` never emits one, so this means a
 * damaged stream: an error, not a refusal. `what` names the aggregate ("an order").
 */
export const unexpectedEvent = (
  what: string,
  state: { status: string },
  event: { type: string },
): Error => new Error(`Event ${event.type} cannot apply to ${what} in status ${state.status}`);

/** Exhaustiveness check for `switch` over unions. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
