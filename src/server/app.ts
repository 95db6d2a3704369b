import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import { openDb } from '../db/index.js';
import { migrate } from '../db/migrate.js';
import { ReadReplicas } from '../db/replicas.js';
import type { Db } from '../db/types.js';
import { devTokens, resolveSecret, type DevTokens } from '../auth/dev.js';
import { createTokenService, VERIFIED_MAX, type TokenService } from '../auth/tokens.js';
import { CommandHandler } from '../commands/handler.js';
import { SnapshotStore } from '../eventstore/snapshots.js';
import { EventStore } from '../eventstore/store.js';
import { SharedReads } from '../eventstore/shared-reads.js';
import type { Services } from '../graphql/context.js';
import { createDocumentCache, createGraphQLServer, DOCUMENTS_MAX } from './yoga.js';
import { codeForStatus, errorBody } from './error-codes.js';
import { MAX_PREPARED, preparedStatementTexts } from '../db/postgres.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { requestLogPlugin } from '../observability/request-log.js';
import { useReadReplicas } from './read-replicas.js';
import { logged, shutDownHttp, trackRequests } from './shutdown.js';
import { SubscriptionHub } from '../live/hub.js';
import { EVENTS_CHANNEL, Notifier } from '../eventstore/notifier.js';
import { attachWebSocketServer } from './ws.js';
import { serveGraphiQL } from './graphiql.js';
import { orderCustomerEnricher } from '../orders/live.js';
import { ProjectionRuntime } from '../projections/runtime.js';
import { allProjections } from './projections.js';
import { eventUpcasters } from './upcasters.js';
import { fulfillmentProcess, startDeadlineTimer } from '../fulfillment/runner.js';

export interface AppOverrides {
  logger?: Logger;
  /** A database opened elsewhere (tests); the app then does not close it. */
  db?: Db;
  /** The clock (tests may pin it). */
  now?: () => Date;
  /** The id generator for server-chosen ids. */
  newId?: () => string;
  /** Live delivery limits (tests shrink them). */
  live?: { bufferSize?: number; maxSocketBacklog?: number };
  /** Runs the fulfillment process manager (default true); tests of the bare write side turn it off. */
  fulfillment?: boolean;
  /** A token for GraphiQL's headers tab when not in development mode (the browser test). */
  graphiqlToken?: string;
}

export interface CacheSize {
  name: string;
  entries: number;
  max: number;
}

export interface App {
  readonly config: Config;
  readonly db: Db;
  /** The read replicas queries read from (DATABASE_READ_URL); undefined without. */
  readonly replicas: ReadReplicas | undefined;
  readonly store: EventStore;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly services: Services;
  readonly notifier: Notifier;
  readonly projections: ProjectionRuntime;
  readonly tokens: TokenService;
  /** Tokens printed at start in development mode (no secret configured, embedded engine). */
  readonly devTokens: DevTokens | undefined;
  /** The process's caches kept for speed, each with its bound: entries now and at most. */
  caches(): CacheSize[];
  /** Listens on the configured port; resolves with the base URL. */
  start(): Promise<string>;
  /** Releases everything in reverse order of acquisition. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Who may scrape `/metrics` (operation names, lag, process data): with
 * `STRATA_METRICS_TOKEN`, a request bearing it; without, anyone in development and no one
 * in production.
 */
export function metricsRefusal(
  config: Pick<Config, 'metricsToken' | 'production'>,
  authorization: string | undefined,
): { status: 401 | 403; message: string } | null {
  const expected = config.metricsToken;
  if (expected === undefined) {
    return config.production
      ? {
          status: 403,
          message: '/metrics is off in production mode until STRATA_METRICS_TOKEN is set',
        }
      : null;
  }
  const given = Buffer.from(authorization?.startsWith('Bearer ') ? authorization.slice(7) : '');
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want)
    ? null
    : { status: 401, message: '/metrics needs Authorization: Bearer <STRATA_METRICS_TOKEN>' };
}

