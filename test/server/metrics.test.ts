import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_OPERATION_NAMES, Metrics } from '../../src/observability/metrics.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient } from '../support/live.js';
import { payOrder, rivalOrder, seedOrder } from '../support/seed.js';

const EVENTS = `subscription Watch($after: Cursor) { events(after: $after) { cursor type } }`;

/** The value of one sample of the Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

const families = (text: string) =>
  new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

describe(`metrics on ${engine}`, () => {
  const { s } = useTestApp();
  const scrape = async () => (await fetch(`${s.url}/metrics`)).text();

  it('exposes every family of the issue', async () => {
    const names = families(await scrape());
    for (const f of [
      'strata_http_requests_total',
      'strata_http_request_duration_seconds',
      'strata_graphql_operations_total',
      'strata_graphql_operation_duration_seconds',
      'strata_events_appended_total',
      'strata_append_duration_seconds',
      'strata_projection_lag_events',
      'strata_projection_lag_seconds',
      'strata_live_subscriptions',
      'strata_live_deliveries_total',
      'strata_listen_reconnects_total',
      'strata_readers_held_back_seconds',
      'strata_fulfillment_step_failures_total',
    ])
      expect(names, f).toContain(f);
  });

  it('GraphQL operations: counted and timed by name, type and outcome; unnamed ones as "anonymous"', async () => {
    const admin = await s.auth({ role: 'admin' });
    const before = await scrape();
    const labels = { operation: 'Probe', type: 'query', outcome: 'ok' };
    for (let i = 0; i < 3; i++)
      await s.graphql('query Probe { __typename }', {}, { ...admin, 'x-i': String(i) });
    await s.graphql('{ __typename }', {}, admin);
    await s.graphql('query Bad { nope }', {}, admin);
    const after = await scrape();
    expect(
      sample(after, 'strata_graphql_operations_total', labels) -
        sample(before, 'strata_graphql_operations_total', labels),
    ).toBe(3);
    expect(
      sample(after, 'strata_graphql_operation_duration_seconds_count', labels) -
        sample(before, 'strata_graphql_operation_duration_seconds_count', labels),
    ).toBe(3);
    expect(
      sample(after, 'strata_graphql_operations_total', {
        operation: 'anonymous',
        type: 'query',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'strata_graphql_operations_total', { operation: 'Bad', outcome: 'error' }),
    ).toBe(1);
  });

  it('HTTP requests by route, method and status', async () => {
    const before = await scrape();
    await fetch(`${s.url}/health`);
    await fetch(`${s.url}/health`);
    await fetch(`${s.url}/nowhere`);
    const after = await scrape();
    const health = { route: '/health', method: 'GET', status: '200' };
    expect(
      sample(after, 'strata_http_requests_total', health) -
        sample(before, 'strata_http_requests_total', health),
    ).toBe(2);
    expect(
      sample(after, 'strata_http_requests_total', { route: 'other', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'strata_http_request_duration_seconds_count', {
        route: '/health',
        method: 'GET',
      }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('appends, live subscriptions and deliveries, and fulfillment step failures move with traffic', async () => {
    const before = await scrape();
    expect(sample(before, 'strata_live_subscriptions')).toBe(0);
    // Wants 2 of a product with 2 in stock, and another order of 1 is paid first.
    const seeded = await seedOrder(s, 2);
    const ws = wsClient(s.url, seeded.admin.authorization);
    const first = (
      await s.graphql<any>(`{ events(first: 1) { edges { cursor } } }`, {}, seeded.admin)
    ).body.data.events.edges[0].cursor;
    const feed = collect<any>(ws, EVENTS, { after: first }, 'events');
    await feed.waitFor(2);
    const open = await scrape();
    expect(sample(open, 'strata_live_subscriptions')).toBe(1);
    expect(sample(open, 'strata_live_deliveries_total')).toBeGreaterThanOrEqual(2);

    await rivalOrder(s, seeded, 1);
    await payOrder(s, seeded); // the reservation is refused: stock short
    const refused = { step: 'reserve-stock', outcome: 'refused' };
    const deadline = Date.now() + 10_000;
    let text = await scrape();
    while (sample(text, 'strata_fulfillment_step_failures_total', refused) < 1) {
      if (Date.now() > deadline) throw new Error('no step failure counted');
      await new Promise((r) => setTimeout(r, 50));
      text = await scrape();
    }
    expect(sample(text, 'strata_fulfillment_step_failures_total', refused)).toBe(1);
    expect(sample(text, 'strata_events_appended_total')).toBeGreaterThan(
      sample(before, 'strata_events_appended_total'),
    );
    expect(sample(text, 'strata_append_duration_seconds_count')).toBeGreaterThan(
      sample(before, 'strata_append_duration_seconds_count'),
    );

    feed.stop();
    await ws.dispose();
    // An SSE stream: released when the client goes; counted as a request, not timed.
    const post = { route: '/graphql', method: 'POST' };
    const beforeSse = await scrape();
    const got = await sse<any>(s.url, EVENTS, { after: first }, seeded.admin, 1);
    expect(got[0].data.events.cursor).toEqual(expect.any(String));
    const closedDeadline = Date.now() + 5_000;
    let afterSse = await scrape();
    while (
      sample(afterSse, 'strata_live_subscriptions') !== 0 ||
      sample(afterSse, 'strata_http_requests_total', post) ===
        sample(beforeSse, 'strata_http_requests_total', post)
    ) {
      if (Date.now() > closedDeadline) throw new Error('the SSE stream was not released');
      await new Promise((r) => setTimeout(r, 50));
      afterSse = await scrape();
    }
    expect(
      sample(afterSse, 'strata_http_requests_total', post) -
        sample(beforeSse, 'strata_http_requests_total', post),
    ).toBe(1);
    expect(sample(afterSse, 'strata_http_request_duration_seconds_count', post)).toBe(
      sample(beforeSse, 'strata_http_request_duration_seconds_count', post),
    );
  });

  it('caps distinct operation names (beyond the cap: "other") so clients cannot flood the series', () => {
    const m = new Metrics();
    for (let i = 0; i < MAX_OPERATION_NAMES; i++) expect(m.operationLabel(`Op${i}`)).toBe(`Op${i}`);
    expect(m.operationLabel('OneTooMany')).toBe('other');
    expect(m.operationLabel('Op7')).toBe('Op7'); // known names keep their label
    expect(m.operationLabel(undefined)).toBe('anonymous');
    expect(m.operationLabel(`x${'y'.repeat(200)}`)).toBe('other');
    expect(m.operationLabel(randomUUID())).toBe('other'); // not a GraphQL name
  });
});
