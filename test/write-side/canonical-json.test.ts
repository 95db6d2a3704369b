import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonReference, fingerprint } from '../../src/shared/hash.js';

/**
 * Fingerprints are stored with every command id, so the canonical text may never change:
 * the fast path must write exactly what the reference (JSON.stringify with a key-sorting
 * replacer) writes, including its quirks, and hand everything unusual to it.
 */
describe('canonicalJson', () => {
  const nullProto = Object.assign(Object.create(null) as object, { b: 1, a: [1, undefined, 'x'] });
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = { a: deep, b: [i] };
  const cases: [string, unknown][] = [
    ['primitives', [null, 1, -0, 1.5e300, 'x\u2028"\\', true, false, '']],
    ['empty containers', [[], {}, [[]], { a: {} }]],
    ['undefined members and items', { b: undefined, a: 1, c: [undefined, null] }],
    [
      'array-index keys first, in numeric order, then code-unit order',
      { 10: 'a', 9: 'b', a: 1, B: 2, _: 3, '': 4, '01': 5, '4294967295': 6, '4294967294': 7 },
    ],
    ['non-ASCII and lone surrogate keys', { é: 1, e: 2, '\ud800': 3, 'z\u0301': 4 }],
    ['null-prototype objects', nullProto],
    ['an own __proto__ key', JSON.parse('{"__proto__": {"z": 1}, "a": 2}')],
    ['dates (toJSON)', { d: new Date(0) }],
    ['objects with toJSON', { x: { toJSON: () => 'x' } }],
    ['non-finite numbers', { n: NaN, i: -Infinity }],
    ['functions and symbols', { f: () => 1, s: Symbol('s'), a: [() => 1] }],
    ['boxed primitives', { x: new Number(3), y: [new String('s')], z: new Boolean(false) }],
    ['class instances', { m: new Map([[1, 2]]), u: new URL('https://example.com') }],
    ['deep values', deep],
    [
      'a command input',
      {
        op: 'createOrder',
        userId: 'u',
        input: { lines: [{ sku: 'A', quantity: 2, unitPrice: 1999 }], note: null },
      },
    ],
  ];
  it.each(cases)('writes what the reference writes: %s', (_, value) => {
    expect(canonicalJson(value)).toBe(canonicalJsonReference(value));
  });

  it('fails like the reference on circular values and bigints', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const failure = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as Error).constructor;
      }
      return undefined;
    };
    for (const value of [circular, { n: 1n }]) {
      const expected = failure(() => canonicalJsonReference(value));
      expect(expected).toBeDefined();
      expect(failure(() => canonicalJson(value))).toBe(expected);
    }
  });

  it('keeps a fingerprint of plain data unchanged', () => {
    expect(fingerprint({ b: [1, { d: 'x', c: null }], a: true })).toBe(
      fingerprint(JSON.parse(canonicalJsonReference({ a: true, b: [1, { c: null, d: 'x' }] }))),
    );
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: true })).toBe(
      '{"a":true,"b":[1,{"c":null,"d":"x"}]}',
    );
  });
});
