import { InvalidCursorError } from './errors.js';

/**
 * A position in the log in commit order: the writing transaction's id and the event's
 * global position. Clients only ever see it encoded ({@link encodeCursor}); this is the
 * one place that knows the encoding.
 */
export interface LogPosition {
  /** xid8 as a decimal string (it is 64-bit). */
  transactionId: string;
  globalPosition: number;
}

/** Before the first event. */
export const START: LogPosition = { transactionId: '0', globalPosition: 0 };

const PREFIX = 'c1.';
const MAX_XID8 = 2n ** 64n - 1n;

export function encodeCursor(p: LogPosition): string {
  return (
    PREFIX + Buffer.from(`${p.transactionId}:${p.globalPosition}`, 'utf8').toString('base64url')
  );
}

export function decodeCursor(cursor: string): LogPosition {
  if (typeof cursor !== 'string' || !cursor.startsWith(PREFIX) || cursor.length > 64) {
    throw new InvalidCursorError();
  }
  const body = cursor.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidCursorError();
  const bytes = Buffer.from(body, 'base64url');
  // Only the canonical encoding: Node's decoder silently drops stray trailing characters.
  if (bytes.toString('base64url') !== body) throw new InvalidCursorError();
  const m = /^(\d{1,20}):(\d{1,16})$/.exec(bytes.toString('utf8'));
  if (!m) throw new InvalidCursorError();
  const globalPosition = Number(m[2]);
  if (!Number.isSafeInteger(globalPosition)) throw new InvalidCursorError();
  // xid8 is unsigned 64-bit: PostgreSQL 15 clamps a larger value, PGlite (18) raises.
  const transactionId = BigInt(m[1]!);
  if (transactionId > MAX_XID8) throw new InvalidCursorError();
  // Normalise so that equal positions have equal encodings.
  return { transactionId: transactionId.toString(), globalPosition };
}

/** Orders two positions as the log does: by transaction, then by global position. */
export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  const ta = BigInt(a.transactionId);
  const tb = BigInt(b.transactionId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.globalPosition - b.globalPosition;
}
