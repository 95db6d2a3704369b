import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, engine, type TestDatabase } from '../support/db.js';
import { collect, wsClient } from '../support/live.js';
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
  let t: TestDatabase;
  let s: TestApp;
  let seeded: Seeded;
  beforeAll(async () => {
    t = await createTestDatabase();
    s = await startTestApp(t, {
      STRATA_WS_INIT_TIMEOUT_MS: '300',
      STRATA_WS_PING_INTERVAL_MS: '200',
      STRATA_WS_MAX_MESSAGE_BYTES: '4096',
    });
    seeded = await seedOrder(s);
  });
  afterAll(async () => {
    await s?.stop();
    await t?.dispose();
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
