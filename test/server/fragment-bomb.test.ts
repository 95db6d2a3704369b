import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';

/**
 * Fragments spread into each other twice per level: a few hundred bytes that name 2^n
 * selections. The limits must check such a document in time proportional to its size
 * (each fragment walked once), or one anonymous request would hold the event loop for
 * minutes. With n = 60 a walk per spread would never end: the test would time out.
 */
function bomb(operation: 'query' | 'mutation', levels: number): string {
  const on = operation === 'query' ? 'Query' : 'Mutation';
  const lines = [`${operation} Bomb { ...F${levels} }`, `fragment F0 on ${on} { __typename }`];
  for (let i = 1; i <= levels; i++)
    lines.push(`fragment F${i} on ${on} { ...F${i - 1} ...F${i - 1} }`);
  return lines.join('\n');
}

describe(`nested fragment spreads on ${engine}`, () => {
  // The rate limit counts a mutation's fields: on, so its walk runs too.
  const { s } = useTestApp({
    env: { STRATA_MUTATIONS_PER_MINUTE: '60' },
    overrides: { fulfillment: false },
  });

  it('a query of 60 doubling fragments is checked at once (and is cheap: only __typename)', async () => {
    const r = await s.graphql<any>(bomb('query', 60), {});
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('a mutation of 60 doubling fragments is counted at once by the rate limit', async () => {
    const admin = await s.auth({ role: 'admin' });
    const r = await s.graphql<any>(bomb('mutation', 60), {}, admin);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).toEqual({ __typename: 'Mutation' });
  });

  it('the cost of a fragment spread many times is counted every time', async () => {
    // 2^12 spreads of a page of 100 products: far over the cost limit, refused unrun.
    const levels = 12;
    const lines = [
      `query Costly { ...F${levels} }`,
      'fragment F0 on Query { products(first: 100) { edges { node { id } } } }',
    ];
    for (let i = 1; i <= levels; i++)
      lines.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    // With a token: without one, a private field is refused first (UNAUTHENTICATED).
    const r = await s.graphql<any>(lines.join('\n'), {}, await s.auth({ role: 'admin' }));
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });
});
