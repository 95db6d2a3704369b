import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { GraphQLLocalDate, GraphQLSafeInt } from 'graphql-scalars';
import { decodeCursor } from '../eventstore/cursor.js';
import { InvalidCursorError } from '../eventstore/errors.js';
import { builder } from './builder.js';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && ISO_DATE_TIME.test(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new GraphQLError(
    'DateTime must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z',
    {
      extensions: { code: 'BAD_USER_INPUT' },
    },
  );
}

builder.scalarType('DateTime', {
  description: 'An instant as an ISO-8601 string in UTC, e.g. 2026-01-31T12:00:00.000Z',
  serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString()),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

/** graphql-scalars' calendar-date checks, as a typed `BAD_USER_INPUT` like the other scalars. */
function parseDate(value: unknown): string {
  try {
    return GraphQLLocalDate.parseValue(value) as string;
  } catch {
    throw new GraphQLError('Date must be an ISO-8601 calendar date, e.g. 2026-01-31', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
}

builder.scalarType('Date', {
  description: 'A calendar date as an ISO-8601 string, e.g. 2026-01-31 (no time, no time zone)',
  serialize: (v) => GraphQLLocalDate.serialize(v) as string,
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

function literalToJson(
  ast: ValueNode,
  variables: Record<string, unknown> | null | undefined,
): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(
        ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]),
      );
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    case Kind.ENUM:
      return ast.value;
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast, variables) => literalToJson(ast, variables),
});

function parseCursor(value: unknown): string {
  try {
    if (typeof value !== 'string') throw new InvalidCursorError();
    decodeCursor(value);
    return value;
  } catch (err) {
    if (err instanceof InvalidCursorError) {
      throw new GraphQLError('Cursor is malformed: pass a cursor exactly as Strata returned it', {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    throw err;
  }
}

builder.scalarType('Cursor', {
  description:
    'An opaque position in the event log. Resume a feed after it; never build one by hand.',
  serialize: (v) => v,
  parseValue: parseCursor,
  parseLiteral: (ast) => parseCursor(ast.kind === Kind.STRING ? ast.value : undefined),
});

/**
 * Runs one of SafeInt's parsers. graphql-scalars throws its refusals without a code; a
 * number that is not a safe integer is the client's mistake, so it is BAD_USER_INPUT like
 * every other malformed argument.
 */
function parseSafeInt(parse: () => unknown, node?: ValueNode): number {
  let value: unknown;
  try {
    value = parse();
  } catch (err) {
    throw new GraphQLError(err instanceof Error ? err.message : String(err), {
      ...(node ? { nodes: node } : {}),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  if (typeof value !== 'number') throw new Error(`SafeInt parsed to a ${typeof value}`);
  return value;
}

// Money in minor units: one order's total fits GraphQL's 32-bit Int no longer, and a
// customer's lifetime spend grows past it. A double carries every integer up to 2^53 − 1
// exactly, so clients keep sending and reading plain JSON numbers.
builder.addScalarType('SafeInt', GraphQLSafeInt, {
  description:
    'A whole number between -(2^53 - 1) and 2^53 - 1 (9,007,199,254,740,991), sent and read as a plain JSON number: every JSON parser that reads numbers as doubles gets it exactly',
  parseValue: (value) => parseSafeInt(() => GraphQLSafeInt.parseValue(value)),
  // One parameter: graphql-jit warns about a literal parser that takes the variables
  // (SafeInt's does not use them).
  parseLiteral: (ast) => parseSafeInt(() => GraphQLSafeInt.parseLiteral(ast, undefined), ast),
});
