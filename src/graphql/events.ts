import { builder } from './builder.js';
import { requireCursorInLog } from './consistency.js';
import type { GraphQLContext } from './context.js';
import { checkFirst, connection, connectionType, readError } from './read.js';
import { InvalidCursorError, InvalidInputError } from '../eventstore/errors.js';
import type { EventMetadata, ReadAllOptions, StoredEvent } from '../eventstore/types.js';
import { isStaff } from '../auth/principal.js';

/*
 * The log as GraphQL shows it: `StoredEvent` (shared by the admin query `events`, an
 * order's history and the live feeds) and pages of it in commit order (the store's one
 * reader, `readAll`). Edge cursors are the events' log cursors, so a page can be resumed
 * with `after`, or handed to a subscription.
 */

export const StoredEventRef = builder.objectRef<StoredEvent>('StoredEvent').implement({
  description: 'An event as the store keeps it (payload upcast to its current schema version)',
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    streamId: t.exposeID('streamId'),
    streamType: t.exposeString('streamType'),
    type: t.exposeString('type'),
    schemaVersion: t.exposeInt('schemaVersion'),
    version: t.exposeInt('version', { description: 'The stream version this event made' }),
    globalPosition: t.string({
      description:
        'Position in the log (a 64-bit number, as a string); for audit, not for resuming',
      resolve: (e) => String(e.globalPosition),
    }),
    cursor: t.field({
      type: 'Cursor',
      description: 'Position in commit order: resume reading after it',
      resolve: (e) => e.cursor,
    }),
    recordedAt: t.field({ type: 'DateTime', resolve: (e) => e.recordedAt }),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
    metadata: t.field({
      type: 'JSON',
      description:
        'Who caused the event and why. Staff (admin, service) see all of it. Anyone else sees ' +
        '`correlationId` only, plus `commandId` and `mutation` of the events their own commands ' +
        'caused: never who else acted, nor in which role.',
      resolve: (e, _args, ctx) => metadataFor(ctx, e.metadata),
    }),
    correlationId: t.string({ nullable: true, resolve: (e) => e.correlationId }),
    causationId: t.string({ nullable: true, resolve: (e) => e.causationId }),
  }),
});

/**
 * The metadata a caller may see (docs/architecture.md, "Security"): all of it for staff;
 * for a customer, the correlation id, and the command id and mutation when its own command
 * caused the event. Staff user ids and roles are not a customer's business.
 */
export function metadataFor(
  ctx: Pick<GraphQLContext, 'principal'>,
  metadata: EventMetadata,
): Partial<EventMetadata> {
  const principal = ctx.principal;
  if (principal && isStaff(principal)) return metadata;
  const shown: Partial<EventMetadata> = {};
  if (metadata.correlationId !== undefined) shown.correlationId = metadata.correlationId;
  if (principal && metadata.userId === principal.userId) {
    if (metadata.commandId !== undefined) shown.commandId = metadata.commandId;
    if (metadata.mutation !== undefined) shown.mutation = metadata.mutation;
  }
  return shown;
}

export const EventConnectionRef = connectionType('Event', StoredEventRef, {
  totalCount: false,
  description: 'Events in commit order',
});

export const EVENTS_MAX_FIRST = 1_000;

/**
 * A page of the log (or of one stream) in commit order, `first` events after `after`.
 * Bad input (a malformed cursor or stream id) is a BAD_USER_INPUT error.
 */
export async function eventPage(
  ctx: GraphQLContext,
  options: Omit<ReadAllOptions, 'limit'> & { first?: number | null; defaultFirst?: number },
) {
  const { first, defaultFirst = 100, ...filter } = options;
  const limit = checkFirst(first, defaultFirst, EVENTS_MAX_FIRST);
  let events: StoredEvent[];
  try {
    if (filter.after) await requireCursorInLog(ctx, filter.after, 'after');
    events = limit === 0 ? [] : await ctx.store.readAll({ ...filter, limit: limit + 1 });
  } catch (err) {
    if (err instanceof InvalidCursorError)
      throw readError('BAD_USER_INPUT', 'after is not a cursor of the log', { argument: 'after' });
    if (err instanceof InvalidInputError)
      throw readError('BAD_USER_INPUT', err.message, { argument: err.field });
    throw err;
  }
  return connection(events.slice(0, limit), (e) => e.cursor, events.length > limit);
}
