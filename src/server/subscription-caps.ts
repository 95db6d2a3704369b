import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config/config.js';
import type { GraphQLContext } from '../graphql/context.js';
import { callerKey } from './rate-limit.js';

/** Which cap refused a subscription. */
export type SubscriptionCap = 'connection' | 'principal';

const CAPS: Record<SubscriptionCap, { who: string; env: string }> = {
  connection: { who: 'this connection', env: 'STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION' },
  principal: { who: 'this caller', env: 'STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL' },
};

export function tooManySubscriptionsError(cap: SubscriptionCap, max: number): GraphQLError {
  const c = CAPS[cap];
  return new GraphQLError(
    `Too many subscriptions: ${c.who} already has ${max} open, the limit (${c.env}). End one before starting another.`,
    { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', cap, limit: c.env, max } },
  );
}

/** Counts per key; a key at zero is forgotten, so the maps hold only what is open. */
class Counter<K> {
  private readonly counts = new Map<K, number>();
  get(key: K): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: K, delta: number): void {
    const n = this.get(key) + delta;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}

/**
 * Wraps a subscription's event stream so its slot is given back exactly once, however it
 * ends: completed, cancelled by the client (`return`), failed, or dropped with its socket.
 */
function releasing<T>(source: AsyncIterable<T>, release: () => void): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]();
  let released = false;
  const done = () => {
    if (!released) {
      released = true;
      release();
    }
  };
  return {
    async next() {
      try {
        const r = await it.next();
        if (r.done) done();
        return r;
      } catch (err) {
        done();
        throw err;
      }
    },
    async return(value?: unknown) {
      done();
      return (await it.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(err?: unknown) {
      done();
      if (it.throw) return it.throw(err);
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Caps on concurrent subscriptions in this process: per connection (a graphql-ws socket;
 * an SSE request is a connection of its own) and per principal (across its connections).
 * Over a cap the subscribe is refused before the resolver runs, so nothing is held; each
 * subscription frees its slot when it ends.
 */
export function useSubscriptionCaps(
  config: Pick<Config, 'maxSubscriptionsPerConnection' | 'maxSubscriptionsPerPrincipal'>,
): Plugin {
  const perConnection = new Counter<object>();
  const perPrincipal = new Counter<string>();
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as GraphQLContext & { request?: object };
      const connection: object | undefined = ctx.socket ?? ctx.request;
      const principal = callerKey(ctx);
      let refused: GraphQLError | undefined;
      if (connection && perConnection.get(connection) >= config.maxSubscriptionsPerConnection)
        refused = tooManySubscriptionsError('connection', config.maxSubscriptionsPerConnection);
      else if (perPrincipal.get(principal) >= config.maxSubscriptionsPerPrincipal)
        refused = tooManySubscriptionsError('principal', config.maxSubscriptionsPerPrincipal);
      if (refused) {
        setResultAndStopExecution({ errors: [refused] });
        return;
      }
      // Taken now, synchronously, so concurrent subscribes cannot all slip under the cap.
      if (connection) perConnection.add(connection, 1);
      perPrincipal.add(principal, 1);
      const release = () => {
        if (connection) perConnection.add(connection, -1);
        perPrincipal.add(principal, -1);
      };
      return {
        onSubscribeResult({ result, setResult }) {
          // An error instead of a stream (forbidden, bad input): nothing to hold.
          if (!(Symbol.asyncIterator in (result as object))) release();
          else setResult(releasing(result as AsyncIterable<ExecutionResult>, release));
        },
      };
    },
  };
}
