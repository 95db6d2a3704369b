import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
import { onResponseHead } from '../observability/responses.js';

/*
 * Graceful shutdown of the HTTP side (docs/adr/0008-observability-and-shutdown.md). The order matters:
 *  1. stop accepting connections, and tell keep-alive clients this connection ends; open
 *     graphql-ws sockets answer new operations with SHUTTING_DOWN (nothing runs);
 *  2. let in-flight requests, and queries and mutations running on graphql-ws sockets,
 *     finish and get their answer: an acknowledged command is one whose answer went out,
 *     so a mutation is never cut between commit and reply (the read side keeps running
 *     meanwhile, for read-your-writes waits);
 *  3. close graphql-ws sockets with 1001 "resume from your last cursor" (every event sent
 *     carried its cursor);
 *  4. end the remaining live subscriptions (SSE streams complete cleanly);
 *  5. wait for the last connections, then cut whatever is left.
 * The app then stops projections at a checkpoint, releases the LISTEN connection and
 * closes the pool. Each step is bounded by a share of the shutdown timeout.
 */

/** Tracks the server's in-flight requests so a shutdown can wait for them. */
export interface RequestTracker {
  /** Requests (streams excluded) whose response has not ended. */
  inFlight(): number;
  /** From now on every response closes its connection once sent. */
  drain(): void;
  /** Resolves when no request is in flight, or at `deadline` (ms since epoch); true if idle. */
  idle(deadline: number): Promise<boolean>;
}

export function trackRequests(server: Server): RequestTracker {
  const pending = new Set<ServerResponse>();
  let draining = false;
  let waiters: (() => void)[] = [];
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  };
  // Prepended: it must see the response before any handler writes its headers.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (draining) closeAfter(res);
    // A response that ends while draining leaves an idle keep-alive connection (an SSE
    // stream's headers went out long before): close it rather than wait for its timeout.
    res.once('finish', () => {
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
    // Every request is in flight until its response says it is a stream (which ends in
    // step 4, not 2).
    pending.add(res);
    const settle = () => {
      if (!pending.delete(res) || pending.size > 0) return;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    };
    onResponseHead(res, (stream) => stream && settle());
    res.once('close', settle);
  });
  return {
    inFlight: () => pending.size,
    drain() {
      draining = true;
      for (const res of pending) closeAfter(res);
    },
    idle(deadline) {
      if (pending.size === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(pending.size === 0), deadline - Date.now());
        timer.unref();
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}

export interface ShutdownParts {
  server: Server;
  requests: RequestTracker;
  /**
   * The graphql-ws server: `drain(deadline)` refuses new operations and resolves once the
   * running queries and mutations were answered (true) or at the deadline (false);
   * `close()` sends every socket the resumable close.
   */
  ws: {
    drain(deadline: number): Promise<boolean>;
    inFlight(): number;
    close(): Promise<void>;
    clients(): number;
  };
  /** The subscription hub: `stop()` completes every remaining subscription. */
  live: { stop(): Promise<void>; readonly subscriptionCount: number };
  logger: Logger;
  /** The whole shutdown's budget; the HTTP side takes at most 70 % of it. */
  timeoutMs: number;
}

/** Steps 1–5 above; never throws, never waits past its share of the budget. */
export async function shutDownHttp(p: ShutdownParts): Promise<void> {
  const t0 = Date.now();
  const by = (share: number) => t0 + p.timeoutMs * share;
  const log = p.logger;

  const closed = new Promise<void>((resolve) => p.server.close(() => resolve()));
  p.requests.drain();
  const wsAnswered = p.ws.drain(by(0.5));
  p.server.closeIdleConnections();
  log.info(
    { phase: 'stop-accepting', inFlight: p.requests.inFlight(), wsInFlight: p.ws.inFlight() },
    'shutdown: no new connections',
  );

  const [requestsIdle, wsIdle] = await Promise.all([p.requests.idle(by(0.5)), wsAnswered]);
  if (requestsIdle && wsIdle) {
    log.info({ phase: 'in-flight' }, 'shutdown: in-flight requests answered');
  } else {
    log.warn(
      { phase: 'in-flight', inFlight: p.requests.inFlight(), wsInFlight: p.ws.inFlight() },
      'shutdown: requests still running at their deadline; going on',
    );
  }

  const sockets = p.ws.clients();
  const wsClosed = await within(p.ws.close(), by(0.6), log);
  log.info(
    { phase: 'websocket', sockets, complete: wsClosed },
    'shutdown: WebSocket subscribers closed (1001: resume from the last cursor)',
  );

  const subscriptions = p.live.subscriptionCount;
  await within(p.live.stop(), by(0.65), log);
  log.info({ phase: 'live', subscriptions }, 'shutdown: live subscriptions ended (SSE completed)');

  p.server.closeIdleConnections();
  if (!(await within(closed, by(0.7), log))) {
    p.server.closeAllConnections();
    log.warn({ phase: 'http' }, 'shutdown: connections still open at their deadline were cut');
  } else {
    log.info({ phase: 'http' }, 'shutdown: HTTP server closed');
  }
}

/** Runs one shutdown step and logs it once done. */
export function logged(logger: Logger, phase: string, message: string, step: () => Promise<void>) {
  return async (): Promise<void> => {
    await step();
    logger.info({ phase }, `shutdown: ${message}`);
  };
}

/** True when `promise` settled before `deadline`; a failure is logged and counts as settled. */
function within(promise: Promise<unknown>, deadline: number, logger: Logger): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.warn({ err }, 'shutdown: a step failed; going on');
        resolve(true);
      },
    );
  });
}
