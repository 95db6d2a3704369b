import { expect } from 'vitest';
import { DomainError, type Decider, type DomainErrorKind } from '../../src/shared/decider.js';

/**
 * Given–when–then for pure deciders:
 *
 * ```ts
 * spec(orderDecider).given([created, paid]).when(ship).then([shipped]);
 * spec(orderDecider).given([created]).when(ship).thenThrows({ kind: 'business', code: 'ORDER_NOT_PAID' });
 * ```
 *
 * Along the way it checks what every decider owes the event store: state and events
 * survive a JSON round trip unchanged (they are stored as jsonb snapshots and payloads),
 * `decide` leaves its inputs alone and answers the same twice, and `evolve` accepts what
 * `decide` emits.
 */
export function spec<C, E, S>(decider: Decider<C, E, S>) {
  return {
    given: (events: readonly E[] = []) => new Given(decider, events),
    when: (command: C) => new Given(decider, []).when(command),
  };
}

/** What a refusal must look like; `fields` lists the expected paths, in any order. */
export interface ExpectedError {
  kind: DomainErrorKind;
  code: string;
  fields?: string[];
  /** Substring or pattern the message must contain. */
  message?: string | RegExp;
}

class Given<C, E, S> {
  /** The state folded from the given events. */
  readonly state: S;

  constructor(
    private readonly decider: Decider<C, E, S>,
    events: readonly E[],
  ) {
    let state = decider.initialState;
    for (const event of events) {
      expectPlainJson(event, 'given event');
      state = decider.evolve(state, event);
    }
    expectPlainJson(state, 'state');
    this.state = state;
  }

  when(command: C): When<C, E, S> {
    return new When(this.decider, this.state, command);
  }
}

class When<C, E, S> {
  constructor(
    private readonly decider: Decider<C, E, S>,
    private readonly state: S,
    private readonly command: C,
  ) {}

  private run(): E[] {
    return this.decider.decide(
      deepFreeze(structuredClone(this.command)),
      deepFreeze(structuredClone(this.state)),
    );
  }

  /** Expects exactly these events; returns the state after them. */
  then(expected: E[]): S {
    let events: E[];
    try {
      events = this.run();
    } catch (error) {
      throw new Error(`Expected events but decide threw: ${describeError(error)}`, {
        cause: error,
      });
    }
    expect(events).toStrictEqual(expected);
    expect(this.run(), 'decide must answer the same twice').toStrictEqual(events);
    let state = this.state;
    for (const event of events) {
      expectPlainJson(event, 'emitted event');
      state = this.decider.evolve(state, event);
    }
    expectPlainJson(state, 'state after the events');
    return state;
  }

  /** Expects a refusal; returns the error for further checks. */
  thenThrows(expected: ExpectedError): DomainError {
    let events: E[];
    try {
      events = this.run();
    } catch (error) {
      if (!(error instanceof DomainError)) {
        throw new Error(`Expected a DomainError but got: ${describeError(error)}`, {
          cause: error,
        });
      }
      expect({ kind: error.kind, code: error.code }, error.message).toEqual({
        kind: expected.kind,
        code: expected.code,
      });
      if (expected.fields) {
        expect(error.fields.map((f) => f.path).sort(), error.message).toEqual(
          [...expected.fields].sort(),
        );
      }
      if (expected.kind === 'validation') {
        expect(error.fields.length, 'a validation error names its fields').toBeGreaterThan(0);
      }
      if (typeof expected.message === 'string') expect(error.message).toContain(expected.message);
      else if (expected.message) expect(error.message).toMatch(expected.message);
      return error;
    }
    throw new Error(`Expected ${expected.code} but decide returned ${JSON.stringify(events)}`);
  }
}

function expectPlainJson(value: unknown, what: string): void {
  expect(JSON.parse(JSON.stringify(value)), `${what} must be plain JSON`).toStrictEqual(value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const describeError = (error: unknown): string =>
  error instanceof DomainError
    ? `${error.kind} ${error.code}: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);
