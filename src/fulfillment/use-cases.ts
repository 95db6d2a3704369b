import type { CommandEnvelope } from '../commands/handler.js';
import type { UseCaseDeps, UseCaseResult } from '../commands/use-case.js';
import { shipmentIdFor, shipmentStreamId } from './events.js';
import { shipmentDecider } from './shipment.js';

/*
 * Fulfillment's use case for the outside world: a carrier's notice that a shipment
 * arrived. (The process's own commands are sent by the runner.) Who may call it (staff)
 * is the caller's concern.
 */

export interface ShipmentResult extends UseCaseResult {
  orderId: string;
  shipmentId: string;
}

/** Records that the order's shipment reached the customer; a repeated notice changes nothing. */
export async function markShipmentDelivered(
  deps: UseCaseDeps,
  input: { orderId: string },
  envelope: CommandEnvelope,
): Promise<ShipmentResult> {
  const orderId = input.orderId.toLowerCase();
  const shipmentId = shipmentIdFor(orderId);
  const result = await deps.commands.execute(
    shipmentDecider,
    shipmentStreamId(shipmentId),
    { type: 'MarkShipmentDelivered', data: { shipmentId, now: deps.now().toISOString() } },
    envelope,
  );
  return { cursor: result.cursor, version: result.version, orderId, shipmentId };
}