/**
 * The composition root: wires configuration, logging, metrics, the database, the event
 * store and the HTTP/GraphQL server. Nothing else constructs these.
 */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  const cleanups: (() => Promise<void>)[] = [];
  const db = overrides.db ?? (await openDb(config, logger));
  if (!overrides.db) cleanups.push(logged(logger, 'db', 'database pool closed', () => db.close()));

  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  } catch (err) {
    await runCleanups(cleanups, logger);
    throw err;
  }

  // Queries' reads only; whatever else reads or writes keeps the primary (ADR 17).
  const replicas =
    db.engine === 'postgres' && config.databaseReadUrls.length > 0
      ? ReadReplicas.open(db, config.databaseReadUrls, {
          statementTimeoutMs: config.statementTimeoutMs,
          idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs,
          waitMs: config.replicaWaitMs,
          logger,
        })
      : undefined;
  if (replicas) {
    logger.info(
      { replicas: replicas.status().map((r) => r.name), waitMs: config.replicaWaitMs },
      'queries read from read replicas',
    );
    cleanups.push(logged(logger, 'replicas', 'read replica pools closed', () => replicas.close()));
  }

  const notifier = new Notifier(db, logger);
  const store = new EventStore(db, {
    upcasters: eventUpcasters(),
    maxEventBytes: config.maxEventBytes,
    onAppend: metrics.recordAppend,
    afterCommit: () => notifier.announce(EVENTS_CHANNEL),
  });
  // One clock for every command: the use cases' and the fulfillment process's steps.
  const now = overrides.now ?? (() => new Date());
  const commands = new CommandHandler(store, new SnapshotStore(db), {
    snapshotEvery: config.snapshotEvery,
    onError: (err, context) => logger.warn({ err, ...context }, 'command side effect failed'),
  });
  // The fulfillment process manager reads the log like a projection, in `effects` mode.
  const fulfillment = fulfillmentProcess(commands, store, {
    logger,
    now,
    reservationTimeoutMs: config.reservationTimeoutMs,
    onStepFailure: metrics.recordStepFailure,
  });
  // One reader of the log for the projection runners and the live hub of this process.
  const sharedReads = new SharedReads(store);
  // Set once the HTTP server exists: a rebuild gives way while requests are answered.
  let serving = (): boolean => false;
  const projections = new ProjectionRuntime(
    db,
    store,
    notifier,
    overrides.fulfillment === false ? allProjections() : [...allProjections(), fulfillment],
    logger,
    {
      onBatch: (name, events, seconds) => metrics.recordProjectionBatch(name, events, seconds),
      sharedReads,
      serving: () => serving(),
    },
  );
  const live = new SubscriptionHub(store, notifier, logger, {
    enrich: orderCustomerEnricher(store),
    sharedReads,
    ...overrides.live,
  });
  const services: Services = {
    db,
    store,
    commands,
    projections,
    live,
    logger,
    now,
    newId: overrides.newId ?? randomUUID,
    commandReadWaitMs: config.commandReadWaitMs,
  };

  let tokens: TokenService;
  let dev: DevTokens | undefined;
  try {
    if (config.authJwksUrl) {
      tokens = createTokenService({ jwksUrl: config.authJwksUrl });
    } else {
      const secret = await resolveSecret(config);
      tokens = createTokenService({ secret: secret.secret });
      dev = secret.development ? await devTokens(tokens) : undefined;
    }
  } catch (err) {
    await runCleanups(cleanups, logger);
    throw err;
  }
  const documents = createDocumentCache();
  const yoga = createGraphQLServer({
    config,
    services,
    tokens,
    documents,
    plugins: [
      requestLogPlugin({ logger, metrics }),
      ...(replicas ? [useReadReplicas(replicas)] : []),
    ],
    ...(dev
      ? { devToken: dev.admin }
      : overrides.graphiqlToken
        ? { devToken: overrides.graphiqlToken }
        : {}),
  });

  let lastRequestAt = 0;
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      logger.error({ err }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody('INTERNAL_SERVER_ERROR', 'Unexpected error.'));
    });
  });
  const requests = trackRequests(server);
  // Serving: a request in flight, or a GraphQL request within the last second (a client
  // between two requests is still there; health checks and scrapes do not count).
  serving = () => requests.inFlight() > 0 || Date.now() - lastRequestAt < 1_000;
  metrics.instrumentHttp(server);

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      const health = await checkHealth(db, projections);
      res.writeHead(health.status === 'ok' ? 200 : 503, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(health));
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      const refused = metricsRefusal(config, req.headers.authorization);
      if (refused) {
        res.writeHead(refused.status, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          ...(refused.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
        });
        res.end(errorBody(codeForStatus(refused.status), refused.message));
        return;
      }
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (path === '/health' || path === '/metrics') {
      // Else yoga would answer: its own health check (200 to any method) or a 404.
      const allow = path === '/health' ? 'GET, HEAD' : 'GET';
      res.writeHead(405, { 'content-type': 'application/json', allow });
      res.end(errorBody('METHOD_NOT_ALLOWED', `${path} answers ${allow} only`));
      return;
    }
    if (await serveGraphiQL(req, res, config)) return;
    lastRequestAt = Date.now();
    res.once('close', () => (lastRequestAt = Date.now()));
    await yoga.requestListener(req, res);
  }

  try {
    await notifier.start();
    cleanups.push(logged(logger, 'listen', 'LISTEN connection released', () => notifier.stop()));
    await projections.start();
    cleanups.push(
      logged(logger, 'projections', 'projections stopped at a checkpoint', () =>
        projections.stop(),
      ),
    );
    await live.start();
    cleanups.push(() => live.stop());
    if (overrides.fulfillment !== false) {
      // Checked a few times per timeout: a late order is flagged within 1.25× the limit.
      const interval = Math.min(60_000, Math.max(50, Math.floor(config.reservationTimeoutMs / 4)));
      const deadlines = startDeadlineTimer(fulfillment, { intervalMs: interval, logger });
      cleanups.push(() => deadlines.stop());
    }
  } catch (err) {
    await runCleanups(cleanups, logger);
    throw err;
  }
  metrics.observeProjections(() => projections.status());
  metrics.observeReaderHorizon(() => store.oldestWriter());
  metrics.observeLive(live);
  metrics.observeNotifier(notifier);
  if (replicas) metrics.observeReads(replicas);

  let stopped = false;
  return {
    config,
    db,
    replicas,
    store,
    metrics,
    logger,
    services,
    notifier,
    projections,
    tokens,
    devTokens: dev,
    caches: () => [
      // Compiled queries and each document's input-gate sites are kept with the document.
      {
        name: 'parsed documents (with their compiled queries)',
        entries: documents.size,
        max: DOCUMENTS_MAX,
      },
      { name: 'verified tokens', entries: tokens.remembered(), max: VERIFIED_MAX },
      ...(db.engine === 'postgres'
        ? [
            {
              name: 'prepared statement texts (each connection prepares those it runs)',
              entries: preparedStatementTexts(),
              max: MAX_PREPARED,
            },
          ]
        : []),
    ],
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const ws = attachWebSocketServer(server, yoga, tokens, logger, {
        connectionInitTimeoutMs: config.ws.initTimeoutMs,
        keepAliveMs: config.ws.pingIntervalMs,
        maxPayloadBytes: config.ws.maxMessageBytes,
      });
      // Stopped first: in-flight requests are answered, subscribers get a resumable close.
      cleanups.push(() =>
        shutDownHttp({ server, requests, ws, live, logger, timeoutMs: config.shutdownTimeoutMs }),
      );
      const { port } = server.address() as AddressInfo;
      return `http://localhost:${port}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await runCleanups(cleanups, logger);
    },
  };
}

async function runCleanups(cleanups: (() => Promise<void>)[], logger: Logger) {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      logger.warn({ err }, 'error during shutdown');
    }
  }
  cleanups.length = 0;
}

export interface Health {
  status: 'ok' | 'unavailable';
  engine: string;
  database: 'up' | 'down';
  error?: string;
  /** The active generation of each projection: its state and lag. */
  projections?: { name: string; state: string; eventsBehind: number; secondsBehind: number }[];
}

async function checkHealth(db: Db, projections: ProjectionRuntime): Promise<Health> {
  const within2s = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('database did not answer within 2 s')), 2_000).unref(),
      ),
    ]);
  try {
    await within2s(db.query('SELECT 1'));
    const status = await within2s(projections.status()).catch(() => []);
    return {
      status: 'ok',
      engine: db.engine,
      database: 'up',
      projections: status
        .filter((p) => p.active)
        .map((p) => ({
          name: p.name,
          state: p.phase,
          eventsBehind: p.eventsBehind,
          secondsBehind: Math.round(p.secondsBehind * 1000) / 1000,
        })),
    };
  } catch (err) {
    return {
      status: 'unavailable',
      engine: db.engine,
      database: 'down',
      error: (err as Error).message,
    };
  }
}
