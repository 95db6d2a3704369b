import { randomUUID } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config/config.js';
import type { Principal } from '../auth/principal.js';
import { AuthError, bearerToken, type TokenService } from '../auth/tokens.js';
import type { WebSocket } from 'ws';
import type { GraphQLContext, Services } from './context.js';
import { EXAMPLE_QUERY } from './graphiql.js';
import { createLoaders } from './loaders.js';
import { getSchema } from './schema.js';

/** What the WebSocket server hands to yoga's context factory for each operation. */
export interface WebSocketInitialContext {
  websocket: { principal: Principal; correlationId: string; socket: WebSocket };
}

export interface GraphQLServerOptions {
  config: Config;
  services: Services;
  /** More yoga/envelop plugins, composed by the app (observability, …). */
  plugins?: Plugin<Record<string, unknown>>[];
  tokens: TokenService;
  /** Pre-filled in GraphiQL's headers tab (development mode only). */
  devToken?: string;
}

const CORRELATION_ID = /^[\w.:-]{1,128}$/;

/** Resolves the caller from an `Authorization` header: null when there is none. */
export async function principalFrom(
  tokens: TokenService,
  header: string | null | undefined,
): Promise<Principal | null> {
  const token = bearerToken(header);
  return token === undefined ? null : tokens.verify(token);
}

export function correlationIdFrom(given: string | null | undefined): string {
  return given && CORRELATION_ID.test(given) ? given : randomUUID();
}

export function createGraphQLServer(
  o: GraphQLServerOptions,
): YogaServerInstance<Record<string, never>, GraphQLContext> {
  const { logger } = o.services;
  return createYoga<Record<string, never>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    plugins: [...(o.plugins ?? [])],
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
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) =>
        logger.error({ err: args[0] }, args.slice(1).map(String).join(' ') || 'GraphQL error'),
    },
    // Unexpected errors reach clients as "Unexpected error." with no stack or SQL.
    maskedErrors: true,
    context: async (initial) => {
      // graphql-ws operations arrive with the principal resolved when the socket opened.
      const ws = (initial as Partial<WebSocketInitialContext>).websocket;
      if (ws)
        return {
          ...o.services,
          principal: ws.principal,
          correlationId: ws.correlationId,
          socket: ws.socket,
          // A subscription lives long: no memoised rows across its events.
          loaders: createLoaders(o.services.db, { cache: false }),
        };
      const { request } = initial;
      const correlationId = correlationIdFrom(request.headers.get('x-correlation-id'));
      let principal: Principal | null;
      try {
        principal = await principalFrom(o.tokens, request.headers.get('authorization'));
      } catch (err) {
        if (err instanceof AuthError) {
          throw new GraphQLError(err.message, {
            extensions: {
              code: err.reason === 'expired' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED',
              http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
            },
          });
        }
        throw err;
      }
      return { ...o.services, principal, correlationId, loaders: createLoaders(o.services.db) };
    },
  });
}
