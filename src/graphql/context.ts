import type { Db } from '../db/types.js';
import type { EventStore } from '../eventstore/store.js';
import type { Logger } from '../observability/logger.js';

/** What every resolver may use; built once per request (or per subscription operation). */
export interface GraphQLContext {
  db: Db;
  store: EventStore;
  logger: Logger;
  /** Ties the events of one request together across services; from `x-correlation-id` or new. */
  correlationId: string;
}
