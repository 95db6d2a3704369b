import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  GraphQLError,
  isIntrospectionType,
  type ASTVisitor,
  type ValidationContext,
} from 'graphql';
import {
  createYoga,
  maskError,
  type CORSOptions,
  type Plugin,
  type YogaServerInstance,
} from 'graphql-yoga';
import { isTransientDatabaseError } from '../db/index.js';
import type { Config } from '../config/config.js';
import type { Principal } from '../auth/principal.js';
import type { TokenService } from '../auth/tokens.js';
import type { WebSocket } from 'ws';
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { GraphQLContext, Services } from '../graphql/context.js';
import { EXAMPLE_QUERY, renderGraphiQL } from './graphiql.js';
import { useCaller, type Caller } from './caller.js';
import { useCompiledQueries } from './compiled-queries.js';
import { useCsrfPreventionExceptGet } from './csrf.js';
import { useErrorCodes } from './error-codes.js';
import { limitPlugins } from './limits.js';
import { createLoaders } from './loaders.js';
import { useMutationRateLimit, useReadBudget } from './rate-limit.js';
import { useSubscriptionCaps } from './subscription-caps.js';
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
  /** Parsed documents by their text (see {@link createDocumentCache}). */
  documents?: DocumentCache;
}

export type DocumentCache = LRUCache<string, DocumentNode>;

/** Documents parsed once and kept: how many distinct query texts a process remembers. */
export const DOCUMENTS_MAX = 1_000;

/**
 * yoga's parse cache, made here so that its size can be shown (`App.caches`). What is
 * worked out per document (compiled queries, the input gate's sites) is kept with the
 * document, so this bound is theirs too. Same policy as yoga's own: least recently used
 * goes first, and an hour unused at most.
 */
export const createDocumentCache = (): DocumentCache =>
  new LRUCache<string, DocumentNode>({ max: DOCUMENTS_MAX, ttl: 3_600_000 });

const CORRELATION_ID = /^[\w.:-]{1,128}$/;

export function correlationIdFrom(given: string | null | undefined): string {
  return given && CORRELATION_ID.test(given) ? given : randomUUID();
}

/**
 * Refuses `__schema` and `__type` (not `__typename`). graphql-js's own rule says the same,
 * but without a code or the setting; yoga's disable-introspection plugin decides per HTTP
 * request, so it would let graphql-ws operations through.
 */
function noIntrospection(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      const type = context.getType();
      if (type && isIntrospectionType(getNamedType(type)))
        context.reportError(
          new GraphQLError(
            `Introspection is off (field "${node.name.value}"): set STRATA_INTROSPECTION=true to allow it`,
            { nodes: node, extensions: { code: 'INTROSPECTION_DISABLED' } },
          ),
        );
    },
  };
}

/**
 * The yoga/envelop plugins that guard the server, for HTTP and graphql-ws alike (ws.ts
 * runs operations through `getEnveloped`). Production mode (`config.production`) turns on
 * CSRF prevention; introspection and GraphiQL follow their own settings, which default to
 * off in production.
 */
export function guardPlugins(config: Config): Plugin[] {
  const plugins: Plugin[] = [];
  // Browsers send a cross-site form POST without a preflight; requiring a JSON content
  // type or the x-graphql-yoga-csrf header stops it from running. GETs pass (ADR 15).
  if (config.production) plugins.push(useCsrfPreventionExceptGet());
  if (!config.introspection)
    plugins.push({ onValidate: (v) => v.addValidationRule(noIntrospection) });
  plugins.push(
    ...limitPlugins(config),
    useMutationRateLimit(config),
    useReadBudget(config),
    useSubscriptionCaps(config),
  );
  return plugins;
}

/**
 * CORS (README, "Production mode"): the origins of `STRATA_CORS_ORIGINS` get their own
 * origin back, any other gets no CORS header at all (so the browser keeps the answer from
 * the page); without the setting, any origin in development and none in production. Never
 * `Access-Control-Allow-Credentials`: the API reads tokens from a header, never cookies.
 */
export function corsFor(
  config: Pick<Config, 'corsOrigins' | 'production'>,
): (request: Request) => CORSOptions {
  const listed = config.corsOrigins;
  const any = listed ? listed.includes('*') : !config.production;
  const allowed = new Set(listed ?? []);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !(any || allowed.has(origin))) return false;
    return { origin: [origin], credentials: false, maxAge: 600 };
  };
}

/**
 * The answer to a request that met a transient database failure: nothing about the request
 * was wrong. A command may or may not have been applied; sent again with the same
 * commandId it takes effect at most once and answers as its first run did.
 */
export function unavailableError(): GraphQLError {
  return new GraphQLError(
    'The database was briefly unavailable. Send the same request again: a mutation with the same commandId takes effect at most once, so retrying it is safe even if it was applied.',
    { extensions: { code: 'UNAVAILABLE', retryable: true } },
  );
}

/** Answers depend on `Origin` (CORS): shared caches must keep them apart. */
const varyByOrigin: Plugin = {
  onResponse({ request, response }) {
    if (request.headers.get('origin') === null) return;
    const vary = response.headers.get('vary');
    if (!vary?.split(',').some((v) => v.trim().toLowerCase() === 'origin')) {
      response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
    }
  },
};

export function createGraphQLServer(
  o: GraphQLServerOptions,
): YogaServerInstance<Record<string, never>, GraphQLContext> {
  const { logger } = o.services;
  return createYoga<Record<string, never>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    plugins: [
      // First: every later hook (the request log's too) sees errors with their codes.
      useErrorCodes(),
      ...(o.plugins ?? []),
      useCaller(o.tokens),
      ...guardPlugins(o.config),
      varyByOrigin,
      useCompiledQueries(),
    ],
    parserAndValidationCache: { documentCache: o.documents ?? createDocumentCache() },
    // Bounded by limitPlugins instead: its 413 names the setting and closes the connection.
    maxRequestBodySize: false,
    cors: corsFor(o.config),
    // GraphiQL with every asset served by this server (app.ts): no CDN.
    renderGraphiQL,
    graphiql: o.config.graphiql
      ? {
          title: 'Strata GraphiQL',
          defaultQuery: EXAMPLE_QUERY,
          ...(o.devToken
            ? { headers: JSON.stringify({ Authorization: `Bearer ${o.devToken}` }, null, 2) }
            : {}),
        }
      : false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) =>
        logger.error({ err: args[0] }, args.slice(1).map(String).join(' ') || 'GraphQL error'),
    },
    // Unexpected errors reach clients as "Unexpected error." with no stack or SQL, whatever
    // NODE_ENV says (yoga would add both for NODE_ENV=development); the log has the detail.
    // A lost connection or a server shutting down is not unexpected: the client is told
    // to retry (UNAVAILABLE), a command with the same commandId (src/db/errors.ts).
    maskedErrors: {
      isDev: false,
      maskError: (error, message, isDev) =>
        isTransientDatabaseError(error) ? unavailableError() : maskError(error, message, isDev),
    },
    context: (initial) => {
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
      // The caller, as useCaller found it before the document was parsed.
      const { principal = null, tokenExpiresAt } = initial as Partial<Caller>;
      return {
        ...o.services,
        principal,
        correlationId,
        loaders: createLoaders(o.services.db),
        ...(tokenExpiresAt !== undefined ? { tokenExpiresAt } : {}),
      };
    },
  });
}
