import { describe, expect, it } from 'vitest';
import {
  COMMAND_ID_NAMESPACE,
  deriveCommandId,
  SHIPMENT_ID_NAMESPACE,
  shipmentIdFor,
} from '../../src/fulfillment/index.js';
import { UUID } from '../../src/shared/field-checks.js';
import { uuidV5 } from '../../src/shared/uuid.js';

const eventId = 'eeeeeeee-0000-4000-8000-000000000001';
const orderId = '9e4f5a60-1b2c-4d3e-8f70-a1b2c3d4e5f6';

describe('derived ids', () => {
  it('are RFC 9562 version 5 uuids', () => {
    // The DNS namespace example that Python's uuid module documents.
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe(
      '886313e1-3b8a-5372-9b90-0c9aee199e5d',
    );
    expect(() => uuidV5('not-a-uuid', 'x')).toThrow(/namespace/);
  });

  it('give the same command id for the same cause and step, and only for them', () => {
    const id = deriveCommandId(eventId, 'refund');
    expect(id).toMatch(UUID);
    expect(deriveCommandId(eventId, 'refund')).toBe(id);
    expect(deriveCommandId(eventId, 'create-shipment')).not.toBe(id);
    expect(deriveCommandId('eeeeeeee-0000-4000-8000-000000000002', 'refund')).not.toBe(id);
    // The two parts cannot slide into each other.
    expect(deriveCommandId('a:b', 'c')).not.toBe(deriveCommandId('a', 'b:c'));
    expect(deriveCommandId(eventId, 'refund')).toBe(
      uuidV5(COMMAND_ID_NAMESPACE, JSON.stringify([eventId, 'refund'])),
    );
  });

  it('give an order one shipment id, in its own namespace', () => {
    const id = shipmentIdFor(orderId);
    expect(id).toMatch(UUID);
    expect(shipmentIdFor(orderId)).toBe(id);
    expect(shipmentIdFor('b2222222-2222-4222-8222-222222222222')).not.toBe(id);
    expect(id).toBe(uuidV5(SHIPMENT_ID_NAMESPACE, orderId));
    expect(COMMAND_ID_NAMESPACE).not.toBe(SHIPMENT_ID_NAMESPACE);
  });
});
