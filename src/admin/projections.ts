import { builder } from '../graphql/builder.js';
import { readError, requireReader } from '../graphql/read.js';
import type { GraphQLContext } from '../graphql/context.js';
import { RebuildRefused, type ProjectionStatus } from '../projections/runtime.js';
import type { ProjectionProblem } from '../projections/types.js';

function requireAdmin(ctx: GraphQLContext) {
  const principal = requireReader(ctx);
  if (principal.role !== 'admin')
    throw readError('FORBIDDEN', 'Only admins may manage projections');
  return principal;
}

const ProjectionErrorRef = builder
  .objectRef<NonNullable<ProjectionStatus['error']>>('ProjectionError')
  .implement({
    description: 'The event a projection stopped on, and why',
    fields: (t) => ({
      eventId: t.exposeID('eventId'),
      cursor: t.field({ type: 'Cursor', resolve: (e) => e.cursor }),
      type: t.exposeString('type'),
      message: t.exposeString('message'),
    }),
  });

const ProjectionProblemRef = builder.objectRef<ProjectionProblem>('ProjectionProblem').implement({
  description: 'A problem a projection recorded and went on from (e.g. a failed process step)',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'What it is about, e.g. an order id' }),
    type: t.exposeString('type'),
    message: t.exposeString('message'),
    at: t.field({ type: 'DateTime', resolve: (p) => p.at }),
  }),
});

const ProjectionStatusRef = builder.objectRef<ProjectionStatus>('ProjectionStatus').implement({
  description: 'One generation of a projection (read model) and how far behind the log it is',
  fields: (t) => ({
    name: t.exposeString('name'),
    generation: t.exposeInt('generation'),
    codeVersion: t.exposeInt('codeVersion'),
    active: t.exposeBoolean('active', { description: 'Whether queries read this generation' }),
    state: t.exposeString('state', {
      description: 'running, catching up, rebuilding, paused, stopped on error',
    }),
    leader: t.string({
      nullable: true,
      description:
        'The process that applies this generation (`<pid>-<id>`), the one holding its leadership lock; null while none does (paused, stopped, or between a graceful stop and the next process taking over)',
      resolve: (s) => s.leaseOwner,
    }),
    cursor: t.field({ type: 'Cursor', nullable: true, resolve: (s) => s.cursor }),
    eventsProcessed: t.exposeInt('eventsProcessed'),
    eventsBehind: t.exposeInt('eventsBehind'),
    secondsBehind: t.exposeFloat('secondsBehind'),
    error: t.field({ type: ProjectionErrorRef, nullable: true, resolve: (s) => s.error }),
    problems: t.field({
      type: [ProjectionProblemRef],
      description: 'Recent problems it recorded instead of stopping, newest first',
      args: { first: t.arg.int({ required: false, defaultValue: 20 }) },
      resolve: async (s, args, ctx) => {
        const first = args.first ?? 20;
        if (first < 0 || first > 100)
          throw readError('BAD_USER_INPUT', `first must be between 0 and 100 (got ${first})`, {
            argument: 'first',
          });
        const p = ctx.projections.projections.find((x) => x.name === s.name);
        return first === 0 || !p?.problems ? [] : p.problems(first);
      },
    }),
  }),
});

const known = (ctx: GraphQLContext, name: string) => {
  if (!ctx.projections.projections.some((p) => p.name === name)) {
    throw readError('BAD_USER_INPUT', `Unknown projection ${name}`, { argument: 'name' });
  }
};

builder.queryField('projections', (t) =>
  t.field({
    type: [ProjectionStatusRef],
    description: 'Every live projection generation with its lag (admin only)',
    resolve: async (_root, _args, ctx) => {
      requireAdmin(ctx);
      return (await ctx.projections.status()).map(
        (s) => ({ ...s, state: s.phase }) as ProjectionStatus,
      );
    },
  }),
);

builder.mutationField('rebuildProjection', (t) =>
  t.field({
    type: ProjectionStatusRef,
    description:
      'Builds a new generation of a projection from the start of the log while the current one keeps serving; it becomes active once caught up (admin only)',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      requireAdmin(ctx);
      known(ctx, name);
      const generation = await ctx.projections.rebuild(name).catch((err: unknown) => {
        if (err instanceof RebuildRefused)
          throw readError('BAD_USER_INPUT', err.message, { argument: 'name' });
        throw err;
      });
      const status = (await ctx.projections.status()).find(
        (s) => s.name === name && s.generation === generation,
      );
      return status!;
    },
  }),
);

for (const [field, action] of [
  ['pauseProjection', 'pause'],
  ['resumeProjection', 'resume'],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: [ProjectionStatusRef],
      description: `${action === 'pause' ? 'Pauses' : 'Resumes (also after a poison event was fixed)'} a projection (admin only)`,
      args: { name: t.arg.string({ required: true }) },
      resolve: async (_root, { name }, ctx) => {
        requireAdmin(ctx);
        known(ctx, name);
        await ctx.projections[action](name);
        return (await ctx.projections.status()).filter((s) => s.name === name);
      },
    }),
  );
}
