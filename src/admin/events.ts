import { builder } from '../graphql/builder.js';
import { EventConnectionRef, eventPage } from '../graphql/events.js';
import { readError, requireReader } from '../graphql/read.js';

/* The admin query `events`: the whole log in commit order, for audit and debugging. */

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
        ...(args.streamId != null ? { streamId: String(args.streamId) } : {}),
        ...(args.streamTypes ? { streamTypes: args.streamTypes } : {}),
        ...(args.eventTypes ? { eventTypes: args.eventTypes } : {}),
      });
    },
  }),
);
