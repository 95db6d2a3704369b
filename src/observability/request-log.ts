import { randomUUID } from 'node:crypto';
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** How an operation reached the server. */
export type Transport = 'http' | 'ws' | 'sse';

/**
 * The request id: names one HTTP request (or one graphql-ws operation) in the logs. A
 * client's `x-request-id` is kept when it looks like an id (so a proxy's id carries
 * through); anything else is replaced, so header values cannot forge log content.
 */
const REQUEST_ID = /^[\w.:-]{1,128}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

export function requestIdFrom(given: string | null | undefined): string {
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/** What one log line says about an operation. */
export interface OperationLog {
  requestId: string;
  correlationId: string | undefined;
  /** The caller, never its token. */
  principal: Pick<Principal, 'userId' | 'role' | 'customerId'> | null;
  operationName: string | null;
  operationType: string | undefined;
  transport: Transport;
  durationMs: number;
  outcome: 'ok' | 'errors';
  /** The `extensions.code` of each GraphQL error, in order (absent when none). */
  errors?: string[];
  /** Subscriptions: results sent before it ended. */
  results?: number;
}

interface OperationState {
  requestId: string;
  started: number;
  transport: Transport;
  document?: DocumentNode;
  errors: string[];
  results: number;
  logged: boolean;
}

/** The parts of the GraphQL context this plugin reads (HTTP and graphql-ws shapes). */
interface SeenContext {
  request?: Request;
  params?: { operationName?: string | null };
  websocket?: { principal?: Principal; correlationId?: string };
  principal?: Principal | null;
  correlationId?: string;
}

const errorCode = (e: GraphQLError | Error): string => {
  const code = (e as GraphQLError).extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
};

/**
 * One structured log line and one metric sample per GraphQL operation, over HTTP, SSE and
 * graphql-ws. The line carries the request id (also returned as `x-request-id`), the
 * correlation id, the principal (user id, role, customer id), the operation's name and
 * type, how long it took and how it ended, with the codes of its errors. Queries and
 * mutations are logged when their result is ready; subscriptions when they end.
 */
export function requestLogPlugin(o: {
  logger: Logger;
  metrics: Metrics;
}): Plugin<Record<string, unknown>> {
  const requests = new WeakMap<Request, { requestId: string; started: number }>();
  const operations = new WeakMap<object, OperationState>();

  const stateOf = (context: SeenContext): OperationState => {
    let state = operations.get(context);
    if (!state) {
      const request = context.request;
      const http = request ? requests.get(request) : undefined;
      state = {
        requestId: http?.requestId ?? randomUUID(),
        started: http?.started ?? performance.now(),
        transport: context.websocket ? 'ws' : 'http',
        errors: [],
        results: 0,
        logged: false,
      };
      operations.set(context, state);
    }
    return state;
  };

  const isWs = (context: SeenContext) => context.websocket !== undefined;

  /** An operation's result: a stream is followed to its end, anything else logged now. */
  const settle = <R>(c: SeenContext, result: R, setResult: (r: R) => void): void => {
    const state = stateOf(c);
    if (isAsyncIterable(result)) setResult(follow(c, state, result) as R);
    else {
      note(state, result);
      finish(c, state);
    }
  };

  const note = (state: OperationState, result: unknown) => {
    const errors = (result as { errors?: readonly GraphQLError[] } | undefined)?.errors;
    for (const e of errors ?? []) state.errors.push(errorCode(e));
  };

  const finish = (context: SeenContext, state: OperationState) => {
    if (state.logged) return;
    state.logged = true;
    const operation = state.document
      ? getOperationAST(state.document, context.params?.operationName ?? undefined)
      : null;
    const name = operation?.name?.value ?? context.params?.operationName ?? null;
    const type = operation?.operation;
    const principal = context.principal ?? context.websocket?.principal ?? null;
    const durationMs = Math.round((performance.now() - state.started) * 1000) / 1000;
    const line: OperationLog = {
      requestId: state.requestId,
      correlationId: context.correlationId ?? context.websocket?.correlationId,
      principal: principal
        ? {
            userId: principal.userId,
            role: principal.role,
            ...(principal.customerId ? { customerId: principal.customerId } : {}),
          }
        : null,
      // A client may send any JSON as operationName (yoga then refuses it with a 400).
      operationName: typeof name === 'string' ? name.slice(0, 100) : null,
      operationType: type,
      // Over HTTP, a subscription is the stream (SSE); a query or mutation is a plain
      // request, whatever its Accept header offered.
      transport: state.transport === 'ws' ? 'ws' : type === 'subscription' ? 'sse' : 'http',
      durationMs,
      outcome: state.errors.length ? 'errors' : 'ok',
      ...(state.errors.length ? { errors: state.errors } : {}),
      ...(type === 'subscription' ? { results: state.results } : {}),
    };
    o.logger.info(line, 'graphql operation');
    o.metrics.recordOperation({
      name,
      type,
      outcome: state.errors.length ? 'error' : 'ok',
      ...(type === 'subscription' ? {} : { seconds: durationMs / 1000 }),
    });
  };

  /** Follows a stream of results (a subscription, or an incremental delivery) to its end. */
  const follow = <T>(
    context: SeenContext,
    state: OperationState,
    source: AsyncIterable<T>,
  ): AsyncIterableIterator<T> => {
    const it = source[Symbol.asyncIterator]();
    return {
      async next() {
        try {
          const r = await it.next();
          if (r.done) finish(context, state);
          else {
            state.results++;
            note(state, r.value);
          }
          return r;
        } catch (err) {
          state.errors.push(errorCode(err as Error));
          finish(context, state);
          throw err;
        }
      },
      async return(value?: unknown) {
        // Ended by the client or the server (complete, disconnect, shutdown).
        finish(context, state);
        return (await it.return?.(value)) ?? { done: true, value: undefined };
      },
      async throw(err?: unknown) {
        finish(context, state);
        if (it.throw) return it.throw(err);
        throw err;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };

  return {
    onRequest({ request }) {
      requests.set(request, {
        requestId: requestIdFrom(request.headers.get(REQUEST_ID_HEADER)),
        started: performance.now(),
      });
    },
    onResponse({ request, response }) {
      const id = requests.get(request)?.requestId;
      if (!id) return;
      try {
        response.headers.set(REQUEST_ID_HEADER, id);
      } catch {
        // An immutable response (e.g. Response.error()): it goes without the header.
      }
    },
    onParse({ context }) {
      return ({ result }) => {
        const c = context as SeenContext;
        const state = stateOf(c);
        if (result && !(result instanceof Error)) state.document = result as DocumentNode;
        else if (isWs(c) && result instanceof Error) {
          // HTTP parse errors reach onExecutionResult; over graphql-ws nothing else sees them.
          state.errors.push(errorCode(result));
          finish(c, state);
        }
      };
    },
    onValidate({ context }) {
      return ({ valid, result }) => {
        const c = context as SeenContext;
        if (valid || !isWs(c)) return;
        const state = stateOf(c);
        for (const e of result) state.errors.push(errorCode(e));
        finish(c, state);
      };
    },
    onExecute({ args }) {
      const c = args.contextValue as SeenContext;
      if (!isWs(c)) return;
      return {
        onExecuteDone: ({ result, setResult }) => settle(c, result, setResult),
      };
    },
    onSubscribe({ args }) {
      const c = args.contextValue as SeenContext;
      if (!isWs(c)) return;
      return {
        onSubscribeResult: ({ result, setResult }) => settle(c, result, setResult),
        onSubscribeError({ error }) {
          const state = stateOf(c);
          state.errors.push(errorCode(error as Error));
          finish(c, state);
        },
      };
    },
    onExecutionResult({ result, setResult, context }) {
      // Every HTTP/SSE operation ends here, including those refused before execution
      // (bad token, parse or validation errors).
      const c = context as SeenContext;
      stateOf(c);
      if (result !== undefined) settle(c, result, setResult);
    },
  };
}
