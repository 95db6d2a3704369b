import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, useTestApp, type TestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { sse, wsClient, type WsSession } from '../support/live.js';

/*
 * The sweep: each kind of bad request the server can get, over HTTP, SSE and graphql-ws,
 * and what comes back. Every GraphQL error carries `extensions.code`; every HTTP error
 * answer (4xx) has a JSON body of the same shape, `{"errors":[{"message","extensions":
 * {"code"}}]}`, the WebSocket handshake's refusals included.
 */

interface ErrorBody {
  data?: unknown;
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/** Every error of a body has a message and a code; returns the codes. */
function codesOf(body: ErrorBody, what: string): string[] {
  expect(body.errors?.length, `${what}: ${JSON.stringify(body)}`).toBeGreaterThan(0);
  return body.errors!.map((e) => {
    expect(typeof e.message, `${what}: ${JSON.stringify(e)}`).toBe('string');
    expect(typeof e.extensions?.code, `${what}: no code in ${JSON.stringify(e)}`).toBe('string');
    return e.extensions!.code as string;
  });
}

const json = { 'content-type': 'application/json' };
const gqlBody = (query: string, variables?: Record<string, unknown>, operationName?: string) =>
  JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) });

const ENUM_CASE = 'query($s: OrderStatus) { orders(filter: { status: $s }) { totalCount } }';
const INPUT_FIELD = 'query($f: OrderFilter) { orders(filter: $f) { totalCount } }';
const WRONG_TYPE = 'query($n: Int) { orders(first: $n) { totalCount } }';
const REQUIRED = 'query($id: ID!) { order(id: $id) { id } }';
const CANCEL = 'mutation($i: CancelOrderInput!) { cancelOrder(input: $i) { __typename } }';
const TWO_OPERATIONS = 'query A { serverInfo { engine } } query B { serverInfo { engine } }';
const ALIASES = `{ ${Array.from({ length: 21 }, (_, i) => `a${i}: serverInfo { engine }`).join(' ')} }`;

