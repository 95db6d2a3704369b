import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';

describe(`server on ${engine}`, () => {
  const { t, s } = useTestApp({ per: 'test' });

  it('answers { __typename } on /graphql', async () => {
    const r = await s.graphql('{ __typename serverInfo { engine } }');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { __typename: 'Query', serverInfo: { engine } } });
  });

  it('reports health as 200 JSON while the database answers, 503 when it does not', async () => {
    const up = await fetch(`${s.url}/health`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ status: 'ok', database: 'up', engine });
    await t.db.close();
    const down = await fetch(`${s.url}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', database: 'down' });
  });

  it('exposes Prometheus metrics, counting appends', async () => {
    const before = await (await fetch(`${s.url}/metrics`)).text();
    expect(before).toMatch(/strata_process_process_cpu_user_seconds_total/);
    expect(before).toMatch(/^strata_events_appended_total 0$/m);
    const appended = await s.app.store.append('m-1', 'thing', [
      { type: 'T', data: {} },
      { type: 'T', data: {} },
    ]);
    await s.app.projections.waitFor(appended.cursor);
    const res = await fetch(`${s.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const after = await res.text();
    expect(after).toMatch(/^strata_events_appended_total 2$/m);
    expect(after).toMatch(/^strata_append_duration_seconds_count 1$/m);
    expect(after).toMatch(/^strata_projection_lag_events\{projection="orders"\} 0$/m);
    expect(after).toMatch(/^strata_readers_held_back_seconds [0-9.e-]+$/m);
  });

  it('serves GraphiQL from the server itself, with no CDN', async () => {
    const res = await fetch(`${s.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/GraphiQL/);
    expect(html).not.toMatch(/<script[^>]+src="https?:/);
    expect(html).not.toMatch(/<link[^>]+href="https?:/);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
  });

  it('masks unexpected errors and rejects malformed requests with a clear error', async () => {
    const bad = await s.graphql('{ nope }');
    expect(bad.body.errors?.[0]?.message).toMatch(/Cannot query field "nope"/);
    const res = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(res.status).toBe(400);
  });
});
