import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { scrubSecrets } from '../../src/observability/logger.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient } from '../support/live.js';
import { captureLogs } from '../support/logs.js';

const OPERATION = 'graphql operation';
const REGISTER = `mutation Register($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename ... on RegisterCustomerSuccess { cursor customer { id } } } }`;
const EVENTS = `subscription Follow($after: Cursor) { events(after: $after) { cursor type } }`;

describe(`request logs on ${engine}`, () => {
  const logs = captureLogs('trace'); // the most talkative level: nothing may leak even there
  const { s } = useTestApp({ overrides: { logger: logs.logger, fulfillment: false } });
  let admin: { authorization: string };
  /** Every bearer token the test used: none may reach the logs. */
  const tokens: string[] = [];
  beforeAll(async () => {
    admin = await s.auth({ role: 'admin', userId: 'staff-1' });
    tokens.push(admin.authorization.slice('Bearer '.length));
  });

  /** Registers a customer; returns the response and the event's cursor. */
  const register = async () => {
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({
        query: REGISTER,
        variables: {
          i: {
            commandId: randomUUID(),
            name: 'Ann',
            email: `ann-${randomUUID()}@example.org`,
            phone: '+49 30 1234',
          },
        },
      }),
    });
    const body = (await res.json()) as any;
    expect(body.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
    return { res, cursor: body.data.registerCustomer.cursor as string };
  };

  const lineFor = (requestId: string) => {
    const found = logs.withMsg(OPERATION).filter((l) => l.requestId === requestId);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('a query: request id (kept from the client, echoed back), correlation id, principal, name, type, duration, outcome', async () => {
    const customerId = randomUUID();
    const customer = await s.auth({ role: 'customer', customerId, userId: 'shopper-1' });
    tokens.push(customer.authorization.slice('Bearer '.length));
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'req-abc.123',
        'x-correlation-id': 'corr-42',
        ...customer,
      },
      body: JSON.stringify({ query: 'query Me { __typename }', operationName: 'Me' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-abc.123');
    const line = lineFor('req-abc.123');
    expect(line).toMatchObject({
      level: 30,
      service: 'strata',
      requestId: 'req-abc.123',
      correlationId: 'corr-42',
      principal: { userId: 'shopper-1', role: 'customer', customerId },
      operationName: 'Me',
      operationType: 'query',
      transport: 'http',
      outcome: 'ok',
    });
    expect(line.errors).toBeUndefined();
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('an unsafe x-request-id is replaced by a fresh one, which the response names', async () => {
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'a b"c', ...admin },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = lineFor(id);
    expect(line).toMatchObject({ operationName: null, operationType: 'query', outcome: 'ok' });
    expect(line.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a mutation: logged with its type and the admin principal', async () => {
    const { res } = await register();
    const line = lineFor(res.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      principal: { userId: 'staff-1', role: 'admin' },
      operationName: 'Register',
      operationType: 'mutation',
      transport: 'http',
      outcome: 'ok',
    });
    expect(line.principal.customerId).toBeUndefined();
  });

  it('errors are logged with their codes', async () => {
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ query: 'query Broken { noSuchField }' }),
    });
    const line = lineFor(res.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      operationName: 'Broken',
      outcome: 'errors',
      errors: ['GRAPHQL_VALIDATION_FAILED'],
    });
  });

  it('a request refused before it runs names its caller: validation, variables, parse', async () => {
    const customerId = randomUUID();
    const customer = await s.auth({ role: 'customer', customerId, userId: 'shopper-2' });
    tokens.push(customer.authorization.slice('Bearer '.length));
    const cases = [
      { body: { query: 'query Broken { noSuchField }' }, code: 'GRAPHQL_VALIDATION_FAILED' },
      {
        body: {
          query: 'query Bad($s: OrderStatus) { orders(filter: { status: $s }) { totalCount } }',
          variables: { s: 'paid' },
        },
        code: 'BAD_USER_INPUT',
      },
      { body: { query: '{ orders {' }, code: 'GRAPHQL_PARSE_FAILED' },
    ];
    for (const c of cases) {
      const res = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...customer,
        },
        body: JSON.stringify(c.body),
      });
      expect(res.status).toBe(400);
      expect(lineFor(res.headers.get('x-request-id')!), c.body.query).toMatchObject({
        principal: { userId: 'shopper-2', role: 'customer', customerId },
        outcome: 'errors',
        errors: [c.code],
      });
    }
  });

  it('a failed login with a bad token: logged as UNAUTHENTICATED, anonymous, without the token', async () => {
    const forged = `${admin.authorization.slice('Bearer '.length, -6)}AAAAAA`;
    tokens.push(forged);
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` },
      body: JSON.stringify({ query: 'query Who { __typename }' }),
    });
    expect(res.status).toBe(401);
    const line = lineFor(res.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      principal: null,
      operationName: 'Who',
      outcome: 'errors',
      errors: ['UNAUTHENTICATED'],
    });
    // …and over graphql-ws, where the socket is refused.
    const ws = wsClient(s.url, `Bearer ${forged}`);
    expect((await ws.closed).code).toBe(4401);
    await ws.dispose();
  });

  it('a graphql-ws subscription: logged when it ends, with the number of results it sent', async () => {
    const { cursor } = await register();
    await register();
    const ws = wsClient(s.url, admin.authorization);
    const feed = collect<any>(ws, EVENTS, { after: cursor }, 'events');
    await feed.waitFor(1); // the second registration
    feed.stop();
    const line = await waitForLine((l) => l.transport === 'ws' && l.operationName === 'Follow');
    expect(line).toMatchObject({
      principal: { userId: 'staff-1', role: 'admin' },
      operationType: 'subscription',
      outcome: 'ok',
    });
    // What the client received, at least (more may have been sent before it stopped).
    expect(line.results).toBeGreaterThanOrEqual(Math.max(1, feed.items.length));
    expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(line.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    // A query over the same socket is one line of its own.
    const r = await new Promise<any>((resolve, reject) =>
      ws.client.subscribe(
        { query: 'query Ping { __typename }' },
        { next: resolve, error: reject, complete: () => undefined },
      ),
    );
    expect(r.data.__typename).toBe('Query');
    const q = await waitForLine((l) => l.transport === 'ws' && l.operationName === 'Ping');
    expect(q).toMatchObject({ operationType: 'query', outcome: 'ok' });
    await ws.dispose();
  });

  it('an SSE subscription: transport sse', async () => {
    const { cursor } = await register();
    await register();
    const got = await sse<any>(
      s.url,
      EVENTS,
      { after: cursor },
      { ...admin, 'x-request-id': 'sse-1' },
      1,
    );
    expect(got[0].data.events.type).toBe('CustomerRegistered');
    const line = await waitForLine((l) => l.requestId === 'sse-1');
    expect(line).toMatchObject({
      transport: 'sse',
      operationName: 'Follow',
      operationType: 'subscription',
      outcome: 'ok',
    });
  });

  it('no bearer token appears anywhere in the output', async () => {
    // Even a careless log call with a whole request and a connection string.
    s.app.logger.info(
      {
        headers: { authorization: admin.authorization },
        connectionParams: { authorization: admin.authorization },
        config: { databaseUrl: 'postgres://strata:hunter2@db/strata' },
      },
      `retrying with ${admin.authorization} on postgres://strata:hunter2@db/strata`,
    );
    s.app.logger.error(
      { err: new Error(`connect postgres://u:hunter2@h/d failed for ${admin.authorization}`) },
      'boom',
    );
    const out = logs.text();
    expect(out.length).toBeGreaterThan(0);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    for (const token of tokens) expect(out).not.toContain(token);
    expect(out).not.toContain('hunter2');
    expect(out).toContain('[redacted]');
    expect(scrubSecrets('Authorization: Bearer abc.def-ghi_jk')).toBe(
      'Authorization: Bearer [redacted]',
    );
  });

  async function waitForLine(match: (l: Record<string, any>) => boolean, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logs.withMsg(OPERATION).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no matching log line');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});
