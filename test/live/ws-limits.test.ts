import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getOperationAST } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTokenService, type TokenService } from '../../src/auth/tokens.js';
import { attachWebSocketServer, type WebSocketServerHandle } from '../../src/server/ws.js';
import { TEST_AUTH_SECRET, useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, wsClient } from '../support/live.js';
import { captureLogs } from '../support/logs.js';
import { seedOrder, type Seeded } from '../support/seed.js';
import { until } from '../support/wait.js';

const TIMELINE = `subscription($id: ID!) { orderTimeline(orderId: $id) { type version } }`;

/** A bare graphql-ws socket (no client library): the test decides what it sends and answers. */
function rawSocket(url: string, options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(
    `${url.replace(/^http/, 'ws')}/graphql`,
    'graphql-transport-ws',
    options,
  );
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  // A socket cut by the server may report the cut as an error as well as a close.
  socket.on('error', () => undefined);
  return { socket, messages, opened, closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`WebSocket limits on ${engine}`, () => {
  const { s } = useTestApp({
    env: {
      STRATA_WS_INIT_TIMEOUT_MS: '300',
      STRATA_WS_PING_INTERVAL_MS: '200',
      STRATA_WS_MAX_MESSAGE_BYTES: '4096',
    },
  });
  let seeded: Seeded;
  beforeAll(async () => {
    seeded = await seedOrder(s);
  });

  it('closes a socket that sends no connection_init in time with 4408', async () => {
    const silent = rawSocket(s.url);
    await silent.opened;
    const closed = await silent.closed;
    expect(closed.code).toBe(4408);
    expect(closed.reason).toMatch(/initiali[sz]ation timeout/i);
    // One that does initialise in time is acknowledged and stays.
    const prompt = rawSocket(s.url);
    await prompt.opened;
    prompt.socket.send(JSON.stringify({ type: 'connection_init', payload: seeded.admin }));
    await until(() => prompt.messages.some((m) => m.type === 'connection_ack'), 'the ack');
    await sleep(600); // twice the init timeout
    expect(prompt.socket.readyState).toBe(WebSocket.OPEN);
    prompt.socket.close();
  });

  it('terminates a peer that stops answering pings, and releases its subscriptions', async () => {
    const before = s.app.services.live.subscriptionCount;
    const dead = rawSocket(s.url, { autoPong: false });
    await dead.opened;
    let pings = 0;
    dead.socket.on('ping', () => pings++);
    dead.socket.send(JSON.stringify({ type: 'connection_init', payload: seeded.admin }));
    await until(() => dead.messages.some((m) => m.type === 'connection_ack'), 'the ack');
    dead.socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: TIMELINE, variables: { id: seeded.orderId } },
      }),
    );
    await until(() => dead.messages.some((m) => m.type === 'next'), 'the first event');
    expect(s.app.services.live.subscriptionCount).toBe(before + 1);

    // A live client on the same server, answering pings (ws does by default).
    const alive = wsClient(s.url, seeded.admin.authorization);
    const feed = collect<any>(alive, TIMELINE, { id: seeded.orderId }, 'orderTimeline');
    await feed.waitFor(1);

    const closed = await dead.closed;
    expect(pings).toBeGreaterThanOrEqual(1);
    // terminate(): no close frame, the TCP connection is just dropped.
    expect(closed.code).toBe(1006);
    await until(
      () => s.app.services.live.subscriptionCount === before + 1,
      'the dead peer’s subscription to be released',
    );
    await sleep(600); // several ping periods
    expect(feed.completed).toBe(false);
    expect(feed.errors).toEqual([]);
    feed.stop();
    await alive.dispose();
  });

  it('closes a socket that sends a message over the limit with 1009, before reading it all', async () => {
    const ws = rawSocket(s.url);
    await ws.opened;
    ws.socket.send(JSON.stringify({ type: 'connection_init', payload: seeded.admin }));
    await until(() => ws.messages.some((m) => m.type === 'connection_ack'), 'the ack');
    const small = JSON.stringify({
      id: 'ok',
      type: 'subscribe',
      payload: { query: `{ serverInfo { engine } } # ${'x'.repeat(3000)}` },
    });
    expect(Buffer.byteLength(small)).toBeLessThan(4096);
    ws.socket.send(small);
    await until(
      () => ws.messages.some((m) => m.id === 'ok' && m.type === 'complete'),
      'the answer',
    );
    expect(ws.messages.find((m) => m.id === 'ok' && m.type === 'next').payload).toEqual({
      data: { serverInfo: { engine } },
    });
    ws.socket.send(
      JSON.stringify({
        id: 'big',
        type: 'subscribe',
        payload: { query: `{ serverInfo { engine } } # ${'x'.repeat(5000)}` },
      }),
    );
    const closed = await ws.closed;
    expect(closed.code).toBe(1009);
    expect(ws.messages.some((m) => m.id === 'big')).toBe(false);
    // The server goes on.
    expect((await s.graphql('{ __typename }')).status).toBe(200);
  });

  it('takes its settings from the configuration', () => {
    expect(s.app.config.ws).toEqual({
      initTimeoutMs: 300,
      pingIntervalMs: 200,
      maxMessageBytes: 4096,
    });
  });
});

