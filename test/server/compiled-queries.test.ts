import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VERIFIED_MAX } from '../../src/auth/tokens.js';
import { DOCUMENTS_MAX } from '../../src/server/yoga.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { seedOrder } from '../support/seed.js';

/*
 * Queries run compiled (graphql-jit, ADR 12). What the compiled path must do as graphql-js
 * does, where graphql-jit alone would not: each operation of a document, a non-null variable
 * left to its default, graphql-js's own errors for variables that do not coerce.
 */

describe(`compiled queries on ${engine}`, () => {
  const { s } = useTestApp();

  it('runs the operation asked for in a document of several, with defaults applied', async () => {
    const seeded = await seedOrder(s);
    const doc = `
      query Info { serverInfo { engine } }
      query One($id: ID! = "${seeded.productId}") { product(id: $id) { id name } }
      query Orders($first: Int = 1) { orders(first: $first) { edges { node { id } } } }`;
    for (let round = 0; round < 2; round++) {
      const info = await s.graphql<any>(doc, {}, { ...seeded.admin });
      // Without operationName a document of several operations is refused by graphql-js.
      expect(info.body.errors?.[0]?.message).toMatch(/Could not determine what operation/);
      const one = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...seeded.admin },
        body: JSON.stringify({ query: doc, operationName: 'One' }),
      });
      expect(await one.json()).toEqual({
        data: { product: { id: seeded.productId, name: 'Mug' } },
      });
      const orders = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...seeded.admin },
        body: JSON.stringify({ query: doc, operationName: 'Orders' }),
      });
      expect(((await orders.json()) as any).data.orders.edges).toHaveLength(1);
      const other = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...seeded.admin },
        body: JSON.stringify({
          query: doc,
          operationName: 'One',
          variables: { id: randomUUID() },
        }),
      });
      expect(await other.json()).toEqual({ data: { product: null } });
    }
  });

  it('answers variables that do not coerce as graphql-js does', async () => {
    const admin = await s.auth({ role: 'admin' });
    const r = await s.graphql<any>(
      'query($f: OrderFilter) { orders(filter: $f) { totalCount } }',
      { f: { status: 'paid' } },
      admin,
    );
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.[0]?.message).toMatch(/Variable "\$f" got invalid value "paid"/);
  });
});

describe(`caches kept for speed on ${engine}`, () => {
  const { s } = useTestApp();

  it('keeps at most DOCUMENTS_MAX parsed documents (and their compiled queries), and says so', async () => {
    const seeded = await seedOrder(s);
    const documents = () => s.app.caches().find((c) => c.name.startsWith('parsed documents'))!;
    expect(documents().max).toBe(DOCUMENTS_MAX);
    const before = documents().entries;
    const ask = async (i: number) => {
      const r = await s.graphql<any>(
        `query Q${i} { product(id: "${seeded.productId}") { id } }`,
        {},
        seeded.admin,
      );
      expect(r.body.data?.product?.id).toBe(seeded.productId);
    };
    for (let i = 0; i < 20; i++) await ask(i);
    expect(documents().entries).toBe(before + 20);
    // Past the bound the least recently used go; the count stays at the bound.
    for (let i = 20; i < DOCUMENTS_MAX + 30; i += 10)
      await Promise.all(Array.from({ length: 10 }, (_, k) => ask(i + k)));
    expect(documents().entries).toBe(DOCUMENTS_MAX);
    const tokens = s.app.caches().find((c) => c.name === 'verified tokens')!;
    expect(tokens).toMatchObject({ max: VERIFIED_MAX });
    expect(tokens.entries).toBeGreaterThanOrEqual(1);
    const prepared = s.app.caches().find((c) => c.name.startsWith('prepared statement texts'));
    if (s.app.db.engine === 'postgres') expect(prepared!.entries).toBeGreaterThan(0);
    else expect(prepared).toBeUndefined();
  });
});
