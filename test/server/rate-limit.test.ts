import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startTestApp, useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { wsClient } from '../support/live.js';

const REGISTER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on Error { code } } }`;
const register = (id = randomUUID()) => ({
  i: {
    commandId: randomUUID(),
    id,
    name: 'Rita',
    email: `rita-${randomUUID()}@example.org`,
    phone: '+49 30 1234',
  },
});
/** One command per id in one operation: a point each. */
const registerAll = (ids: string[]) =>
  `mutation { ${ids
    .map(
      (id, n) =>
        `c${n}: registerCustomer(input: { commandId: "${randomUUID()}", id: "${id}", name: "R", email: "r-${randomUUID()}@example.org", phone: "+1 555 0100" }) { __typename }`,
    )
    .join(' ')} }`;

describe(`mutation rate limit on ${engine}`, () => {
  /** 3 mutations per principal per minute. */
  const { t, s } = useTestApp({ env: { STRATA_MUTATIONS_PER_MINUTE: '3' } });

  const exists = async (customerId: string) => {
    const admin = await s.auth({ role: 'admin', userId: `reader-${randomUUID()}` });
    const r = await s.graphql<any>(`{ customer(id: "${customerId}") { id } }`, {}, admin);
    return r.body.data.customer !== null;
  };

  it('defaults to 600 a minute; 0 turns it off', async () => {
    expect(loadConfig({}).mutationsPerMinute).toBe(600);
    const off = await startTestApp(t, { STRATA_MUTATIONS_PER_MINUTE: '0' });
    try {
      const admin = await off.auth({ role: 'admin' });
      for (let i = 0; i < 5; i++) {
        const r = await off.graphql<any>(REGISTER, register(), admin);
        expect(r.body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
      }
    } finally {
      await off.stop();
    }
  });

  it('refuses the mutation over the limit with RATE_LIMITED, 429 and Retry-After; nothing is written', async () => {
    const admin = await s.auth({ role: 'admin' });
    for (let i = 0; i < 3; i++) {
      const r = await s.graphql<any>(REGISTER, register(), admin);
      expect(r.body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
    }
    const id = randomUUID();
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ query: REGISTER, variables: register(id) }),
    });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await res.json()) as any;
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({
      message: expect.stringContaining('STRATA_MUTATIONS_PER_MINUTE'),
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter, max: 3 },
    });
    expect(body.errors[0].extensions.http).toBeUndefined();
    expect(await exists(id)).toBe(false);

    // Queries are not limited, and another principal has its own allowance.
    expect((await s.graphql('{ serverInfo { engine } }', {}, admin)).status).toBe(200);
    const other = await s.auth({ role: 'admin' });
    const r = await s.graphql<any>(REGISTER, register(), other);
    expect(r.body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
  });

  it('counts each mutation field: an operation that would go over is refused whole', async () => {
    const admin = await s.auth({ role: 'admin' });
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const first = await s.graphql<any>(registerAll([a, b]), {}, admin);
    expect(first.body.data).toEqual({
      c0: { __typename: 'RegisterCustomerSuccess' },
      c1: { __typename: 'RegisterCustomerSuccess' },
    });
    // One point left, two asked: neither runs.
    const second = await s.graphql<any>(registerAll([c, d]), {}, admin);
    expect(second.status).toBe(429);
    expect(second.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(await exists(c)).toBe(false);
    expect(await exists(d)).toBe(false);
  });

  it('refuses an operation with more mutations than a minute allows, saying waiting will not help', async () => {
    const admin = await s.auth({ role: 'admin' });
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const r = await s.graphql<any>(registerAll(ids), {}, admin);
    expect(r.status).toBe(429);
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/runs 4 mutations, more than the 3/),
      extensions: { code: 'RATE_LIMITED' },
    });
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  it('keys anonymous callers by their address', async () => {
    // Anonymous mutations are refused by authorization, but they still spend the address's points.
    for (let i = 0; i < 3; i++) {
      const r = await s.graphql<any>(REGISTER, register());
      expect(r.body.data.registerCustomer.__typename).toBe('ForbiddenError');
    }
    const r = await s.graphql<any>(REGISTER, register());
    expect(r.status).toBe(429);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('applies over graphql-ws too, to the same principal', async () => {
    const admin = await s.auth({ role: 'admin', userId: `ws-${randomUUID()}` });
    for (let i = 0; i < 3; i++) {
      const r = await s.graphql<any>(REGISTER, register(), admin);
      expect(r.body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
    }
    const ws = wsClient(s.url, admin.authorization);
    try {
      const id = randomUUID();
      const result = await new Promise<any>((resolve) =>
        ws.client.subscribe(
          { query: REGISTER, variables: register(id) },
          { next: resolve, error: resolve, complete: () => undefined },
        ),
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(result.errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(await exists(id)).toBe(false);
    } finally {
      await ws.dispose();
    }
  });
});
