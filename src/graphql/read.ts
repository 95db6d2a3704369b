import type { ObjectRef } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { Principal } from '../auth/principal.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';
import { isUuid } from '../shared/uuid.js';

/*
 * What the read-side queries share: their errors (plain GraphQL errors with a code in
 * `extensions`, since queries have no payload unions), argument checks, and Relay
 * cursor connections with opaque page cursors.
 */

export type ReadErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'READ_TIMEOUT';

/*
 * Ids in arguments of reads. Every read that takes an id checks it here, so a malformed one
 * is a BAD_USER_INPUT error naming the argument (`extensions.argument`, as the input gate
 * names it) rather than the null or empty answer of an unknown id, which would hide the
 * client's mistake. A well-formed id is folded to the canonical lower case (the case ids are
 * stored in) and keeps the answer it always had, found or not.
 */

/** An id shaped as Strata makes them, for messages. */
const UUID_EXAMPLE = '7a1e0000-0000-4000-8000-00000000d001';

/**
 * A uuid argument of a read, in the canonical lower case; else a BAD_USER_INPUT error. `or`
 * names what else the argument accepts (a field that also takes something else has tried
 * that first), for the message.
 */
export function uuidArgument(argument: string, value: unknown, or?: string): string {
  const id = String(value).toLowerCase();
  if (!isUuid(id)) {
    const valid = `a uuid such as ${UUID_EXAMPLE}${or ? `, or ${or}` : ''}`;
    throw readError('BAD_USER_INPUT', `${argument} must be ${valid}`, { argument });
  }
  return id;
}

/** {@link uuidArgument} of an optional argument: null when absent. */
export function optionalUuidArgument(argument: string, value: unknown): string | null {
  return value == null ? null : uuidArgument(argument, value);
}

/**
 * A stream id is its stream type and its entity's id: `order-<uuid>`, `customer-<uuid>`,
 * …; an e-mail reservation's id is the SHA-256 of the address in hex
 * (`customer-email-<64 hex digits>`).
 */
const STREAM_ID =
  /^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*-(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{64})$/;

/** A stream id argument, in the canonical lower case; else a BAD_USER_INPUT error. */
export function streamIdArgument(argument: string, value: unknown): string {
  const id = String(value).toLowerCase();
  if (!STREAM_ID.test(id)) {
    throw readError(
      'BAD_USER_INPUT',
      `${argument} must be a stream id: a stream type and a uuid, such as order-${UUID_EXAMPLE}`,
      { argument },
    );
  }
  return id;
}

export function readError(
  code: ReadErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** Every read needs an authenticated caller. */
export function requireReader(ctx: GraphQLContext): Principal {
  if (!ctx.principal) {
    throw readError(
      'UNAUTHENTICATED',
      'Authentication required: send "Authorization: Bearer <token>"',
    );
  }
  return ctx.principal;
}

/** `first` of a connection: 0 … max, or a clear error. */
export function checkFirst(
  first: number | null | undefined,
  fallback: number,
  max: number,
): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw readError('BAD_USER_INPUT', `first must be between 0 and ${max} (got ${n})`, {
      argument: 'first',
      max,
    });
  }
  return n;
}

/** An opaque page cursor: a tag and a JSON value, base64url-encoded. */
export function encodePageCursor(tag: string, value: unknown): string {
  return `${tag}.${Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')}`;
}

/** Decodes a page cursor of `tag` with `parse` (which throws on a bad shape). */
export function decodePageCursor<T>(
  tag: string,
  cursor: string | null | undefined,
  parse: (value: unknown) => T,
): T | undefined {
  if (cursor == null) return undefined;
  try {
    if (!cursor.startsWith(`${tag}.`) || cursor.length > 1024) throw new Error('bad');
    const body = cursor.slice(tag.length + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new Error('bad');
    return parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw readError(
      'BAD_USER_INPUT',
      'after is not a cursor of this list: pass an endCursor or edge cursor exactly as returned',
      { argument: 'after' },
    );
  }
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export const PageInfoRef = builder.objectRef<PageInfo>('PageInfo').implement({
  description: 'Relay page information (forward pagination: hasPreviousPage is always false)',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.string({ nullable: true, resolve: (p) => p.startCursor }),
    endCursor: t.string({ nullable: true, resolve: (p) => p.endCursor }),
  }),
});

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  /** Counted only when asked for (one more statement). */
  totalCount?: () => Promise<number>;
}

export function connection<T>(
  nodes: readonly T[],
  cursorOf: (node: T) => string,
  hasNextPage: boolean,
  totalCount?: () => Promise<number>,
): Connection<T> {
  const edges = nodes.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
    ...(totalCount ? { totalCount } : {}),
  };
}

type NodeRef<T> = ObjectRef<typeof builder extends { $inferSchemaTypes: infer S } ? S : never, T>;

/** `<Name>Connection { edges: [<Name>Edge!]! pageInfo: PageInfo! totalCount? }`. */
export function connectionType<T>(
  name: string,
  node: NodeRef<T>,
  options: { totalCount: boolean; description?: string },
) {
  const EdgeRef = builder.objectRef<Edge<T>>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor', { description: 'Pass as `after` to continue after it' }),
      node: t.field({ type: node as NodeRef<unknown>, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    ...(options.description ? { description: options.description } : {}),
    fields: (t) => ({
      edges: t.field({ type: [EdgeRef], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
      ...(options.totalCount
        ? {
            totalCount: t.int({
              description: 'How many items the whole list has (all pages)',
              resolve: (c) => (c.totalCount ? c.totalCount() : c.edges.length),
            }),
          }
        : {}),
    }),
  });
}
