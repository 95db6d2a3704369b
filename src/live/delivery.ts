import { GraphQLError } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { SlowConsumerError, type LiveEvent, type Subscription } from './hub.js';

/** Marks the end of a subscription that could not keep up; the field resolver turns it into an error. */
export interface CutOff {
  cutOff: SlowConsumerError;
}

export const isCutOff = (v: unknown): v is CutOff =>
  typeof v === 'object' && v !== null && 'cutOff' in v;

/** The GraphQL error a cut-off subscriber receives last: it carries the cursor to resume from. */
export function cutOffError(c: CutOff): GraphQLError {
  return new GraphQLError(c.cutOff.message, {
    extensions: { code: c.cutOff.code, cursor: c.cutOff.cursor },
  });
}

/**
 * Feeds a hub subscription to GraphQL. Over WebSocket it stops pulling while the socket's
 * send buffer is over its limit, so a client that does not read lets its bounded
 * subscription buffer fill and is cut off (with its cursor) instead of growing memory.
 * Ending the GraphQL subscription (complete, disconnect) releases the hub subscription.
 */
export function deliver(
  ctx: GraphQLContext,
  sub: Subscription,
): AsyncGenerator<LiveEvent | CutOff> {
  const feed = pull(ctx, sub);
  // An async generator's return() waits for its pending await, here the next matching
  // event, which for a quiet filter (a finished order's timeline) may never come: the
  // hub subscription would outlive its client. Release it at once; that ends the await.
  const finish = feed.return.bind(feed);
  feed.return = (value) => {
    void sub.return();
    return finish(value);
  };
  return feed;
}

async function* pull(ctx: GraphQLContext, sub: Subscription): AsyncGenerator<LiveEvent | CutOff> {
  try {
    for (;;) {
      while (ctx.socket && ctx.socket.bufferedAmount > ctx.live.maxSocketBacklog) {
        if (ctx.socket.readyState !== ctx.socket.OPEN) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      let next: IteratorResult<LiveEvent>;
      try {
        next = await sub.next();
      } catch (err) {
        if (err instanceof SlowConsumerError) {
          yield { cutOff: err };
          return;
        }
        throw err;
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await sub.return();
  }
}
