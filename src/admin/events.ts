import { builder } from '../graphql/builder.js';
import { requireCursorInLog } from '../graphql/consistency.js';
import { EventConnectionRef, eventPage, StoredEventRef } from '../graphql/events.js';
import { readError, requireReader, streamIdArgument } from '../graphql/read.js';
import { cutOffError, deliver, isCutOff } from '../live/delivery.js';

/*
 * The admin view of the log: the query `events` pages through it in commit order, the
 * subscription `events` follows it live (for audit and debugging).
 */

builder.queryField('events', (t) =>
  t.field({
    type: EventConnectionRef,
    description: 'The whole log in commit order, optionally narrowed (admin only)',
    args: {
      after: t.arg({ type: 'Cursor', required: false }),
      first: t.arg.int({ required: false, defaultValue: 100 }),
      streamId: t.arg.id({ required: false }),
      streamTypes: t.arg.stringList({ required: false }),
      eventTypes: t.arg.stringList({ required: false }),
    },
    resolve: (_root, args, ctx) => {
      const principal = requireReader(ctx);
      if (principal.role !== 'admin') throw readError('FORBIDDEN', 'Only admins may read the log');
      return eventPage(ctx, {
        first: args.first,
        after: args.after ?? null,
        ...(args.streamId != null ? { streamId: streamIdArgument('streamId', args.streamId) } : {}),
        ...(args.streamTypes ? { streamTypes: args.streamTypes } : {}),
        ...(args.eventTypes ? { eventTypes: args.eventTypes } : {}),
      });
    },
  }),
);

builder.subscriptionField('events', (t) =>
  t.field({
    type: StoredEventRef,
    description: 'The whole log in commit order, live; from `after` when given (admin only)',
    args: {
      after: t.arg({ type: 'Cursor', required: false }),
      streamTypes: t.arg.stringList({ required: false }),
      eventTypes: t.arg.stringList({ required: false }),
    },
    subscribe: async (_root, args, ctx) => {
      const principal = requireReader(ctx);
      if (principal.role !== 'admin')
        throw readError('FORBIDDEN', 'Only admins may follow the log');
      if (args.after) await requireCursorInLog(ctx, args.after, 'after');
      const sub = ctx.live.subscribe(
        {
          ...(args.streamTypes ? { streamTypes: args.streamTypes } : {}),
          ...(args.eventTypes ? { eventTypes: args.eventTypes } : {}),
        },
        args.after ? { replay: 'after', after: args.after } : { replay: 'none' },
      );
      return deliver(ctx, sub);
    },
    resolve: (item) => {
      if (isCutOff(item)) throw cutOffError(item);
      return item;
    },
  }),
);
