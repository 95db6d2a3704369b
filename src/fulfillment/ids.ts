import { createHash } from 'node:crypto';
import { isUuid } from '../shared/uuid.js';

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
/** Namespace of derived shipment ids; separate, so a shipment id never equals a command id. */
export const SHIPMENT_ID_NAMESPACE = '47e79926-668c-47d5-85f2-528d38cf1354';

/**
 * A name-based uuid as RFC 9562 defines version 5: SHA-1 of the namespace's 16 bytes and
 * the name's UTF-8 bytes, cut to 128 bits with the version and variant bits set. Same
 * namespace and name, same uuid, on every machine. Lower-case, as Strata's ids are.
 */
export function uuidV5(namespace: string, name: string): string {
  if (!isUuid(namespace)) throw new Error(`Not a uuid namespace: ${namespace}`);
  const bytes = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest()
    .subarray(0, 16);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

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

/**
 * The shipment of an order. One order has one shipment, so its id follows from the order
 * id alone: however often the step runs, it addresses the same shipment stream.
 */
export function shipmentIdFor(orderId: string): string {
  return uuidV5(SHIPMENT_ID_NAMESPACE, orderId);
}
