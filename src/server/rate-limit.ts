import type { IncomingMessage } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/config.js';
import type { GraphQLContext } from '../graphql/context.js';
import { costOf } from './limits.js';
import { rootFieldCounts } from './root-fields.js';

/**
 * Who a limit counts against: the principal's user id, or for an anonymous request the
 * remote address (all anonymous callers behind one proxy share it).
 */
export function callerKey(ctx: Partial<GraphQLContext> & { req?: IncomingMessage }): string {
  if (ctx.principal) return `user:${ctx.principal.userId}`;
  return `ip:${ctx.req?.socket.remoteAddress ?? 'unknown'}`;
}

/** Mutation root fields the operation would run (each alias is one more command). */
export function mutationFieldCount(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'mutation') return 0;
  let n = 0;
  for (const [name, times] of rootFieldCounts(document, operation, variables))
    if (name !== '__typename') n += times;
  return n;
}

/** The error of a refused mutation: nothing ran; retry after `retryAfterSeconds`. */
export function rateLimitedError(perMinute: number, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(
    `Too many mutations: at most ${perMinute} per minute for each caller (STRATA_MUTATIONS_PER_MINUTE). Nothing was executed; retry in ${retryAfterSeconds} s.`,
    {
      extensions: {
        code: 'RATE_LIMITED',
        retryAfterSeconds,
        limit: 'STRATA_MUTATIONS_PER_MINUTE',
        max: perMinute,
        http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
      },
    },
  );
}

/**
 * Spends `points` of the caller's allowance: null when they were there, else the seconds
 * until they will be (at least 1).
 */
async function spend(
  limiter: RateLimiterMemory,
  context: unknown,
  points: number,
): Promise<number | null> {
  try {
    await limiter.consume(callerKey(context as GraphQLContext), points);
    return null;
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
  }
}

/**
 * Mutations per caller per minute (`config.mutationsPerMinute`; 0 turns it off). Each
 * mutation root field costs one point; an operation that would go over is refused whole,
 * before anything runs. The counts live in this process: with several processes behind a
 * balancer, a caller gets up to that many times the limit (see ADR 0007).
 */
export function useMutationRateLimit(config: Pick<Config, 'mutationsPerMinute'>): Plugin {
  const perMinute = config.mutationsPerMinute;
  if (perMinute === 0) return {};
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const points = mutationFieldCount(args.document, args.operationName, args.variableValues);
      if (points === 0) return;
      if (points > perMinute) {
        // Waiting would not help: say so rather than name a time to retry.
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `This operation runs ${points} mutations, more than the ${perMinute} a caller may run per minute (STRATA_MUTATIONS_PER_MINUTE); send fewer at once. Nothing was executed.`,
              {
                extensions: {
                  code: 'RATE_LIMITED',
                  limit: 'STRATA_MUTATIONS_PER_MINUTE',
                  max: perMinute,
                  http: { status: 429 },
                },
              },
            ),
          ],
        });
        return;
      }
      const retryAfter = await spend(limiter, args.contextValue, points);
      if (retryAfter !== null) {
        setResultAndStopExecution({ errors: [rateLimitedError(perMinute, retryAfter)] });
      }
    },
  };
}

/**
 * Reads per caller per minute, by cost (`config.readCostPerMinute`; 0 turns it off): each
 * query spends its estimated cost (the objects it resolves, lists counted by the page
 * asked: the measure of STRATA_MAX_COST) from the caller's budget, before anything runs;
 * over it, RATE_LIMITED with Retry-After, nothing read. Per process, like the mutation limit.
 */
export function useReadBudget(config: Pick<Config, 'readCostPerMinute'>): Plugin {
  const perMinute = config.readCostPerMinute;
  if (perMinute === 0) return {};
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      const cost = Math.max(1, costOf(args));
      const retryAfterSeconds = await spend(limiter, args.contextValue, cost);
      if (retryAfterSeconds !== null) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `Too much read: at most ${perMinute} cost points per minute for each caller (STRATA_READ_COST_PER_MINUTE); this query costs ${cost}. Nothing was read; retry in ${retryAfterSeconds} s.`,
              {
                extensions: {
                  code: 'RATE_LIMITED',
                  retryAfterSeconds,
                  limit: 'STRATA_READ_COST_PER_MINUTE',
                  max: perMinute,
                  cost,
                  http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
                },
              },
            ),
          ],
        });
      }
    },
  };
}
