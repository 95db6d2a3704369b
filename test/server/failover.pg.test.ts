import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/eventstore/cursor.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { wsClient, type WsSession } from '../support/live.js';
import { remote, startServer, type ServerChild } from '../support/processes.js';
import { seedOrder, type Seeded } from '../support/seed.js';

/*
 * Three Strata processes on one PostgreSQL database, as an operator runs them behind a
 * load balancer: orders and payments through all three, a live feed on each. One process
 * is killed (SIGKILL: an OOM kill, a lost node), or each is restarted in turn (a rolling
 * deploy). The clients do what a client of an idempotent API does when a connection
 * breaks: send the same command id to another process. Nothing may answer an error or
 * take 2 s, every feed must deliver every event once and in order, and the read models and
 * the fulfillment process must go on within the takeover bound (docs/scaling.md).
 */

// orderNumber is outside what the command's own state answers: the answer
// waits for the read models (up to STRATA_COMMAND_READ_WAIT_MS), or says it did not.
const ORDER_FIELDS =
  'cursor version caughtUp order { id orderNumber status total { amount currency } }';
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename ... on CreateOrderSuccess { ${ORDER_FIELDS} } ... on Error { code message } } }`;
const PAY_ORDER = `mutation($i: PayOrderInput!) { payOrder(input: $i) { __typename ... on PayOrderSuccess { ${ORDER_FIELDS} } ... on Error { code message } } }`;
const EVENTS = `subscription($after: Cursor) { events(after: $after) { cursor eventId } }`;
const WRITERS = 4;
const TAKEOVER_BOUND_MS = 1_000;
const ANSWER_BOUND_MS = 2_000;

/** The processes behind the "load balancer": each request goes to the next one. */
class Fleet {
  private turn = 0;
  constructor(readonly servers: ServerChild[]) {}
  next(): ServerChild {
    return this.servers[this.turn++ % this.servers.length]!;
  }
}

interface Answer {
  op: string;
  ms: number;
  attempts: number;
  body: any;
}

/**
 * One GraphQL request, sent to the next process; when the connection fails (the process
 * is gone or going), the same request (the same command id) goes to the next one.
 */
async function send(
  fleet: Fleet,
  op: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<Answer> {
  const started = performance.now();
  let lastError: unknown;
  for (let attempt = 1; attempt <= 30; attempt++) {
    const server = fleet.next();
    try {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = await res.json();
      return { op, ms: performance.now() - started, attempts: attempt, body };
    } catch (err) {
      lastError = err;
      await sleep(5);
    }
  }
  throw new Error(`${op}: no process answered`, { cause: lastError });
}

/**
 * A live feed of the whole log that resumes from its last cursor on another process
 * whenever its connection ends (as graphql-ws clients are told to).
 */
class Feed {
  readonly items: { cursor: string; eventId: string }[] = [];
  readonly errors: unknown[] = [];
  resumes = 0;
  private session: WsSession | undefined;
  private stopped = false;

  constructor(
    private readonly fleet: Fleet,
    private readonly authorization: string,
    private readonly from: string,
    first: ServerChild,
  ) {
    this.subscribe(first);
  }

  private subscribe(server: ServerChild) {
    const session = wsClient(server.url, this.authorization);
    this.session = session;
    const after = this.items.at(-1)?.cursor ?? this.from;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      void session.dispose().catch(() => undefined);
      if (this.stopped) return;
      this.resumes++;
      setTimeout(() => this.subscribe(this.fleet.next()), 20);
    };
    session.client.subscribe<{ events: { cursor: string; eventId: string } }>(
      { query: EVENTS, variables: { after } },
      {
        next: (r) => {
          if (r.errors) this.errors.push(...r.errors);
          if (r.data?.events) this.items.push(r.data.events);
        },
        error: end,
        complete: end,
      },
    );
  }

  async stop() {
    this.stopped = true;
    await this.session?.dispose().catch(() => undefined);
  }
}

describe('three processes on one database (PostgreSQL, real server processes)', () => {
  let t: TestDatabase;
  const started: ServerChild[] = [];
  const feeds: Feed[] = [];
  const loads: { stop(): Promise<void> }[] = [];

  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    for (const l of loads.splice(0)) await l.stop();
    for (const f of feeds.splice(0)) await f.stop();
    for (const s of started.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await t?.dispose();
  });

  async function start(): Promise<ServerChild> {
    const s = await startServer(t.url!, { LOG_LEVEL: 'warn' });
    started.push(s);
    return s;
  }

  /** Three processes, a customer and a product, feeds on each; returns what the load needs. */
  async function cluster() {
    const fleet = new Fleet(await Promise.all([start(), start(), start()]));
    const seeded = await seedOrder(remote(fleet.servers[0]!.url), 1_000_000);
    // Every feed starts after the last event so far (nothing else is being written now).
    const log = await logIds();
    const anchor = await t.db.query<{ transaction_id: string; global_position: number }>(
      `SELECT transaction_id::text AS transaction_id, global_position FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const from = encodeCursor({
      transactionId: anchor.rows[0]!.transaction_id,
      globalPosition: anchor.rows[0]!.global_position,
    });
    for (const s of fleet.servers) feeds.push(new Feed(fleet, seeded.admin.authorization, from, s));
    return { fleet, seeded, logBefore: log.length };
  }

  const logIds = async () =>
    (
      await t.db.query<{ event_id: string }>(
        `SELECT event_id FROM events ORDER BY transaction_id, global_position`,
      )
    ).rows.map((r) => r.event_id);

  /** Writers: each creates an order and pays it, again and again, until told to stop. */
  function load(fleet: Fleet, seeded: Seeded) {
    const answers: Answer[] = [];
    const paid: string[] = [];
    let running = true;
    const writer = async () => {
      while (running) {
        const created = await send(
          fleet,
          'createOrder',
          CREATE_ORDER,
          {
            i: {
              commandId: randomUUID(),
              customerId: seeded.customerId,
              items: [{ productId: seeded.productId, quantity: 1 }],
              shippingAddress: {
                line1: 'Main 1',
                city: 'Berlin',
                postalCode: '10115',
                country: 'DE',
              },
            },
          },
          seeded.customer,
        );
        answers.push(created);
        const order = created.body.data?.createOrder?.order as
          { id: string; total: unknown } | undefined;
        if (!order) continue;
        const orderId = order.id;
        const payment = await send(
          fleet,
          'payOrder',
          PAY_ORDER,
          {
            i: {
              commandId: randomUUID(),
              orderId,
              paymentId: `pay-${randomUUID()}`,
              amount: order.total,
            },
          },
          seeded.customer,
        );
        answers.push(payment);
        if (payment.body.data?.payOrder?.__typename === 'PayOrderSuccess') paid.push(orderId);
      }
    };
    // A request no process answered is an answer that failed, not a crashed test.
    const writers = Array.from({ length: WRITERS }, () =>
      writer().catch((err: unknown) =>
        answers.push({ op: 'load', ms: 0, attempts: 0, body: { error: String(err) } }),
      ),
    );
    const handle = {
      answers,
      paid,
      async stop() {
        running = false;
        await Promise.all(writers);
      },
    };
    loads.push(handle);
    return handle;
  }

  /** Every answer a Success, without errors, within the bound. */
  function expectAllAnswered(answers: Answer[]) {
    const bad = answers.filter(
      (a) =>
        a.body.errors !== undefined ||
        !/Success$/.test(String(a.body.data?.[a.op]?.__typename)) ||
        a.ms >= ANSWER_BOUND_MS,
    );
    expect(
      bad.map((a) => ({ op: a.op, ms: Math.round(a.ms), attempts: a.attempts, body: a.body })),
    ).toEqual([]);
  }

  /**
   * Read models and fulfillment: every paid order is PAID in the orders read model, and
   * the fulfillment process made it ready to ship, once.
   */
  async function expectFulfilled(paid: string[]) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await t.db.query<{ projected: number; ready: number; twice: number }>(
        `SELECT
           (SELECT count(*)::int FROM order_list WHERE id = ANY($1::text[]) AND status = 'PAID') AS projected,
           (SELECT count(DISTINCT data->>'orderId')::int FROM events
             WHERE event_type = 'OrderReadyToShip' AND data->>'orderId' = ANY($1::text[])) AS ready,
           (SELECT count(*)::int - count(DISTINCT data->>'orderId')::int FROM events
             WHERE event_type = 'OrderReadyToShip' AND data->>'orderId' = ANY($1::text[])) AS twice`,
        [paid],
      );
      const { projected, ready, twice } = r.rows[0]!;
      expect(twice).toBe(0);
      if (projected === paid.length && ready === paid.length) return;
      if (Date.now() > deadline)
        throw new Error(
          `of ${paid.length} paid orders, ${projected} are PAID in the read model and ${ready} ready to ship`,
        );
      await sleep(100);
    }
  }

  /** Every feed has every event after its start, once, in commit order. */
  async function expectFeedsComplete(logBefore: number) {
    const log = await logIds();
    const expected = log.slice(logBefore);
    const deadline = Date.now() + 20_000;
    for (const feed of feeds) {
      while (feed.items.length < expected.length && Date.now() < deadline) await sleep(50);
      await sleep(200); // and nothing more
      expect(feed.errors).toEqual([]);
      expect(feed.items.map((e) => e.eventId)).toEqual(expected);
    }
  }

  /** The process that leads the projections and the fulfillment process. */
  async function leaders(): Promise<Map<string, number>> {
    const r = await t.db.query<{ name: string; lease_owner: string | null }>(
      `SELECT name, lease_owner FROM projections WHERE state IN ('running', 'rebuilding')`,
    );
    return new Map(r.rows.map((x) => [x.name, Number(x.lease_owner?.split('-')[0] ?? NaN)]));
  }

  it('SIGKILL of the leading process: takeover within a second, no error, no lost or doubled event', async () => {
    const { fleet, seeded, logBefore } = await cluster();
    const load1 = load(fleet, seeded);
    await until(
      () => load1.paid.length >= 20,
      () => JSON.stringify(load1.answers.slice(-3)),
    );

    const leads = await leaders();
    const leaderPid = leads.get('orders')!;
    const victim = fleet.servers.find((s) => s.child.pid === leaderPid)!;
    expect(victim, `the orders projection is led by a server: ${[...leads]}`).toBeDefined();
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const acknowledgedBefore = load1.answers.length;

    // Takeover: every generation led by a live process again.
    let takeover = Infinity;
    while (Date.now() - killedAt < 10_000) {
      const now = await leaders();
      if ([...now.values()].every((pid) => pid !== leaderPid && Number.isFinite(pid))) {
        takeover = Date.now() - killedAt;
        break;
      }
      await sleep(10);
    }
    // Caught up: the read models and the fulfillment process pass a command made after it.
    while (load1.answers.length === acknowledgedBefore) await sleep(5);
    const probe = decodeCursor(load1.answers.at(-1)!.body.data[load1.answers.at(-1)!.op].cursor);
    let caughtUp = Infinity;
    while (Date.now() - killedAt < 10_000) {
      const r = await t.db.query<{ behind: number }>(
        `SELECT count(*)::int AS behind FROM projections WHERE state IN ('running', 'rebuilding')
           AND (checkpoint_txid, checkpoint_position) < ($1::xid8, $2)`,
        [probe.transactionId, probe.globalPosition],
      );
      if (r.rows[0]!.behind === 0) {
        caughtUp = Date.now() - killedAt;
        break;
      }
      await sleep(10);
    }
    console.log(
      `failover: lead taken over ${takeover} ms after SIGKILL; read models and fulfillment past the next command after ${caughtUp} ms`,
    );
    expect(takeover).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    expect(caughtUp).toBeLessThanOrEqual(TAKEOVER_BOUND_MS + 500);

    await sleep(1_500); // load on the two survivors
    await load1.stop();
    console.log(`failover: ${describeAnswers(load1.answers)}`);
    expect(load1.answers.length).toBeGreaterThan(acknowledgedBefore);
    expectAllAnswered(load1.answers);
    await expectFulfilled(load1.paid);
    // Operators see who leads now: a live process for every generation.
    const shown = await send(
      fleet,
      'projections',
      '{ projections { name leader } }',
      {},
      seeded.admin,
    );
    const live = fleet.servers.filter((x) => x !== victim).map((x) => x.child.pid);
    for (const p of shown.body.data.projections as { name: string; leader: string }[])
      expect(live, `${p.name} led by ${p.leader}`).toContain(Number(p.leader.split('-')[0]));
    // The feed on the killed process resumed elsewhere.
    expect(feeds.reduce((n, f) => n + f.resumes, 0)).toBeGreaterThanOrEqual(1);
    await expectFeedsComplete(logBefore);
  }, 150_000);

  it('a rolling restart under load: no error, no lost or doubled event', async () => {
    const { fleet, seeded, logBefore } = await cluster();
    const load1 = load(fleet, seeded);
    await until(
      () => load1.paid.length >= 10,
      () => JSON.stringify(load1.answers.slice(-3)),
    );
    for (let i = 0; i < fleet.servers.length; i++) {
      const old = fleet.servers[i]!;
      old.child.kill('SIGTERM');
      expect(await old.exited, old.output()).toBe(0);
      fleet.servers[i] = await start();
      const paidBefore = load1.paid.length;
      await until(
        () => load1.paid.length >= paidBefore + 10,
        () => JSON.stringify(load1.answers.slice(-3)),
      );
    }
    await load1.stop();
    console.log(`rolling restart: ${describeAnswers(load1.answers)}`);
    expectAllAnswered(load1.answers);
    await expectFulfilled(load1.paid);
    expect(feeds.reduce((n, f) => n + f.resumes, 0)).toBeGreaterThanOrEqual(3);
    await expectFeedsComplete(logBefore);
  }, 150_000);
});

function describeAnswers(answers: Answer[]): string {
  const ms = answers.map((a) => a.ms).sort((x, y) => x - y);
  const retried = answers.filter((a) => a.attempts > 1).length;
  const behind = answers.filter((a) => a.body.data?.[a.op]?.caughtUp === false).length;
  return `${answers.length} mutations answered, ${retried} after a retry on another process, ${behind} with caughtUp: false; slowest ${Math.round(ms.at(-1) ?? 0)} ms, p99 ${Math.round(ms[Math.floor(ms.length * 0.99)] ?? 0)} ms`;
}

async function until(check: () => boolean, state: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms: ${state()}`);
    await sleep(20);
  }
}
