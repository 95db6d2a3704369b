import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProjectionStatus } from '../projections/runtime.js';
import { onResponseHead } from './responses.js';

/** Distinct operation names a process labels metrics with; later ones count as `other`. */
export const MAX_OPERATION_NAMES = 200;

/** How an operation ended, as a metric label. */
export type OperationOutcome = 'ok' | 'error';

const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;
const ROUTES = new Set(['/graphql', '/health', '/metrics']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS']);

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
  readonly operations: Counter;
  readonly operationDuration: Histogram;
  readonly httpRequests: Counter;
  readonly httpDuration: Histogram;
  readonly stepFailures: Counter;
  /** Operation names already used as label values (bounded by MAX_OPERATION_NAMES). */
  private readonly operationNames = new Set<string>();

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
    this.operations = new Counter({
      name: 'strata_graphql_operations_total',
      help: 'GraphQL operations by name, type and outcome, counted when they end (a subscription when it closes)',
      labelNames: ['operation', 'type', 'outcome'],
      registers: [this.registry],
    });
    this.operationDuration = new Histogram({
      name: 'strata_graphql_operation_duration_seconds',
      help: 'Latency of GraphQL queries and mutations, from request to result (subscriptions are not timed: they last as long as the client wants)',
      labelNames: ['operation', 'type', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.httpRequests = new Counter({
      name: 'strata_http_requests_total',
      help: 'HTTP requests by route, method and status, counted when the response ends',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'strata_http_request_duration_seconds',
      help: 'HTTP request latency by route, until the response ends (streams such as SSE are not timed)',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.stepFailures = new Counter({
      name: 'strata_fulfillment_step_failures_total',
      help: 'Fulfillment process steps that did not go through: refused (stock short), rejected (other business refusal) or failed (for good)',
      labelNames: ['step', 'outcome'],
      registers: [this.registry],
    });
  }

  /**
   * The label value for an operation name: `anonymous` when unnamed, `other` once
   * MAX_OPERATION_NAMES names are in use (clients choose names, and every distinct label
   * value is a time series kept forever).
   */
  operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }

  /** One GraphQL operation ended; `seconds` is omitted for subscriptions. */
  recordOperation(o: {
    name: string | null | undefined;
    type: string | undefined;
    outcome: OperationOutcome;
    seconds?: number;
  }): void {
    const labels = {
      operation: this.operationLabel(o.name),
      type: o.type ?? 'unknown',
      outcome: o.outcome,
    };
    this.operations.inc(labels);
    if (o.seconds !== undefined) this.operationDuration.observe(labels, o.seconds);
  }

  /** Hook for the fulfillment process's `onStepFailure`. */
  readonly recordStepFailure = (step: string, outcome: string): void => {
    this.stepFailures.inc({ step, outcome });
  };

  /** Counts every request the server answers, by route (unknown paths are `other`). */
  instrumentHttp(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      const path = (req.url ?? '/').split('?')[0]!;
      const route = ROUTES.has(path) ? path : 'other';
      const method = METHODS.has(req.method ?? '') ? req.method! : 'other';
      let stream = false;
      onResponseHead(res, (isStream) => (stream = isStream));
      // 'close' also fires for a response cut short (client gone, forced shutdown).
      res.once('close', () => {
        this.httpRequests.inc({ route, method, status: String(res.statusCode) });
        // A stream (SSE, multipart, by its content type) lasts as long as its client wants:
        // its life is no latency.
        if (!stream)
          this.httpDuration.observe({ route, method }, (performance.now() - started) / 1000);
      });
    });
  }

  /** Live delivery: open subscriptions and events handed to them, read from the hub on scrape. */
  observeLive(hub: { readonly subscriptionCount: number; readonly delivered: number }): void {
    new Gauge({
      name: 'strata_live_subscriptions',
      help: 'Open live subscriptions in this process (graphql-ws and SSE)',
      registers: [this.registry],
      collect() {
        this.set(hub.subscriptionCount);
      },
    });
    counterFrom(this.registry, {
      name: 'strata_live_deliveries_total',
      help: 'Events handed to live subscriptions (after filtering)',
      read: () => hub.delivered,
    });
  }

  /** The LISTEN bridge: times its connection was re-established. */
  observeNotifier(notifier: { readonly reconnects: number }): void {
    counterFrom(this.registry, {
      name: 'strata_listen_reconnects_total',
      help: 'Times the LISTEN connection (the wake-up bridge from PostgreSQL) was re-established',
      read: () => notifier.reconnects,
    });
  }

  /**
   * Read replicas (DATABASE_READ_URL): where queries' statements ran, and why requests
   * left their replica for the primary, counted by the replicas and mirrored on scrape.
   */
  observeReads(replicas: {
    readonly reads: Readonly<Record<string, number>>;
    readonly fallbacks: Readonly<Record<string, number>>;
  }): void {
    labelledCounterFrom(this.registry, {
      name: 'strata_read_statements_total',
      help: 'Statements of GraphQL queries by where they ran: replica, primary (no replica usable) or fallback (the primary, after the request left its replica)',
      label: 'target',
      read: () => replicas.reads,
    });
    labelledCounterFrom(this.registry, {
      name: 'strata_replica_fallbacks_total',
      help: 'Queries that left their replica for the primary: lag (it had not replayed a consistentWith cursor within STRATA_REPLICA_WAIT_MS) or error',
      label: 'reason',
      read: () => replicas.fallbacks,
    });
  }

  recordProjectionBatch(name: string, events: number, seconds: number): void {
    this.projectionEvents.inc({ projection: name }, events);
    this.projectionBatches.observe({ projection: name }, seconds);
  }

  /**
   * Readers of the log wait for the oldest writing transaction of the database (docs/architecture.md,
   * "Event store invariants", the read horizon): its age and backend pid, read when Prometheus scrapes.
   */
  observeReaderHorizon(oldest: () => Promise<{ pid: number; seconds: number } | null>): void {
    let latest: Promise<{ pid: number; seconds: number } | null> | undefined;
    const fetch = () =>
      (latest ??= within(SCRAPE_DB_MS, oldest())
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
    let latest: Promise<ProjectionStatus[] | null> | undefined;
    // A database that does not answer must not take /metrics down with it (a failing
    // collector fails the whole scrape): the projection gauges are then reset, and
    // `strata_projection_status_up` says why they are missing.
    const fetch = () =>
      (latest ??= within(SCRAPE_DB_MS, status())
        .catch(() => null)
        .finally(() => setTimeout(() => (latest = undefined), 100)));
    const active = async (gauge: Gauge) => {
      const all = await fetch();
      // Reset first: a generation no longer active (or no answer) stops reporting.
      gauge.reset();
      return (all ?? []).filter((s) => s.active);
    };
    new Gauge({
      name: 'strata_projection_status_up',
      help: '1 when the projection status could be read for this scrape, 0 when the database did not answer in time',
      registers: [this.registry],
      async collect() {
        this.set((await fetch()) === null ? 0 : 1);
      },
    });
    new Gauge({
      name: 'strata_projection_lag_events',
      help: 'Events in the log that the active projection generation has not applied yet',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await active(this)) this.set({ projection: s.name }, s.eventsBehind);
      },
    });
    new Gauge({
      name: 'strata_projection_lag_seconds',
      help: 'Age of the oldest event the active projection generation has not applied yet',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await active(this)) this.set({ projection: s.name }, s.secondsBehind);
      },
    });
    new Gauge({
      name: 'strata_projection_stopped',
      help: '1 when the projection stopped on a poison event',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const s of await active(this))
          this.set({ projection: s.name }, s.state === 'stopped' ? 1 : 0);
      },
    });
  }

  /** Hook for the event store's `onAppend`. */
  readonly recordAppend = (seconds: number, events: number): void => {
    this.appends.observe(seconds);
    this.eventsAppended.inc(events);
  };
}

/** How long a scrape waits for the database before reporting without it. */
const SCRAPE_DB_MS = 2_000;

/** `p`, or a rejection once `ms` have passed. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A counter mirroring a monotonic number kept elsewhere, brought up to date on scrape. */
function counterFrom(
  registry: Registry,
  o: { name: string; help: string; read: () => number },
): void {
  let seen = 0;
  new Counter({
    name: o.name,
    help: o.help,
    registers: [registry],
    collect() {
      const now = o.read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}

/** {@link counterFrom} for numbers kept by label value (every value reported, 0 included). */
function labelledCounterFrom(
  registry: Registry,
  o: { name: string; help: string; label: string; read: () => Readonly<Record<string, number>> },
): void {
  const seen = new Map<string, number>();
  new Counter({
    name: o.name,
    help: o.help,
    labelNames: [o.label],
    registers: [registry],
    collect() {
      for (const [value, now] of Object.entries(o.read())) {
        const before = seen.get(value) ?? 0;
        this.inc({ [o.label]: value }, Math.max(0, now - before));
        seen.set(value, Math.max(before, now));
      }
    },
  });
}
