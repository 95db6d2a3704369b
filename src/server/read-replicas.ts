import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ReadReplicas } from '../db/replicas.js';
import type { GraphQLContext } from '../graphql/context.js';
import { createLoaders } from './loaders.js';

/**
 * Queries read their read models from a replica (docs/adr/0017-read-replicas.md): each
 * query operation gets a route of its own, over HTTP and graphql-ws alike, and its `db`
 * and loaders read through it. Decided when the operation is known, before it executes;
 * mutations (their read-after-write entity included) and subscriptions keep the primary.
 */
export function useReadReplicas(replicas: ReadReplicas): Plugin<Record<string, unknown>> {
  return {
    onExecute({ args, extendContext }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      const reads = replicas.forRequest();
      const extension: Pick<GraphQLContext, 'db' | 'reads' | 'loaders'> = {
        db: reads,
        reads,
        loaders: createLoaders(reads),
      };
      extendContext(extension);
    },
  };
}