/** The bad GraphQL requests every transport can carry, with the code each must get. */
const GRAPHQL_CASES: {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  code: string;
}[] = [
  { name: 'a syntax error', query: '{ orders {', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'an unknown field', query: '{ noSuchField }', code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'an enum value in the wrong case, in variables',
    query: ENUM_CASE,
    variables: { s: 'paid' },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a mistyped input field, in variables',
    query: INPUT_FIELD,
    variables: { f: { stauts: 'PAID' } },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a mistyped field of a mutation input',
    query: CANCEL,
    variables: { i: { commandId: randomUUID(), orderId: randomUUID(), reasn: 'x' } },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a variable of the wrong type',
    query: WRONG_TYPE,
    variables: { n: 'ten' },
    code: 'BAD_USER_INPUT',
  },
  { name: 'a required variable missing', query: REQUIRED, variables: {}, code: 'BAD_USER_INPUT' },
  {
    name: 'null for a non-null variable',
    query: REQUIRED,
    variables: { id: null },
    code: 'BAD_USER_INPUT',
  },
  { name: 'a malformed id', query: '{ order(id: "nope") { id } }', code: 'BAD_USER_INPUT' },
  {
    name: 'two operations and no operationName',
    query: TWO_OPERATIONS,
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  {
    name: 'an unknown operationName',
    query: TWO_OPERATIONS,
    operationName: 'C',
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  { name: 'too many aliases', query: ALIASES, code: 'TOO_MANY_ALIASES' },
];

/** An HTTP request written by hand, its answer as text (status line, headers, body). */
function rawHttp(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk) => (answer += String(chunk)));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** One answer of graphql-ws to an operation: its result, or the errors it was refused with. */
function overWs(
  session: WsSession,
  query: string,
  variables?: Record<string, unknown>,
  operationName?: string,
) {
  return new Promise<ErrorBody>((resolve) => {
    const results: ErrorBody[] = [];
    session.client.subscribe(
      { query, variables: variables ?? {}, ...(operationName ? { operationName } : {}) },
      {
        next: (r) => void results.push(r as ErrorBody),
        error: (e) => resolve({ errors: Array.isArray(e) ? e : [e as never] }),
        complete: () => resolve(results[0] ?? {}),
      },
    );
  });
}

describe(`every error has a code, every HTTP error a JSON body, on ${engine}`, () => {
  const { t, s } = useTestApp();
  let prod: TestApp;
  let admin: Record<string, string>;
  let expired: string;
  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
    expired = (await s.auth({ role: 'admin' }, -60)).authorization;
    prod = await startTestApp(t, { NODE_ENV: 'production' });
  });
  afterAll(() => prod?.stop());

  describe('over HTTP', () => {
    for (const c of GRAPHQL_CASES) {
      it(`${c.name}: ${c.code}`, async () => {
        for (const accept of ['application/graphql-response+json', 'application/json']) {
          const res = await fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, accept, ...admin },
            body: gqlBody(c.query, c.variables, c.operationName),
          });
          expect(res.headers.get('content-type')).toMatch(/json/);
          expect(codesOf((await res.json()) as ErrorBody, `${c.name} (${accept})`)).toContain(
            c.code,
          );
        }
      });
    }

    /** Requests HTTP itself refuses, or GraphQL before the document: status, code. */
    const REFUSED: {
      name: string;
      send: () => Promise<Response>;
      status: number;
      code: string;
      header?: [string, RegExp];
    }[] = [
      {
        name: 'content-type: text/plain',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain', ...admin },
            body: '{ serverInfo { engine } }',
          }),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'a POST without a content type',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: admin,
            body: new Blob(['{"query":"{ serverInfo { engine } }"}']),
          }),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'an Accept the server cannot answer',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, accept: 'image/png', ...admin },
            body: gqlBody('{ serverInfo { engine } }'),
          }),
        status: 406,
        code: 'NOT_ACCEPTABLE',
      },
      {
        name: 'PUT',
        send: () => fetch(`${s.url}/graphql`, { method: 'PUT', headers: { ...json, ...admin } }),
        status: 405,
        code: 'BAD_REQUEST',
      },
      {
        name: 'a mutation over GET',
        send: () =>
          fetch(`${s.url}/graphql?query=${encodeURIComponent('mutation { __typename }')}`, {
            headers: { accept: 'application/json', ...admin },
          }),
        status: 405,
        code: 'BAD_REQUEST',
      },
      {
        name: 'JSON that does not parse',
        send: () =>
          fetch(`${s.url}/graphql`, { method: 'POST', headers: { ...json, ...admin }, body: '{' }),
        status: 400,
        code: 'BAD_REQUEST',
      },
      {
        name: 'variables that are not an object',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, ...admin },
            body: JSON.stringify({ query: '{ serverInfo { engine } }', variables: 'x' }),
          }),
        status: 400,
        code: 'BAD_REQUEST',
      },
      {
        name: 'no query',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, accept: 'application/graphql-response+json', ...admin },
            body: '{}',
          }),
        status: 400,
        code: 'BAD_REQUEST',
      },
      {
        name: 'a body over STRATA_MAX_BODY_BYTES',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, ...admin },
            body: JSON.stringify({ query: `{ serverInfo { engine } } #${'x'.repeat(1_100_000)}` }),
          }),
        status: 413,
        code: 'REQUEST_ENTITY_TOO_LARGE',
      },
      {
        name: 'a path that is not served',
        send: () => fetch(`${s.url}/nowhere`),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'a POST to a path that is not served',
        send: () => fetch(`${s.url}/nowhere`, { method: 'POST', headers: json, body: '{}' }),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'POST /health',
        send: () => fetch(`${s.url}/health`, { method: 'POST' }),
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        header: ['allow', /GET/],
      },
      {
        name: 'DELETE /metrics',
        send: () => fetch(`${s.url}/metrics`, { method: 'DELETE' }),
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
      },
      {
        name: 'no token, for something that needs one',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: json,
            body: gqlBody('{ orders { totalCount } }'),
          }),
        status: 401,
        code: 'UNAUTHENTICATED',
        header: ['www-authenticate', /^Bearer/],
      },
      {
        name: 'a token that is not one',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, authorization: 'Bearer not.a.token' },
            body: gqlBody('{ orders { totalCount } }'),
          }),
        status: 401,
        code: 'UNAUTHENTICATED',
        header: ['www-authenticate', /^Bearer/],
      },
      {
        name: 'an expired token',
        send: () =>
          fetch(`${s.url}/graphql`, {
            method: 'POST',
            headers: { ...json, authorization: expired },
            body: gqlBody('{ orders { totalCount } }'),
          }),
        status: 401,
        code: 'TOKEN_EXPIRED',
        header: ['www-authenticate', /^Bearer/],
      },
      {
        name: 'production: a form POST without the CSRF header',
        send: () =>
          fetch(`${prod.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain', ...admin },
            body: gqlBody('{ serverInfo { engine } }'),
          }),
        status: 403,
        code: 'CSRF_HEADER_REQUIRED',
      },
      {
        name: 'production: introspection',
        send: () =>
          fetch(`${prod.url}/graphql`, {
            method: 'POST',
            headers: { ...json, accept: 'application/graphql-response+json', ...admin },
            body: gqlBody('{ __schema { queryType { name } } }'),
          }),
        status: 400,
        code: 'INTROSPECTION_DISABLED',
      },
      {
        name: 'production: /metrics without STRATA_METRICS_TOKEN',
        send: () => fetch(`${prod.url}/metrics`),
        status: 403,
        code: 'FORBIDDEN',
      },
    ];
    for (const c of REFUSED) {
      it(`${c.name}: ${c.status} ${c.code}, with a JSON body`, async () => {
        const res = await c.send();
        expect(res.status).toBe(c.status);
        expect(res.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
        if (c.header) expect(res.headers.get(c.header[0])).toMatch(c.header[1]);
        const body = (await res.json()) as ErrorBody;
        expect(body.data ?? null).toBeNull();
        expect([...new Set(codesOf(body, c.name))]).toEqual([c.code]);
      });
    }
  });

  describe('over SSE', () => {
    for (const c of GRAPHQL_CASES) {
      it(`${c.name}: ${c.code}`, async () => {
        const res = await fetch(`${s.url}/graphql`, {
          method: 'POST',
          headers: { ...json, accept: 'text/event-stream', ...admin },
          body: gqlBody(c.query, c.variables, c.operationName),
        });
        const events = (await res.text())
          .split('\n')
          .filter((l) => l.startsWith('data: {'))
          .map((l) => JSON.parse(l.slice(6)) as ErrorBody);
        expect(events.length, c.name).toBeGreaterThan(0);
        expect(events.flatMap((e) => codesOf(e, c.name))).toContain(c.code);
      });
    }

    it('a subscription without a token, or with a bad one: 401 UNAUTHENTICATED', async () => {
      for (const headers of [{}, { authorization: 'Bearer not.a.token' }] as Record<
        string,
        string
      >[]) {
        const [first] = await sse<ErrorBody>(
          s.url,
          'subscription { events { cursor } }',
          {},
          headers,
          1,
          5_000,
        );
        expect(codesOf(first ?? {}, JSON.stringify(headers))).toEqual(['UNAUTHENTICATED']);
      }
    });
  });

  describe('over graphql-ws', () => {
    let ws: WsSession;
    beforeAll(() => {
      ws = wsClient(s.url, admin.authorization);
    });
    afterAll(() => ws?.dispose());

    for (const c of GRAPHQL_CASES) {
      it(`${c.name}: ${c.code}`, async () => {
        const body = await overWs(ws, c.query, c.variables, c.operationName);
        expect(codesOf(body, c.name)).toContain(c.code);
      });
    }

    /** A WebSocket handshake request to `path`, with what else it says. */
    const handshake = (path: string, method = 'GET', version = '13') =>
      [
        `${method} ${path} HTTP/1.1`,
        'Host: localhost',
        'Connection: Upgrade',
        'Upgrade: websocket',
        `Sec-WebSocket-Version: ${version}`,
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol: graphql-transport-ws',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');

    for (const c of [
      {
        name: 'on a path that is not served',
        request: handshake('/nowhere'),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'of an unknown version',
        request: handshake('/graphql', 'GET', '99'),
        status: 400,
        code: 'BAD_REQUEST',
      },
      {
        name: 'by POST',
        request: handshake('/graphql', 'POST'),
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
      },
    ]) {
      it(`a handshake ${c.name}: ${c.status} ${c.code}, with a JSON body`, async () => {
        const answer = await rawHttp(s.url, c.request);
        const [head, body] = answer.split('\r\n\r\n');
        expect(head).toMatch(new RegExp(`^HTTP/1.1 ${c.status} `));
        expect(head).toMatch(/\r\ncontent-type: application\/json/i);
        expect(codesOf(JSON.parse(body!) as ErrorBody, c.name)).toEqual([c.code]);
      });
    }
  });
});
