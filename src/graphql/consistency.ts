import { GraphQLError } from 'graphql';
import { replicaReaches } from '../projections/consistency.js';
import { ReadTimeoutError } from '../projections/runtime.js';
import type { GraphQLContext } from './context.js';
import { clearLoaders } from './loaders.js';

/*
 * Read-your-writes (docs/architecture.md, "Read side"): a read with `consistentWith` waits
 * until the read models that the answer can reach have applied the log up to a cursor, or
 * fails with READ_TIMEOUT; the entity of a mutation's success waits for its command's
 * cursor a shorter while and never fails for it (`commandCaughtUp`).
 *
 * Which read models an object type can reach is declared by the features that define
 * its fields (`readModelsReach`): the orders feature adds `Customer.orders`, so a
 * `Customer` reaches the order read models too, without the customers feature knowing.
 */

interface Reach {
  models: Set<string>;
  types: Set<string>;
}
const reach = new Map<string, Reach>();

/**
 * Declares that fields of `typeName` read the projections `models` and lead to objects of
 * the types `types` (whose own read models count too).
 */
export function readModelsReach(
  typeName: string,
  r: { models?: readonly string[]; types?: readonly string[] },
): void {
  const entry = reach.get(typeName) ?? { models: new Set(), types: new Set() };
  for (const m of r.models ?? []) entry.models.add(m);
  for (const t of r.types ?? []) entry.types.add(t);
  reach.set(typeName, entry);
}

/** Every projection an object of `typeName` can reach through its fields, sorted. */
export function readModelsOf(typeName: string): string[] {
  const models = new Set<string>();
  const seen = new Set<string>();
  const visit = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    const r = reach.get(t);
    if (!r) return;
    for (const m of r.models) models.add(m);
    for (const next of r.types) visit(next);
  };
  visit(typeName);
  return [...models].sort();
}

export const DEFAULT_READ_TIMEOUT_MS = 5_000;

/**
 * Refuses a log cursor that lies beyond the end of the log (CURSOR_BEYOND_HEAD): no
 * reader will ever reach it, so a wait for it could only time out and a page or feed after
 * it could only stay empty. Every cursor the API hands out passes, from the moment its
 * command committed. Checked once per cursor per request.
 */
export async function requireCursorInLog(
  ctx: Pick<GraphQLContext, 'store'>,
  cursor: string,
  argument: string,
): Promise<void> {
  const known = perRequest(ctx).known;
  let check = known.get(cursor);
  if (!check) {
    check = ctx.store.reaches(cursor);
    known.set(cursor, check);
  }
  if (!(await check)) {
    throw new GraphQLError(
      `${argument} ${cursor} is beyond the end of the log: pass a cursor that a command, a page or a feed gave you`,
      { extensions: { code: 'CURSOR_BEYOND_HEAD', argument, cursor } },
    );
  }
}

interface RequestWaits {
  /** Whether each cursor is within the log. */
  known: Map<string, Promise<boolean>>;
  /** The waits of this request, by cursor and read models. */
  waits: Map<string, Promise<void>>;
  /** The mutations' bounded waits of this request, by cursor and read models. */
  caughtUp: Map<string, Promise<boolean>>;
}

/** Per request (one context object per operation): its checks and waits, shared by its fields. */
const requests = new WeakMap<object, RequestWaits>();
function perRequest(ctx: object): RequestWaits {
  let r = requests.get(ctx);
  if (!r) {
    r = { known: new Map(), waits: new Map(), caughtUp: new Map() };
    requests.set(ctx, r);
  }
  return r;
}

