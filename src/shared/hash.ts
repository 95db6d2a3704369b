import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted, so equal values always give equal text. Fingerprints are
 * stored (processed_commands), so this text must never change: the fast path below writes
 * exactly what {@link canonicalJsonReference} writes, and hands anything unusual to it.
 */
export function canonicalJson(value: unknown): string {
  return fast(value, 0) ?? canonicalJsonReference(value);
}

/** The definition of the canonical text: JSON.stringify with a key-sorting replacer. */
export function canonicalJsonReference(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0,
        ),
      );
    }
    return v;
  });
}

const MAX_FAST_DEPTH = 64;
/** Returned by {@link fast} for a value it leaves to the reference. */
const UNUSUAL = null;
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isArrayIndex = (k: string) => {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9][0-9]*)$/.test(k) && Number(k) < 4_294_967_295;
};

/**
 * The canonical text of plain JSON data (plain objects, arrays, strings, finite numbers,
 * booleans, null, undefined members); null for anything else (toJSON, class instances,
 * boxed primitives, functions, symbols, bigints, non-finite numbers, very deep or circular
 * values), which the caller leaves to the reference.
 */
function fast(v: unknown, depth: number): string | null {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : UNUSUAL;
    case 'object':
      break;
    default:
      return UNUSUAL;
  }
  if (depth >= MAX_FAST_DEPTH) return UNUSUAL;
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return UNUSUAL;
  if (Array.isArray(o)) {
    if (Object.getPrototypeOf(o) !== Array.prototype) return UNUSUAL;
    let s = '[';
    for (let i = 0; i < o.length; i++) {
      const item = o[i];
      const t = item === undefined ? 'null' : fast(item, depth + 1);
      if (t === UNUSUAL) return UNUSUAL;
      s += i === 0 ? t : ',' + t;
    }
    return s + ']';
  }
  const proto = Object.getPrototypeOf(o) as unknown;
  if (proto !== Object.prototype && proto !== null) return UNUSUAL;
  // The reference rebuilds the object from sorted entries, and an object lists its
  // array-index keys first, in numeric order: so those come first here too (Object.keys
  // already lists them so), then the other keys in code-unit order.
  const keys = Object.keys(o);
  let split = 0;
  while (split < keys.length && isArrayIndex(keys[split]!)) split++;
  const sorted =
    split === 0
      ? keys.sort(byCodeUnits)
      : [...keys.slice(0, split), ...keys.slice(split).sort(byCodeUnits)];
  let s = '{';
  let first = true;
  for (const k of sorted) {
    const item = o[k];
    if (item === undefined) continue;
    const t = fast(item, depth + 1);
    if (t === UNUSUAL) return UNUSUAL;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + t;
    first = false;
  }
  return s + '}';
}

/** A stable fingerprint of a JSON-like value (used to recognise a replayed command's input). */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}
