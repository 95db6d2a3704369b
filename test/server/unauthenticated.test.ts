import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { wsClient } from '../support/live.js';

/*
 * One answer for a missing and a bad token (README, "Tokens"): an operation that needs a
 * caller is refused whole, before anything runs, with 401, `WWW-Authenticate: Bearer` and
 * a JSON body whose one error is UNAUTHENTICATED (TOKEN_EXPIRED for an expired token),
 * over HTTP and SSE; graphql-ws closes the socket with 4401. What is public stays public:
 * `serverInfo`, `__typename` and introspection answer without a token.
 */

const REGISTER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename } }`;

describe(`a missing and a bad token get one answer, on ${engine}`, () => {
  const { s } = useTestApp();
  const callers: Record<string, Record<string, string>> = {};

  beforeAll(async () => {
    callers['no token'] = {};
    callers['an empty header'] = { authorization: '' };
    callers['a garbage token'] = { authorization: 'Bearer not.a.jwt' };
    callers['another scheme'] = { authorization: 'Basic YWRtaW46YWRtaW4=' };
    const forger = createTokenService({ secret: 'another-secret-another-secret-0123456789' });
    callers['a forged token'] = {
      authorization: `Bearer ${await forger.mint({ userId: 'evil', role: 'admin' })}`,
    };
    callers['an expired token'] = await s.auth({ role: 'admin' }, -60);
  });

  const operations = () => {
    const id = randomUUID();
    return {
      query: { query: '{ orders { totalCount } }' },
      'a query with serverInfo beside a private field': {
        query: '{ serverInfo { engine } products { totalCount } }',
      },
      mutation: {
        query: REGISTER,
        variables: {
          i: {
            commandId: randomUUID(),
            id,
            name: 'Ann',
            email: `ann-${id}@example.org`,
            phone: '+49 30 1',
          },
        },
      },
      customerId: id,
    };
  };

  it('over HTTP: 401, WWW-Authenticate: Bearer, a JSON body, nothing run or written', async () => {
    for (const [who, headers] of Object.entries(callers)) {
      const { customerId, ...ops } = operations();
      for (const [what, op] of Object.entries(ops)) {
        const res = await fetch(`${s.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(op),
        });
        const at = `${what}, ${who}`;
        expect(res.status, at).toBe(401);
        expect(res.headers.get('www-authenticate'), at).toBe('Bearer');
        expect(res.headers.get('content-type'), at).toMatch(/^application\/json/);
        const body = (await res.json()) as any;
        expect(body.data ?? null, at).toBeNull();
        expect(body.errors, at).toHaveLength(1);
        expect(body.errors[0].extensions.code, at).toBe(
          who === 'an expired token' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED',
        );
      }
      const admin = await s.auth({ role: 'admin' });
      const written = await s.graphql<any>(`{ customer(id: "${customerId}") { id } }`, {}, admin);
      expect(written.body.data.customer, who).toBeNull();
    }
  });

  it('over SSE: the same 401 and error, for a subscription and a query', async () => {
    for (const [who, headers] of Object.entries(callers)) {
      for (const query of ['subscription { events { cursor } }', '{ orders { totalCount } }']) {
        const res = await fetch(`${s.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
          body: JSON.stringify({ query }),
        });
        const at = `${query}, ${who}`;
        expect(res.status, at).toBe(401);
        expect(res.headers.get('www-authenticate'), at).toBe('Bearer');
        const data = (await res.text())
          .split('\n')
          .filter((l) => l.startsWith('data: {'))
          .map((l) => JSON.parse(l.slice(6)));
        expect(
          data.flatMap((d) => d.errors.map((e: any) => e.extensions.code)),
          at,
        ).toEqual([who === 'an expired token' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED']);
      }
    }
  });

  it('over graphql-ws: the socket is closed with 4401', async () => {
    for (const [who, headers] of Object.entries(callers)) {
      if (who === 'an expired token') continue; // 4403: see tokens.test.ts
      const ws = wsClient(s.url, headers.authorization);
      try {
        expect((await ws.closed).code, who).toBe(4401);
      } finally {
        await ws.dispose();
      }
    }
  });

  it('what is public answers without a token; a bad token is refused even there', async () => {
    for (const query of [
      '{ serverInfo { engine } }',
      '{ __typename }',
      '{ __schema { queryType { name } } }',
      '{ serverInfo { engine } products @skip(if: true) { totalCount } }',
      'query($no: Boolean = false) { serverInfo { engine } products @include(if: $no) { totalCount } }',
      'fragment F on Query { serverInfo { version } } { ...F }',
    ]) {
      const r = await s.graphql<any>(query);
      expect(r.status, query).toBe(200);
      expect(r.body.errors, query).toBeUndefined();
    }
    // A private field included by a variable needs a caller.
    const r = await s.graphql<any>(
      'query($yes: Boolean!) { serverInfo { engine } products @include(if: $yes) { totalCount } }',
      { yes: true },
    );
    expect(r.status).toBe(401);
    expect(
      (await s.graphql('{ serverInfo { engine } }', {}, { authorization: 'Bearer not.a.jwt' }))
        .status,
    ).toBe(401);
  });
});
