import { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import {
  SlowConsumerError,
  type LiveEvent,
  type Subscription,
  type SubscriptionHub,
} from './hub.js';

/** What delivery needs of a subscriber's context: its socket (back-pressure) and token expiry. */
export interface DeliveryContext {
  live: SubscriptionHub;
  /** The graphql-ws socket; absent over SSE. */
  socket?: WebSocket;
  /** When the caller's token expires (ms since the epoch): ends SSE feeds then. */
  tokenExpiresAt?: number;
}

/**
 * Marks the end of a subscription the server ended (the subscriber could not keep up, or
 * its token expired); the field resolver turns it into an error carrying the cursor to
 * resume from.
 */
export interface CutOff {
  cutOff: { message: string; code: string; cursor: string };
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
  ctx: DeliveryContext,
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

/**
 * Over HTTP (SSE) the token is checked once, when the stream opens; so the stream ends
 * when the token expires, with its cursor, as graphql-ws closes the socket (4403). The
 * client resumes with a fresh token and `after`.
 */
function expiryOf(
  ctx: DeliveryContext,
): { expired: Promise<'expired'>; cancel(): void } | undefined {
  if (ctx.socket || ctx.tokenExpiresAt === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    const wait = (): void => {
      const left = ctx.tokenExpiresAt! - Date.now();
      if (left <= 0) return resolve('expired');
      // setTimeout cannot wait more than ~24.8 days in one go.
      timer = setTimeout(wait, Math.min(left, 2 ** 31 - 1));
      timer.unref();
    };
    wait();
  });
  return { expired, cancel: () => clearTimeout(timer) };
}

async function* pull(ctx: DeliveryContext, sub: Subscription): AsyncGenerator<LiveEvent | CutOff> {
  const expiry = expiryOf(ctx);
  try {
    for (;;) {
      while (ctx.socket && ctx.socket.bufferedAmount > ctx.live.maxSocketBacklog) {
        if (ctx.socket.readyState !== ctx.socket.OPEN) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      let next: IteratorResult<LiveEvent> | 'expired';
      try {
        next = await (expiry ? Promise.race([sub.next(), expiry.expired]) : sub.next());
      } catch (err) {
        if (err instanceof SlowConsumerError) {
          yield { cutOff: err };
          return;
        }
        throw err;
      }
      if (next === 'expired') {
        yield {
          cutOff: {
            code: 'TOKEN_EXPIRED',
            cursor: sub.cursor,
            message: `The token expired: refresh it and resume with after: "${sub.cursor}"`,
          },
        };
        return;
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    expiry?.cancel();
    await sub.return();
  }
}
