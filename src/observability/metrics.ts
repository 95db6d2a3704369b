import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProjectionStatus } from '../projections/runtime.js';

/**
 * The process's Prometheus metrics. One registry per app (not prom-client's global one),
 * so several apps in one test process do not collide.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsAppended: Counter;
  readonly appends: Histogram;
  readonly projectionEvents: Counter;
  readonly projectionBatches: Histogram;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'strata_process_' });
    this.eventsAppended = new Counter({
      name: 'strata_events_appended_total',
      help: 'Events appended to the event store by this process',
      registers: [this.registry],
    });
    this.appends = new Histogram({
      name: 'strata_append_duration_seconds',
      help: 'Latency of event store appends (one command each), from call to commit',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.projectionEvents = new Counter({
      name: 'strata_projection_events_total',
      help: 'Events read by each projection (applied or skipped)',
      labelNames: ['projection'],
      registers: [this.registry],
    });
    this.projectionBatches = new Histogram({
      name: 'strata_projection_batch_duration_seconds',
      help: 'Time to apply one batch of events and move the checkpoint',
      labelNames: ['projection'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
  }

  recordProjectionBatch(name: string, events: number, seconds: number): void {
    this.projectionEvents.inc({ projection: name }, events);
    this.projectionBatches.observe({ projection: name }, seconds);
  }

  /**
   * Readers of the log wait for the oldest writing transaction of the database (DESIGN.md,
   * invariant 5): its age and backend pid, read when Prometheus scrapes.
   */
  observeReaderHorizon(oldest: () => Promise<{ pid: number; seconds: number } | null>): void {
    let latest: Promise<{ pid: number; seconds: number } | null> | undefined;
    const fetch = () =>
      (latest ??= oldest()
        .catch(() => null)
        .finally(() => setTimeout(() => (latest = undefined), 100)));
    new Gauge({
      name: 'strata_readers_held_back_seconds',
      help: 'Age of the oldest open writing transaction in the database: log readers (projections, subscriptions) cannot see past it',
      registers: [this.registry],
      async collect() {
        this.set((await fetch())?.seconds ?? 0);
      },
    });
    new Gauge({
      name: 'strata_readers_held_back_by_pid',
      help: 'Backend pid of that transaction (0 when none is open)',
      registers: [this.registry],
      async collect() {
        this.set((await fetch())?.pid ?? 0);
      },
    });
  }

  /** Projection lag and state, computed when Prometheus scrapes. */
  observeProjections(status: () => Promise<ProjectionStatus[]>): void {
    let latest: Promise<ProjectionStatus[]> | undefined;
    const fetch = () =>
      (latest ??= status().finally(() => setTimeout(() => (latest = undefined), 100)));
    new Gauge({
      name: 'strata_projection_lag_events',
      help: 'Events in the log that the active projection generation has not applied yet',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await fetch())
          if (s.active) this.set({ projection: s.name }, s.eventsBehind);
      },
    });
    new Gauge({
      name: 'strata_projection_lag_seconds',
      help: 'Age of the oldest event the active projection generation has not applied yet',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await fetch())
          if (s.active) this.set({ projection: s.name }, s.secondsBehind);
      },
    });
    new Gauge({
      name: 'strata_projection_stopped',
      help: '1 when the projection stopped on a poison event',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await fetch())
          if (s.active) this.set({ projection: s.name }, s.state === 'stopped' ? 1 : 0);
      },
    });
  }

  /** Hook for the event store's `onAppend`. */
  readonly recordAppend = (seconds: number, events: number): void => {
    this.appends.observe(seconds);
    this.eventsAppended.inc(events);
  };
}
