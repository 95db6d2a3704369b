import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics. One registry per app (not prom-client's global one),
 * so several apps in one test process do not collide.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsAppended: Counter;
  readonly appends: Histogram;

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
  }

  /** Hook for the event store's `onAppend`. */
  readonly recordAppend = (seconds: number, events: number): void => {
    this.appends.observe(seconds);
    this.eventsAppended.inc(events);
  };
}
