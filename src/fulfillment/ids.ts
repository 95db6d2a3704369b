import { uuidV5 } from '../shared/uuid.js';

export { SHIPMENT_ID_NAMESPACE, shipmentIdFor } from './events.js';

/*
 * Ids the fulfillment process derives instead of drawing at random. A process step that
 * runs again (a re-delivered event, a restart after a crash) must send the very same
 * command, and the command side recognises a replay by its command id; a random id would
 * make every re-run a new command.
 */

/**
 * Namespace of derived command ids. Fixed for good: changing it changes every derived id,
 * and a process that resumes would then send its pending steps again under new ids.
 */
export const COMMAND_ID_NAMESPACE = 'cc9fe21d-6e2f-4db3-98f7-bdccb7df0257';

/**
 * The id of the command a process step sends: derived from what caused the step (the id
 * of a log event, or the id of an earlier command whose outcome the step answers) and the
 * step itself (`reserve-stock:<productId>`, `refund` …). One cause may lead to several
 * steps, each with its own id; the same cause and step always give the same id.
 */
export function deriveCommandId(causationId: string, step: string): string {
  // A JSON pair keeps the two parts apart whatever characters they hold.
  return uuidV5(COMMAND_ID_NAMESPACE, JSON.stringify([causationId, step]));
}
