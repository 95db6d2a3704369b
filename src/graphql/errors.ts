import { AuthError } from '../auth/tokens.js';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InvalidInputError,
} from '../eventstore/errors.js';
import { DomainError, type FieldError } from '../shared/decider.js';
import { builder } from './builder.js';

/*
 * The typed errors of the API (docs/architecture.md, "GraphQL contract conventions"). Resolvers throw these (or domain/store errors that
 * `toTypedError` maps onto them); the Pothos errors plugin turns them into members of the
 * mutation's payload union. Anything else stays an unexpected, masked GraphQL error.
 */

/**
 * The common base of the typed errors: `instanceof TypedError` (after `toTypedError`) is
 * what tells an expected failure, answered in the payload, from an unexpected one, which
 * is logged and masked. Never the class name.
 */
export abstract class TypedError extends Error {
  abstract readonly code: string;
}

export class ValidationErrorResult extends TypedError {
  override name = 'ValidationError';
  readonly code = 'VALIDATION_FAILED';
  constructor(
    message: string,
    readonly fields: FieldError[],
  ) {
    super(message);
  }
}

export class BusinessRuleViolationResult extends TypedError {
  override name = 'BusinessRuleViolation';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ConcurrencyErrorResult extends TypedError {
  override name = 'ConcurrencyError';
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    message: string,
    readonly expectedVersion: number | null,
    readonly actualVersion: number | null,
  ) {
    super(message);
  }
}

export class NotFoundErrorResult extends TypedError {
  override name = 'NotFoundError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ForbiddenErrorResult extends TypedError {
  override name = 'ForbiddenError';
  constructor(
    message = 'You are not allowed to do this',
    readonly code = 'FORBIDDEN',
  ) {
    super(message);
  }
}

export class IdempotencyConflictResult extends TypedError {
  override name = 'IdempotencyConflict';
  readonly code = 'IDEMPOTENCY_CONFLICT';
}

/** Maps the errors of the layers below to typed results; returns anything else unchanged. */
export function toTypedError(err: unknown): unknown {
  if (err instanceof TypedError) return err;
  if (err instanceof DomainError) {
    switch (err.kind) {
      case 'validation':
        return new ValidationErrorResult(err.message, err.fields);
      case 'business':
        return new BusinessRuleViolationResult(err.code, err.message);
      case 'notFound':
        return new NotFoundErrorResult(err.code, err.message);
      case 'forbidden':
        return new ForbiddenErrorResult(err.message, err.code);
    }
  }
  if (err instanceof ConcurrencyError) {
    return new ConcurrencyErrorResult(
      `The ${err.streamId.split('-')[0]} was changed by someone else: expected version ${String(err.expected)}, it is at ${err.actual}. Reload and try again.`,
      typeof err.expected === 'number' ? err.expected : null,
      err.actual,
    );
  }
  if (err instanceof IdempotencyConflictError) {
    return new IdempotencyConflictResult(
      `commandId ${err.commandId} was already used for a different command or input; use a new commandId`,
    );
  }
  if (err instanceof InvalidInputError) {
    return new ValidationErrorResult(err.message, [{ path: err.field, message: err.message }]);
  }
  if (err instanceof AuthError) return new ForbiddenErrorResult(err.message);
  return err;
}

export const ErrorInterface = builder.interfaceRef<TypedError>('Error').implement({
  description: 'An expected failure, returned as a member of a payload union',
  fields: (t) => ({
    code: t.exposeString('code', {
      description: 'Stable machine-readable code, e.g. ORDER_NOT_PENDING',
    }),
    message: t.exposeString('message', { description: 'Human-readable explanation' }),
  }),
});

const FieldErrorRef = builder.objectRef<FieldError>('FieldError').implement({
  description: 'One offending input field',
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Path in the input, e.g. items.2.quantity' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationErrorResult, {
  name: 'ValidationError',
  description: 'The input is malformed; nothing was written',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ValidationErrorResult,
  fields: (t) => ({ fields: t.field({ type: [FieldErrorRef], resolve: (e) => e.fields }) }),
});

builder.objectType(BusinessRuleViolationResult, {
  name: 'BusinessRuleViolation',
  description: 'A business rule refused the command; nothing was written',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof BusinessRuleViolationResult,
  fields: () => ({}),
});

builder.objectType(ConcurrencyErrorResult, {
  name: 'ConcurrencyError',
  description: 'The entity changed since the version the command expected; nothing was written',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ConcurrencyErrorResult,
  fields: (t) => ({
    expectedVersion: t.int({ nullable: true, resolve: (e) => e.expectedVersion }),
    actualVersion: t.int({ nullable: true, resolve: (e) => e.actualVersion }),
  }),
});

builder.objectType(NotFoundErrorResult, {
  name: 'NotFoundError',
  description: 'Something the command refers to does not exist',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof NotFoundErrorResult,
  fields: () => ({}),
});

builder.objectType(ForbiddenErrorResult, {
  name: 'ForbiddenError',
  description: 'The caller may not do this (or is not authenticated)',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ForbiddenErrorResult,
  fields: () => ({}),
});

builder.objectType(IdempotencyConflictResult, {
  name: 'IdempotencyConflict',
  description: 'The commandId was already used with different input; nothing was written',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof IdempotencyConflictResult,
  fields: () => ({}),
});

/** The error members every mutation payload may contain. */
export const COMMAND_ERRORS = [
  ValidationErrorResult,
  BusinessRuleViolationResult,
  ConcurrencyErrorResult,
  NotFoundErrorResult,
  ForbiddenErrorResult,
  IdempotencyConflictResult,
];
