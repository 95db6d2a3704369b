import { createHash } from 'node:crypto';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `value` is uuid text, in either case. Deciders are stricter: they take only the
 * canonical lower case (`customers/field-checks.ts`), which the API layer folds to.
 */
export const isUuid = (value: unknown): value is string =>
  typeof value === 'string' && UUID.test(value);

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
