import { getOperationAST, getVariableValues, valueFromASTUntyped } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { perOperation } from '../graphql/per-operation.js';

/**
 * Queries run as compiled JavaScript (graphql-jit; docs/adr/0012-compiled-queries.md): a
 * page of orders resolves thousands of fields, and graphql-js's generic executor spent a
 * quarter of the server's time in garbage collection on it. Each operation of a parsed
 * document is compiled once (yoga's parse cache bounds the documents, so these are
 * bounded too). Mutations and subscriptions keep the standard executor, and so does any
 * query that does not compile, or whose variables do not coerce (graphql-js then gives
 * its own, well-known error).
 */
export function useCompiledQueries(): Plugin {
  const compiledFor = perOperation((schema, document, name): CompiledQuery | null => {
    const result = compileQuery(schema, document, name ?? undefined);
    return isCompiledQuery(result) ? result : null;
  });
  return {
    onExecute({ args, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'query') return;
      const variables = getVariableValues(
        args.schema,
        operation.variableDefinitions ?? [],
        args.variableValues ?? {},
      );
      if (variables.errors) return;
      const query = compiledFor(args.schema, args.document, args.operationName ?? null);
      if (!query) return;
      // graphql-jit does not apply a variable's default when the variable is absent (it
      // refuses a non-null one as "not provided"): hand it the default as the client would.
      const given = { ...(args.variableValues ?? {}) };
      for (const v of operation.variableDefinitions ?? []) {
        const name = v.variable.name.value;
        if (given[name] === undefined && v.defaultValue) {
          given[name] = valueFromASTUntyped(v.defaultValue);
        }
      }
      setExecuteFn((a) => query.query(a.rootValue, a.contextValue, given));
    },
  };
}
