import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { CommandHandler } from '../commands/handler.js';
import type { ReadRoute } from '../db/replicas.js';
import type { Db } from '../db/types.js';
import type { EventStore } from '../eventstore/store.js';
import type { Logger } from '../observability/logger.js';
import type { SubscriptionHub } from '../live/hub.js';
import type { ProjectionRuntime } from '../projections/runtime.js';

/** Services shared by all requests, wired once by the composition root. */
export interface Services {
  db: Db;
  store: EventStore;
  commands: CommandHandler;
  /** The read side: projection status, rebuilds and read-your-writes waits. */
  projections: ProjectionRuntime;
  /** Live delivery of the log to subscriptions. */
  live: SubscriptionHub;
  logger: Logger;
  /** The clock: the only source of "now" for commands. */
  now(): Date;
  /** The id generator for entities whose id the client did not choose. */
  newId(): string;
  /** How long a query's read-your-writes wait (`consistentWith`) may take; default 5000 ms. */
  readTimeoutMs?: number;
  /**
   * How long a mutation waits for the read models to reach its command's cursor before it
   * answers with the read model as it stands (`caughtUp: false`); default 1000 ms.
   */
  commandReadWaitMs?: number;
}

/** What every resolver may use; built once per request (or per subscription operation). */
export interface GraphQLContext extends Services {
  /** The authenticated caller; null for an anonymous request. */
  principal: Principal | null;
  /** Ties the events of one request together across services; from `x-correlation-id` or new. */
  correlationId: string;
  /** Per-request DataLoaders over the read models (each feature's `loaders.ts`). */
  loaders: Loaders;
  /**
   * A query's reads when read replicas are configured: `db` and the loaders then read
   * through this route (a replica, or the primary once the request left it), and a
   * read-your-writes wait also waits for the replica. Absent: everything on `db`.
   */
  reads?: ReadRoute;
  /** The graphql-ws socket of a subscription (for back-pressure); absent over HTTP and SSE. */
  socket?: WebSocket;
  /** When the caller's token expires (ms since the epoch): ends SSE subscriptions then. */
  tokenExpiresAt?: number;
}

/**
 * The request's DataLoaders, one entry per kind of row. Empty here on purpose: each feature
 * adds its own by declaration merging (`declare module '../graphql/context.js'` in its
 * `loaders.ts`), so this kernel names no feature and the server assembles them all.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Loaders {}
