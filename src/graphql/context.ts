import type { Principal } from '../auth/principal.js';
import type { CommandHandler } from '../commands/handler.js';
import type { Db } from '../db/types.js';
import type { EventStore } from '../eventstore/store.js';
import type { Logger } from '../observability/logger.js';
import type { ProjectionRuntime } from '../projections/runtime.js';

/** Services shared by all requests, wired once by the composition root. */
export interface Services {
  db: Db;
  store: EventStore;
  commands: CommandHandler;
  /** The read side: projection status, rebuilds and read-your-writes waits. */
  projections: ProjectionRuntime;
  logger: Logger;
  /** The clock: the only source of "now" for commands. */
  now(): Date;
  /** The id generator for entities whose id the client did not choose. */
  newId(): string;
}

/** What every resolver may use; built once per request (or per subscription operation). */
export interface GraphQLContext extends Services {
  /** The authenticated caller; null for an anonymous request. */
  principal: Principal | null;
  /** Ties the events of one request together across services; from `x-correlation-id` or new. */
  correlationId: string;
}
