import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { GraphQLLocalDate } from 'graphql-scalars';
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
