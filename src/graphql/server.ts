import { randomUUID } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Db } from '../db/types.js';
import type { EventStore } from '../eventstore/store.js';
import type { Logger } from '../observability/logger.js';
import type { GraphQLContext } from './context.js';
import { getSchema } from './schema.js';

export interface GraphQLServerOptions {
  db: Db;
  store: EventStore;
  logger: Logger;
  /** Pre-filled in GraphiQL's headers tab (development mode only). */
  devToken?: string;
}

const CORRELATION_ID = /^[\w.:-]{1,128}$/;

const EXAMPLE_QUERY = `# Welcome to Strata. Try:
{
  serverInfo { version engine }
}
`;

export function createGraphQLServer(
  o: GraphQLServerOptions,
): YogaServerInstance<Record<string, never>, GraphQLContext> {
  return createYoga<Record<string, never>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL with every asset inlined by the server: no CDN.
    renderGraphiQL,
    graphiql: {
      title: 'Strata GraphiQL',
      defaultQuery: EXAMPLE_QUERY,
      subscriptionsProtocol: 'WS',
      ...(o.devToken
        ? { headers: JSON.stringify({ Authorization: `Bearer ${o.devToken}` }, null, 2) }
        : {}),
    },
    logging: {
      debug: (...args) => o.logger.debug(args.map(String).join(' ')),
      info: (...args) => o.logger.info(args.map(String).join(' ')),
      warn: (...args) => o.logger.warn(args.map(String).join(' ')),
      error: (...args) =>
        o.logger.error({ err: args[0] }, args.slice(1).map(String).join(' ') || 'GraphQL error'),
    },
    // Unexpected errors reach clients as "Unexpected error." with no stack or SQL.
    maskedErrors: true,
    context: ({ request }) => {
      const given = request.headers.get('x-correlation-id');
      return {
        db: o.db,
        store: o.store,
        logger: o.logger,
        correlationId: given && CORRELATION_ID.test(given) ? given : randomUUID(),
      };
    },
  });
}