/**
 * Resolves once the named projections have applied the log up to `cursor`; after the
 * read timeout (`readTimeoutMs` of the services, default 5 s) a GraphQL error with code
 * READ_TIMEOUT (for queries: a mutation's answer waits with `commandCaughtUp`). A null/empty cursor returns at once. A cursor the client gave
 * (`fromClient`) must be within the log ({@link requireCursorInLog}).
 *
 * One wait per cursor and read models per request, however many fields (or aliases) ask:
 * a request cannot multiply the waits. The request's loaders are emptied after the wait:
 * something another field (or an earlier mutation of the same operation) loaded before may
 * be older than the cursor.
 */
export async function awaitReadModels(
  ctx: Pick<GraphQLContext, 'projections' | 'readTimeoutMs' | 'loaders' | 'store' | 'reads'>,
  cursor: string | null | undefined,
  names: readonly string[],
  fromClient = true,
): Promise<void> {
  if (!cursor) return;
  if (fromClient) await requireCursorInLog(ctx, cursor, 'consistentWith');
  const waits = perRequest(ctx).waits;
  const key = `${cursor} ${names.join(',')}`;
  let wait = waits.get(key);
  if (!wait) {
    wait = waitOnce(ctx, cursor, names);
    waits.set(key, wait);
  }
  await wait;
}

async function waitOnce(
  ctx: Pick<GraphQLContext, 'projections' | 'readTimeoutMs' | 'loaders' | 'reads'>,
  cursor: string,
  names: readonly string[],
): Promise<void> {
  const timeout = ctx.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  try {
    await ctx.projections.waitFor(cursor, names, timeout);
  } catch (err) {
    if (err instanceof ReadTimeoutError) {
      throw new GraphQLError(
        `The read models did not reach cursor ${cursor} within ${timeout} ms; try again shortly`,
        { extensions: { code: 'READ_TIMEOUT', cursor, waitedMs: timeout } },
      );
    }
    throw err;
  }
  await replicaCatchesUp(ctx, cursor, names);
  clearLoaders(ctx.loaders);
}

/**
 * A query reading from a replica (docs/adr/0017-read-replicas.md): once the primary's
 * read models have reached the cursor, the replica must have replayed them too. It gets
 * the route's bound (STRATA_REPLICA_WAIT_MS); past it, or if it fails, the rest of the
 * request reads from the primary, which has them.
 */
async function replicaCatchesUp(
  ctx: Pick<GraphQLContext, 'reads'>,
  cursor: string,
  names: readonly string[],
): Promise<void> {
  const route = ctx.reads;
  const replica = route?.current;
  if (!route || !replica) return;
  try {
    if (!(await replicaReaches(replica, cursor, names, route.waitMs))) route.leave('lag');
  } catch (err) {
    route.leave('error', err);
  }
}

export const DEFAULT_COMMAND_READ_WAIT_MS = 1_000;

/**
 * Whether the named projections have applied the log up to a command's `cursor`, waiting
 * at most the mutation's own bound (`commandReadWaitMs` of the services, default 1 s): a
 * committed command never answers an error because the read models lag, so this never
 * throws READ_TIMEOUT; its success says `caughtUp: false` instead (command-mutation.ts).
 * The request's loaders are emptied afterwards either way: what the answer reads next is
 * the read model as it stands now. One wait per cursor and read models per request.
 */
export async function commandCaughtUp(
  ctx: Pick<GraphQLContext, 'projections' | 'commandReadWaitMs' | 'loaders'>,
  cursor: string,
  names: readonly string[],
): Promise<boolean> {
  const waits = perRequest(ctx).caughtUp;
  const key = `${cursor} ${names.join(',')}`;
  let wait = waits.get(key);
  if (!wait) {
    wait = (async () => {
      const timeout = ctx.commandReadWaitMs ?? DEFAULT_COMMAND_READ_WAIT_MS;
      try {
        await ctx.projections.waitFor(cursor, names, timeout);
        return true;
      } catch (err) {
        if (err instanceof ReadTimeoutError) return false;
        throw err;
      } finally {
        clearLoaders(ctx.loaders);
      }
    })();
    waits.set(key, wait);
  }
  return wait;
}
