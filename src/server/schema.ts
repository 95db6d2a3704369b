import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from '../graphql/builder.js';
import '../graphql/scalars.js';
import '../graphql/system.js';
import '../graphql/errors.js';
import '../customers/graphql.js';
import '../catalog/graphql.js';
import '../orders/graphql.js';
import '../catalog/queries.js';
import '../customers/queries.js';
import '../orders/queries.js';
import '../orders/history.js';
import '../admin/events.js';
import '../orders/subscriptions.js';
import '../fulfillment/graphql.js';
import '../admin/projections.js';

let schema: GraphQLSchema | undefined;

/** The executable schema, built once from every feature's `graphql.ts`. */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema({ sortSchema: true });
  return schema;
}

/** The printed, sorted SDL committed as `schema.graphql` (the contract: docs/architecture.md). */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
