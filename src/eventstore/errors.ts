/** Base of every error the event store raises on purpose; anything else is unexpected. */
export class EventStoreError extends Error {
  override name = 'EventStoreError';
}

/** What an append expects of its stream (docs/architecture.md, "Event store invariants"). */
export type ExpectedVersion = 'any' | 'noStream' | 'streamExists' | number;

/** The stream was not at the version the append expected; nothing was written. */
export class ConcurrencyError extends EventStoreError {
  override name = 'ConcurrencyError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Stream ${streamId} was expected at ${describe(expected)} but is at version ${actual}`);
  }
}

/** The command id was used before with different input; nothing was written. */
export class IdempotencyConflictError extends EventStoreError {
  override name = 'IdempotencyConflictError';
  constructor(readonly commandId: string) {
    super(`Command ${commandId} was already processed with different input`);
  }
}

/** Input the store refuses before touching the database. `field` names the culprit. */
export class InvalidInputError extends EventStoreError {
  override name = 'InvalidInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export class InvalidCursorError extends InvalidInputError {
  override name = 'InvalidCursorError';
  constructor(message = 'malformed cursor') {
    super('cursor', message);
  }
}

function describe(expected: ExpectedVersion): string {
  switch (expected) {
    case 'any':
      return 'any version';
    case 'noStream':
      return 'no stream';
    case 'streamExists':
      return 'an existing stream';
    default:
      return `version ${expected}`;
  }
}