const REGISTER = `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { __typename } }`;
const customer = () => ({
  commandId: randomUUID(),
  name: 'Ann',
  email: `ann-${randomUUID()}@example.org`,
  phone: '+49 30 1234',
});

/** Opens a raw socket, initialised with `authorization`; resolves once acknowledged. */
async function initialised(url: string, authorization: string) {
  const ws = rawSocket(url);
  await ws.opened;
  ws.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
  await until(() => ws.messages.some((m) => m.type === 'connection_ack'), 'the ack');
  return ws;
}

/** Sends one operation; resolves with the messages of its id once it ended. */
async function run(
  ws: ReturnType<typeof rawSocket>,
  id: string,
  query: string,
  variables: Record<string, unknown> = {},
) {
  ws.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
  const mine = () => ws.messages.filter((m) => m.id === id);
  await until(
    () => mine().some((m) => m.type === 'complete' || m.type === 'error'),
    `the end of ${id}`,
  );
  return mine();
}

describe(`HTTP-only error details over graphql-ws on ${engine}`, () => {
  const { s } = useTestApp({
    env: { STRATA_MUTATIONS_PER_MINUTE: '1', STRATA_MAX_ALIASES: '2' },
  });

  it('answers the rate limit without extensions.http (status, Retry-After), which HTTP alone uses', async () => {
    const admin = await s.auth({ role: 'admin' });
    const ws = await initialised(s.url, admin.authorization);
    const [first] = await run(ws, 'first', REGISTER, { i: customer() });
    expect(first.payload.data.registerCustomer.__typename).toBe('RegisterCustomerSuccess');

    // Over the minute's budget: refused with the time to wait, in the GraphQL extensions.
    const [limited, end] = await run(ws, 'second', REGISTER, { i: customer() });
    expect(limited.type).toBe('next');
    expect(end.type).toBe('complete');
    expect(limited.payload.data).toBeUndefined();
    const error = limited.payload.errors[0];
    expect(error.extensions).toEqual({
      code: 'RATE_LIMITED',
      retryAfterSeconds: expect.any(Number),
      limit: 'STRATA_MUTATIONS_PER_MINUTE',
      max: 1,
    });
    expect(JSON.stringify(limited)).not.toMatch(/Retry-After|"http"|429/);

    // More mutations in one operation than the budget: the same, without a time.
    const both = `mutation($a: RegisterCustomerInput!, $b: RegisterCustomerInput!) { a: registerCustomer(input: $a) { __typename } b: registerCustomer(input: $b) { __typename } }`;
    const [tooMany] = await run(ws, 'both', both, { a: customer(), b: customer() });
    expect(tooMany.payload.errors[0].extensions).toEqual({
      code: 'RATE_LIMITED',
      limit: 'STRATA_MUTATIONS_PER_MINUTE',
      max: 1,
    });

    // Over HTTP the same refusal is a 429 with Retry-After (yoga reads and drops `http`).
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ query: REGISTER, variables: { i: customer() } }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = (await res.json()) as any;
    expect(body.errors[0].extensions).not.toHaveProperty('http');
    ws.socket.close();
  });

  it('answers an abuse limit (a validation error) without extensions.http', async () => {
    const ws = await initialised(s.url, (await s.auth({ role: 'admin' })).authorization);
    const [refused] = await run(
      ws,
      'aliases',
      `{ a: serverInfo { engine } b: serverInfo { engine } c: serverInfo { engine } }`,
    );
    expect(refused.type).toBe('error');
    expect(refused.payload).toEqual([
      expect.objectContaining({
        extensions: { code: 'TOO_MANY_ALIASES', limit: 'STRATA_MAX_ALIASES', max: 2, found: 3 },
      }),
    ]);
    // The socket stays and answers the next operation.
    const [ok] = await run(ws, 'ok', `{ a: serverInfo { engine } }`);
    expect(ok.payload).toEqual({ data: { a: { engine } } });
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    ws.socket.close();
  });
});

