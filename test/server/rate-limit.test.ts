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

describe(`read budget on ${engine}`, () => {
  /** 5,000 cost points a minute: a few dozen pages of 100 products. */
  const { s } = useTestApp({
    env: { STRATA_READ_COST_PER_MINUTE: '5000', STRATA_MAX_COST: '5000' },
  });
  const PAGE = `query($n: Int) { products(first: $n) { edges { node { id name } } } }`;

  it('defaults to 300,000 cost points a minute, at least STRATA_MAX_COST; 0 turns it off', () => {
    expect(loadConfig({}).readCostPerMinute).toBe(300_000);
    expect(loadConfig({ STRATA_READ_COST_PER_MINUTE: '0' }).readCostPerMinute).toBe(0);
    expect(() =>
      loadConfig({ STRATA_READ_COST_PER_MINUTE: '1000', STRATA_MAX_COST: '5000' }),
    ).toThrow(/STRATA_READ_COST_PER_MINUTE/);
  });

  it('spends each query’s cost; over the budget RATE_LIMITED with 429 and Retry-After, nothing read', async () => {
    const reader = await s.auth({ role: 'customer', customerId: randomUUID() });
    // Each costs a couple of hundred points (a page of 100): the budget lasts a few dozen.
    let answered = 0;
    let refused: Response | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...reader },
        body: JSON.stringify({ query: PAGE, variables: { n: 100 } }),
      });
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(200);
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(10);
    expect(refused, 'the budget ran out').toBeDefined();
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await refused!.json()) as any;
    expect(body.data ?? null).toBeNull();
    expect(body.errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'STRATA_READ_COST_PER_MINUTE',
      retryAfterSeconds: retryAfter,
    });

    // Another caller has a budget of its own.
    const other = await s.auth({ role: 'customer', customerId: randomUUID() });
    const r = await s.graphql<any>(PAGE, { n: 100 }, other);
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
  });
});

describe(`anonymous callers and the limits on ${engine}`, () => {
  /** 3 mutations and 10 cost points a minute: ten `serverInfo`s. */
  const { s } = useTestApp({
    env: {
      STRATA_MUTATIONS_PER_MINUTE: '3',
      STRATA_READ_COST_PER_MINUTE: '10',
      STRATA_MAX_COST: '10',
    },
  });
  const TEN = `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: serverInfo { engine }`).join(' ')} }`;

  it('refuses a mutation without a token before it spends anything (401, never 429)', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await s.graphql<any>(REGISTER, register());
      expect(r.status).toBe(401);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('keys what anonymous callers may read (serverInfo) by their address', async () => {
    expect((await s.graphql<any>(TEN)).status).toBe(200);
    const r = await s.graphql<any>(TEN);
    expect(r.status).toBe(429);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // A caller with a token has a budget of its own.
    const admin = await s.auth({ role: 'admin' });
    expect((await s.graphql<any>(TEN, {}, admin)).status).toBe(200);
  });
});
