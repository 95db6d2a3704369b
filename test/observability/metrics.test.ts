import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import type { ProjectionStatus } from '../../src/projections/runtime.js';

/**
 * `/metrics` when the database does not answer: the projection status is left out (and
 * said to be), every other metric is still served. A failing collector would otherwise
 * fail the whole scrape, just when the metrics are needed.
 */
describe('metrics without a database', () => {
  const lag = (name: string) =>
    ({ name, active: true, eventsBehind: 3, secondsBehind: 1.5, state: 'running' }) as never;

  it('serve the rest when the projection status fails, and report the status as down', async () => {
    let fail = false;
    const m = new Metrics();
    m.observeProjections(async () => {
      if (fail) throw new Error('connection terminated');
      return [lag('orders')] as ProjectionStatus[];
    });
    m.observeReaderHorizon(async () => {
      if (fail) throw new Error('connection terminated');
      return null;
    });
    const up = await m.registry.metrics();
    expect(up).toMatch(/strata_projection_status_up 1/);
    expect(up).toMatch(/strata_projection_lag_events\{projection="orders"\} 3/);

    fail = true;
    await new Promise((r) => setTimeout(r, 150)); // past the per-scrape cache
    const down = await m.registry.metrics();
    expect(down).toMatch(/strata_projection_status_up 0/);
    // No stale lag from the last answer.
    expect(down).not.toMatch(/strata_projection_lag_events\{/);
    expect(down).toMatch(/strata_events_appended_total/);
  });

  it('do not wait for a database that does not answer', async () => {
    const m = new Metrics();
    m.observeProjections(() => new Promise<ProjectionStatus[]>(() => undefined));
    const text = await m.registry.metrics(); // resolves after the scrape's 2 s bound
    expect(text).toMatch(/strata_projection_status_up 0/);
  });
});
