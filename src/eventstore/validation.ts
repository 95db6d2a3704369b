import { InvalidInputError } from './errors.js';
import { isUuid } from '../shared/uuid.js';

const MAX_ID_LENGTH = 255;

export function checkName(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new InvalidInputError(field, 'must be a non-empty string');
  }
  if (value.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(field, `must be at most ${MAX_ID_LENGTH} characters`);
  }
}

export function checkUuid(field: string, value: unknown): asserts value is string {
  if (!isUuid(value)) throw new InvalidInputError(field, 'must be a uuid');
}

export function checkPositiveInt(field: string, value: unknown, min = 0): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidInputError(field, `must be a whole number ≥ ${min}`);
  }
}

/**
 * Serialises a payload strictly: only what round-trips through jsonb unchanged (plain
 * objects, arrays, strings, finite numbers, booleans, null; undefined object members are
 * dropped as JSON does). Returns the JSON text so its size can be checked.
 */
export function toJson(field: string, value: unknown, maxBytes: number): string {
  const seen = new Set<object>();
  const check = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'boolean') return;
    if (typeof v === 'string') {
      // jsonb cannot store U+0000.
      if (v.includes('\u0000')) throw new InvalidInputError(path, 'contains a NUL character');
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new InvalidInputError(path, 'is not a finite number');
      return;
    }
    if (typeof v !== 'object')
      throw new InvalidInputError(path, `is a ${typeof v}, which JSON cannot hold`);
    if (seen.has(v)) throw new InvalidInputError(path, 'is circular');
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      throw new InvalidInputError(
        path,
        'is not a plain object (use strings for dates and the like)',
      );
    }
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((item, i) => check(item, `${path}[${i}]`));
    } else {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\u0000'))
          throw new InvalidInputError(path, 'has a key with a NUL character');
        if (item !== undefined) check(item, `${path}.${k}`);
      }
    }
    seen.delete(v);
  };
  if (value === undefined) throw new InvalidInputError(field, 'is missing');
  // The common case is checked without building a path per member; anything it refuses (or
  // finds too deep to tell) is walked again by `check`, which names the offending member.
  if (!plainJson(value, 0)) check(value, field);
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes)
    throw new InvalidInputError(field, `is ${bytes} bytes, over the limit of ${maxBytes}`);
  return json;
}

const MAX_PLAIN_DEPTH = 64;

/** What `toJson`'s `check` accepts, without paths; false also when deeper than 64 levels. */
function plainJson(v: unknown, depth: number): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'boolean':
      return true;
    case 'string':
      return !v.includes('\u0000');
    case 'number':
      return Number.isFinite(v);
    case 'object':
      break;
    default:
      return false;
  }
  if (depth >= MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!plainJson(v[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k.includes('\u0000')) return false;
    const item = o[k];
    if (item !== undefined && !plainJson(item, depth + 1)) return false;
  }
  return true;
}