/** How yoga answers an unexpected error over HTTP (detail only in the log). */
const UNEXPECTED = {
  message: 'Unexpected error.',
  extensions: { code: 'INTERNAL_SERVER_ERROR', unexpected: true },
};

describe('the graphql-ws server on its own (a small schema, no database)', () => {
  const tokens = createTokenService({ secret: TEST_AUTH_SECRET });
  let server: Server;
  let url: string;
  let handle: WebSocketServerHandle;
  const logs = captureLogs('info');
  /** verify() holds its result until this gate opens, while set. */
  let gate: Promise<void> | undefined;
  let verifying = 0;
  let verified = 0;
  const gated: TokenService = {
    mint: (p, ttl) => tokens.mint(p, ttl),
    remembered: () => tokens.remembered(),
    async verify(token) {
      verifying++;
      const principal = await tokens.verify(token);
      await gate;
      verified++;
      return principal;
    },
  };

  const brokenHook: Plugin = {
    onExecute({ args }) {
      if (getOperationAST(args.document, args.operationName)?.name?.value === 'Broken')
        throw new Error('hook broke: postgres://strata:hunter2@db/strata');
    },
  };

  beforeAll(async () => {
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: `type Query { ok: Boolean } type Subscription { ticks: Int }`,
        resolvers: {
          Query: { ok: () => true },
          Subscription: {
            ticks: {
              subscribe: async function* () {
                yield { ticks: 1 };
                throw new Error('stream broke: postgres://strata:hunter2@db/strata');
              },
            },
          },
        },
      }),
      logging: false,
      maskedErrors: { isDev: false },
      plugins: [brokenHook],
    });
    server = createServer(yoga);
    await new Promise<void>((resolve) => server.listen(0, resolve));
    url = `http://localhost:${(server.address() as AddressInfo).port}`;
    handle = attachWebSocketServer(server, yoga as never, gated, logs.logger);
  });
  afterAll(async () => {
    await handle?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('answers an unexpected error in a hook with a masked error, logs the detail, and keeps the socket', async () => {
    const ws = await initialised(url, (await authorization()).authorization);
    const [answer, end] = await run(ws, 'broken', `query Broken { ok }`);
    expect(answer).toEqual({
      id: 'broken',
      type: 'next',
      payload: { errors: [UNEXPECTED] },
    });
    expect(end.type).toBe('complete');
    // A subscription whose stream fails midway: its error is masked as well (by yoga, which
    // logs it through the app's logger; here it has none).
    const ticks = await run(ws, 'ticks', `subscription { ticks }`);
    expect(ticks).toEqual([
      { id: 'ticks', type: 'next', payload: { data: { ticks: 1 } } },
      { id: 'ticks', type: 'error', payload: [UNEXPECTED] },
    ]);
    expect(JSON.stringify(ws.messages)).not.toContain('hunter2');
    // The socket goes on; the detail is in the log (the password scrubbed).
    const [ok] = await run(ws, 'ok', `{ ok }`);
    expect(ok.payload).toEqual({ data: { ok: true } });
    const failures = logs.withMsg('graphql-ws operation failed');
    expect(failures.map((l) => l.err.message)).toEqual([expect.stringMatching(/^hook broke/)]);
    expect(logs.text()).not.toContain('hunter2');
    ws.socket.close();
    await ws.closed;
  });

  it('arms nothing for a socket closed while its token was being checked', async () => {
    const { authorization: token } = await authorization();
    await until(() => handle.sessions() === 0, 'the earlier sockets to be gone');
    // An open, initialised socket holds its session until it closes.
    const open = await initialised(url, token);
    expect(handle.sessions()).toBe(1);
    open.socket.close();
    await open.closed;
    await until(() => handle.sessions() === 0, 'the session to end with its socket');

    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const before = { verifying, verified };
    const quick = rawSocket(url);
    await quick.opened;
    quick.socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: token } }),
    );
    await until(() => verifying > before.verifying, 'the token check to start');
    quick.socket.close();
    await quick.closed;
    await until(() => handle.clients() === 0, 'the server to see the close');
    await new Promise((r) => setImmediate(r)); // graphql-ws's onClose has run
    release();
    gate = undefined;
    await until(() => verified > before.verified, 'the token check to end');
    await new Promise((r) => setImmediate(r)); // onConnect has resumed and returned
    expect(handle.sessions()).toBe(0);
    expect(quick.messages).toEqual([]);
  });

  function authorization() {
    return tokens
      .mint({ userId: 'u-1', role: 'admin' })
      .then((t) => ({ authorization: `Bearer ${t}` }));
  }
});
