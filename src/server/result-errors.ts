import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';

/*
 * Rewriting the errors of results on their way out (their codes, error-codes.ts; their
 * suggestions, limits.ts). Always by copy: some errors are frozen (an authentication
 * error's message cannot be assigned) and graphql-js caches a document's validation errors.
 */

/** A copy of `error` with another message or other extensions; everything else kept. */
export function copyError(
  error: GraphQLError,
  changes: { message?: string; extensions?: GraphQLError['extensions'] },
): GraphQLError {
  return new GraphQLError(changes.message ?? error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: changes.extensions ?? error.extensions,
  });
}

export type Result = ExecutionResult | AsyncIterable<ExecutionResult>;

/**
 * `result` with `fix` applied to each of its GraphQL errors (`fix` returns the error itself
 * to leave it); a stream is mapped as it is read. The result itself when nothing changes.
 */
export function mapResultErrors<R extends Result>(
  result: R,
  fix: (error: GraphQLError) => GraphQLError,
): R {
  if (isAsyncIterable(result)) return mapStream(result, fix) as unknown as R;
  const errors = (result as ExecutionResult).errors;
  if (!errors?.length) return result;
  const fixed = errors.map((e) => (e instanceof GraphQLError ? fix(e) : e));
  return fixed.every((e, i) => e === errors[i]) ? result : ({ ...result, errors: fixed } as R);
}

function mapStream(
  source: AsyncIterable<ExecutionResult>,
  fix: (error: GraphQLError) => GraphQLError,
): AsyncIterableIterator<ExecutionResult> {
  const it = source[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await it.next();
      return r.done ? r : { done: false, value: mapResultErrors(r.value, fix) };
    },
    async return(value?: unknown) {
      return (await it.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(err?: unknown) {
      if (it.throw) return it.throw(err);
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
