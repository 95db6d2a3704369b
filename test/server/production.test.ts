import { connect } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, engine, useTestDatabase } from '../support/db.js';
import { collect, sse, wsClient } from '../support/live.js';
import { seedOrder, type Seeded } from '../support/seed.js';

const SCHEMA = '{ __schema { queryType { name } } }';
const TYPE = '{ __type(name: "Order") { fields { name } } }';
const TIMELINE = `subscription($id: ID!) { orderTimeline(orderId: $id) { type version } }`;

const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(`${url}/graphql`, { method: 'POST', headers, body });
const get = (url: string, query: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/graphql?query=${encodeURIComponent(query)}`, { headers });

describe(`production mode on ${engine}`, () => {
  const t = useTestDatabase();
  /** NODE_ENV=production, everything else at its default. */
  let prod: TestApp;
  /** Production with GraphiQL and introspection turned back on by their settings. */
  let prodGraphiql: TestApp;
  /** Development mode (the test default). */
  let dev: TestApp;
  let seeded: Seeded;
  beforeAll(async () => {
    prod = await startTestApp(t, { NODE_ENV: 'production' });
    prodGraphiql = await startTestApp(t, {
      NODE_ENV: 'production',
      STRATA_GRAPHIQL: 'true',
      STRATA_INTROSPECTION: 'true',
    });
    dev = await startTestApp(t);
    seeded = await seedOrder(prod);
  });
  afterAll(async () => {
    for (const s of [prod, prodGraphiql, dev]) await s?.stop();
  });

  it('is on for NODE_ENV=production and for a PostgreSQL URL, and switches the defaults', () => {
    expect(prod.app.config).toMatchObject({
      production: true,
      introspection: false,
      graphiql: false,
    });
    expect(dev.app.config).toMatchObject({
      production: false,
      introspection: true,
      graphiql: true,
    });
    expect(prodGraphiql.app.config).toMatchObject({
      production: true,
      introspection: true,
      graphiql: true,
    });
  });

  describe('introspection', () => {
    it('is refused over HTTP, with a code and the setting that allows it; __typename still works', async () => {
      for (const q of [SCHEMA, TYPE, getIntrospectionQuery()]) {
        const r = await prod.graphql(q);
        expect(r.status).toBe(400);
        expect(r.body.data).toBeUndefined();
        expect(r.body.errors?.[0]).toMatchObject({
          message: expect.stringContaining('STRATA_INTROSPECTION=true'),
          extensions: { code: 'INTROSPECTION_DISABLED' },
        });
      }
      expect((await prod.graphql('{ __typename }')).body).toEqual({
        data: { __typename: 'Query' },
      });
    });

    it('is refused over graphql-ws too', async () => {
      const ws = wsClient(prod.url, seeded.admin.authorization);
      try {
        const result = await new Promise<unknown>((resolve) =>
          ws.client.subscribe(
            { query: SCHEMA },
            { next: resolve, error: resolve, complete: () => undefined },
          ),
        );
        expect(JSON.stringify(result)).toContain('INTROSPECTION_DISABLED');
      } finally {
        await ws.dispose();
      }
    });

    it('answers when enabled (STRATA_INTROSPECTION=true), and in development', async () => {
      for (const s of [prodGraphiql, dev]) {
        const r = await s.graphql(getIntrospectionQuery());
        expect(r.status).toBe(200);
        expect(r.body.errors).toBeUndefined();
      }
    });
  });

  describe('field suggestions', () => {
    const cases = [
      { query: '{ serverInf { engine } }', variables: {}, hint: '"serverInfo"' },
      {
        query: '{ orders(filter: { status: PAYD }) { totalCount } }',
        variables: {},
        hint: '"PAID"',
      },
      {
        // Coerced at execution: graphql-js suggests there as well.
        query: 'query($s: OrderStatus) { orders(filter: { status: $s }) { totalCount } }',
        variables: { s: 'PAYD' },
        hint: '"PAID"',
      },
    ];

    it('are hidden in production: the error says what is wrong, not what exists', async () => {
      for (const c of cases) {
        const r = await prod.graphql(c.query, c.variables, seeded.admin);
        const message = r.body.errors?.[0]?.message ?? '';
        expect(message).not.toBe('');
        expect(message).not.toMatch(/Did you mean/);
        expect(message).not.toContain(c.hint);
      }
    });

    it('leave errors without a suggestion as they are: a query without a token is UNAUTHENTICATED, not a 500', async () => {
      const r = await prod.graphql(`{ order(id: "${seeded.orderId}") { id } }`, {});
      expect(r.status).toBeLessThan(500);
      expect(r.body.errors?.map((e: any) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    });

    it('are shown where introspection is on anyway', async () => {
      for (const c of cases) {
        const r = await dev.graphql(c.query, c.variables, seeded.admin);
        expect(r.body.errors?.[0]?.message).toMatch(/Did you mean/);
      }
    });
  });

  describe('GraphiQL', () => {
    it('is not served in production unless enabled: the browser is told what turns it on', async () => {
      const res = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).not.toMatch(/renderYogaGraphiQL/);
      expect(text).toMatch(/GraphiQL is off in production mode; STRATA_GRAPHIQL=true turns it on/);
    });

    it('when enabled in production, is served and its requests pass CSRF prevention', async () => {
      const page = await fetch(`${prodGraphiql.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/Strata GraphiQL/);
      // What yoga's GraphiQL fetcher sends: a JSON POST (subscriptions go over WebSocket).
      const r = await post(
        prodGraphiql.url,
        JSON.stringify({ query: '{ serverInfo { engine } }', operationName: null }),
        {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json, multipart/mixed',
          origin: prodGraphiql.url,
          ...seeded.admin,
        },
      );
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ data: { serverInfo: { engine } } });
      // Its schema query (docs, completion) works with introspection enabled.
      expect((await prodGraphiql.graphql(getIntrospectionQuery())).body.errors).toBeUndefined();
    });
  });

  describe('CSRF prevention', () => {
    const eveMutation = (email: string) =>
      `mutation { registerCustomer(input: { commandId: "${crypto.randomUUID()}", name: "Eve", email: "${email}", phone: "+1 555 0100" }) { __typename } }`;
    const registered = async (email: string) =>
      (await prod.app.store.readAll({ eventTypes: ['CustomerRegistered'] })).filter(
        (e) => (e.data as { email?: string }).email === email,
      );

    it('refuses POSTs a browser sends cross-site without a preflight, and nothing runs', async () => {
      const mutation = eveMutation('eve@example.org');
      const simple = [
        await post(prod.url, JSON.stringify({ query: mutation }), {
          'content-type': 'text/plain',
          ...seeded.admin,
        }),
        await post(prod.url, `query=${encodeURIComponent(mutation)}`, {
          'content-type': 'application/x-www-form-urlencoded',
          ...seeded.admin,
        }),
        await post(prod.url, `query=${encodeURIComponent(mutation)}`, {
          'content-type': 'multipart/form-data; boundary=x',
          ...seeded.admin,
        }),
        // fetch with a typeless Blob body sends no content type: no preflight either.
        await fetch(`${prod.url}/graphql`, {
          method: 'POST',
          headers: seeded.admin,
          body: new Blob([JSON.stringify({ query: mutation })]),
        }),
      ];
      for (const res of simple) {
        expect(res.status).toBe(403);
        expect(((await res.json()) as any).errors[0].message).toMatch(/CSRF/);
      }
      expect(await registered('eve@example.org')).toEqual([]);
    });

    it('lets JSON POSTs through, and GETs that carry the x-graphql-yoga-csrf header', async () => {
      expect((await prod.graphql('{ __typename }')).status).toBe(200);
      const r = await get(prod.url, '{ __typename }', { 'x-graphql-yoga-csrf': '1' });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('lets a GET query through without the header (urql sends queries as GET)', async () => {
      const anonymous = await get(prod.url, '{ __typename }');
      expect(anonymous.status).toBe(200);
      expect(await anonymous.json()).toEqual({ data: { __typename: 'Query' } });
      const query = `{ order(id: "${seeded.orderId}") { id status } }`;
      const r = await get(prod.url, query, seeded.customer);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({
        data: { order: { id: seeded.orderId, status: 'PENDING' } },
      });
    });

    it('runs a GET a page on another site can send as anonymous, and shares no answer with it', async () => {
      // What a browser sends for <img src> or fetch(url, { mode: 'no-cors' }): no token,
      // which only a preflight (refused to unlisted origins) would let it add.
      const res = await get(prod.url, `{ order(id: "${seeded.orderId}") { id status } }`, {
        origin: 'https://evil.example',
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const body = (await res.json()) as any;
      expect(body.data?.order ?? null).toBeNull();
      expect(JSON.stringify(body)).not.toContain('PENDING');
    });

    it('still refuses a mutation over GET, with or without the header, and nothing runs', async () => {
      const mutation = eveMutation('eve-get@example.org');
      // The same text sent first as a valid POST is then a parsed, cached document.
      const cached = eveMutation('eve-cached@example.org');
      expect((await prod.graphql(cached, {}, seeded.admin)).status).toBe(200);
      for (const [text, headers] of [
        [mutation, seeded.admin],
        [mutation, { ...seeded.admin, 'x-graphql-yoga-csrf': '1' }],
        [cached, seeded.admin],
      ] as const) {
        const res = await get(prod.url, text, headers);
        expect(res.status).toBe(405);
        expect(res.headers.get('allow')).toBe('POST');
        expect(((await res.json()) as any).errors[0].message).toMatch(/mutation .* POST/);
      }
      expect(await registered('eve-get@example.org')).toEqual([]);
      expect(await registered('eve-cached@example.org')).toHaveLength(1);
    });

    it('leaves SSE subscriptions (a JSON POST) and graphql-ws working', async () => {
      const [created] = await sse<any>(
        prod.url,
        TIMELINE,
        { id: seeded.orderId },
        seeded.customer,
        1,
      );
      expect(created.data.orderTimeline).toEqual({ type: 'OrderCreated', version: 1 });
      const ws = wsClient(prod.url, seeded.customer.authorization);
      try {
        const feed = collect<any>(ws, TIMELINE, { id: seeded.orderId }, 'orderTimeline');
        expect(await feed.waitFor(1)).toEqual([{ type: 'OrderCreated', version: 1 }]);
        feed.stop();
      } finally {
        await ws.dispose();
      }
    });

    it('is off in development: a plain GET runs', async () => {
      expect((await get(dev.url, '{ __typename }')).status).toBe(200);
    });
  });

  describe('request body size', () => {
    const big = (bytes: number) =>
      JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(bytes) } });

    it('refuses a body over STRATA_MAX_BODY_BYTES with 413 and a JSON error, by its declared length', async () => {
      const res = await post(prod.url, big(1024 * 1024), { 'content-type': 'application/json' });
      expect(res.status).toBe(413);
      expect(res.headers.get('content-type')).toMatch(/json/);
      expect(res.headers.get('connection')).toBe('close');
      expect(((await res.json()) as any).errors[0]).toMatchObject({
        message: expect.stringContaining('STRATA_MAX_BODY_BYTES'),
        extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', max: 1024 * 1024 },
      });
    });

    it('cuts off a streamed body without a length once it goes over', async () => {
      const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          // Endless: only the server's cut ends it.
          sent += chunk.byteLength;
          c.enqueue(chunk);
        },
      });
      const res = await fetch(`${prod.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(((await res.json()) as any).errors[0].extensions.code).toBe(
        'REQUEST_ENTITY_TOO_LARGE',
      );
      expect(sent).toBeGreaterThan(1024 * 1024);
    });

    it('accepts a body just under it, streamed or not, and the server goes on', async () => {
      const under = big(1024 * 1024 - 100);
      expect(Buffer.byteLength(under)).toBeLessThanOrEqual(1024 * 1024);
      const res = await post(prod.url, under, { 'content-type': 'application/json' });
      expect(res.status).toBe(200);
      const streamed = await fetch(`${prod.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([under]).stream(),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(200);
      expect(await streamed.json()).toEqual({ data: { __typename: 'Query' } });
    });
  });

  describe('request body size, declared lengths', () => {
    /** One raw HTTP/1.1 exchange: what the server answered first (status line). */
    const raw = (head: string, body: string) =>
      new Promise<string>((resolve, reject) => {
        const { port } = new URL(prod.url);
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(head + body));
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (answer += d));
        // Node 24 resets the connection right after its 400 for a request it cannot parse
        // (the rest of the request unread), where Node 20 closed it: the answer counts.
        socket.on('error', (err: NodeJS.ErrnoException) => {
          if (!(answer && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))) reject(err);
        });
        socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
      });

    it('reads no more than a declared length under the limit: the bytes after it are not the body', async () => {
      const pad = 'x'.repeat(2 * 1024 * 1024);
      const status = await raw(
        'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n',
        `{"query":"{ __typename }","variables":{"pad":"${pad}"}}`,
      );
      // The 20 bytes are an incomplete JSON document: refused as such, never executed.
      expect(status).toMatch(/^HTTP\/1\.1 400 /);
      const ok = await post(prod.url, JSON.stringify({ query: '{ __typename }' }), {
        'content-type': 'application/json',
      });
      expect(ok.status).toBe(200);
    });

    it('refuses a request that declares both a length and chunked encoding', async () => {
      const status = await raw(
        'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n',
        '100000\r\n' + ' '.repeat(0x100000) + '\r\n0\r\n\r\n',
      );
      expect(status).toMatch(/^HTTP\/1\.1 400 /);
    });
  });

  describe('errors', () => {
    it('are masked in production, even with NODE_ENV=development and a PostgreSQL URL', async () => {
      const t2 = await createTestDatabase();
      // A PostgreSQL URL means production mode whatever NODE_ENV says; the app runs on
      // the test database given to it (the URL itself is not used).
      const s = await startTestApp(t2, {
        NODE_ENV: 'development',
        DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
      });
      try {
        expect(s.app.config.production).toBe(true);
        const admin = await s.auth({ role: 'admin' });
        await t2.db.close(); // every read now fails inside the resolver
        const r = await s.graphql('{ products { totalCount } }', {}, admin);
        expect(r.body.errors?.[0]?.message).toBe('Unexpected error.');
        expect(JSON.stringify(r.body)).not.toMatch(/stack|originalError|closed|pglite|pool/i);
      } finally {
        await s.stop();
        await t2.dispose();
      }
    });
  });
});
