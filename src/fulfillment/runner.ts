import type { Principal } from '../auth/principal.js';
import { productDecider } from '../catalog/index.js';
import type { CommandHandler, CommandEnvelope } from '../commands/handler.js';
import { ConcurrencyError } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/store.js';
import type { StoredEvent } from '../eventstore/types.js';
import type { Logger } from '../observability/logger.js';
import { orderDecider, orderStreamId } from '../orders/index.js';
import type { Projection } from '../projections/types.js';
import { DomainError } from '../shared/decider.js';
import { deriveCommandId } from './ids.js';
import { fulfillmentDecider, pendingCommands } from './process.js';
import { shipmentDecider } from './shipment.js';
import { describeFulfillmentEvent } from './timeline.js';
import { domainEvent, expectDomainEvent } from '../shared/events.js';
import {
  fulfillmentTriggerEventTypes,
  type FulfillmentTrigger,
  type OutgoingCommand,
} from './triggers.js';
import {
  fulfillmentEventTypes,
  fulfillmentItems,
  fulfillmentStreamId,
  FULFILLMENT_STREAM_TYPE,
  type FulfillmentEventType,
  type FulfillmentStep,
} from './events.js';

/*
 * The runner of the fulfillment process manager: a projection in `effects` mode, so the
 * runtime hands it the trigger events in commit order, outside any transaction, and moves
 * its checkpoint afterwards (at least once). For each trigger it
 *  1. records the trigger in the process stream `fulfillment-<orderId>` through the
 *     command handler (the decider is `react`; the command id is derived from the trigger,
 *     so a re-delivered trigger is a replay that records nothing);
 *  2. sends every command the process state names as pending (`pendingCommands`), each
 *     under its derived id, so one sent before a crash is a replay on the command side;
 *  3. feeds a refusal of a command back into the process at once (it is not in the log),
 *     and goes on until nothing new is due.
 * Transient failures (database, persistent conflicts) are thrown: the runtime retries the
 * batch with backoff. Anything else that makes a command fail is recorded as a failure of
 * its step instead of blocking the other orders.
 */

/** The name of the runner in the projection runtime (status, checkpoints, leases). */
export const FULFILLMENT_PROCESS = 'fulfillment';

/** The principal the process acts as: a service. */
export const FULFILLMENT_PRINCIPAL: Principal = { userId: 'fulfillment', role: 'service' };

export interface FulfillmentProcessOptions {
  logger?: Logger;
  /** The clock, for the time of refusals and failures. */
  now?: () => Date;
  /** Attempts of a command that keeps meeting concurrent writers before the batch is retried. */
  conflictAttempts?: number;
  /** Orders of one batch handled side by side (default 8). */
  concurrency?: number;
  /**
   * Told of every step that did not go through: `refused` (stock short), `rejected` (any
   * other business refusal) or `failed` (for good, after retries). For metrics.
   */
  onStepFailure?: (step: FulfillmentStep, outcome: 'refused' | 'rejected' | 'failed') => void;
  /** An order paid but not fully reserved within this time is flagged late (default 5 min). */
  reservationTimeoutMs?: number;
}

/** The fulfillment process: a projection in `effects` mode, plus its deadline check. */
export interface FulfillmentProcess extends Projection {
  /**
   * Flags every process still reserving stock `reservationTimeoutMs` after it started
   * (once per order); resolves with the number of orders checked.
   */
  checkDeadlines(): Promise<number>;
}

/** Events after which a process is no longer waiting for its reservation. */
const RESERVATION_ANSWERED = [
  'StockReservationCompleted',
  'StockShortageDetected',
  'OrderCancellationNoted',
  'FulfillmentCancelled',
  'FulfillmentFailed',
  'FulfillmentFlaggedLate',
] as const satisfies readonly FulfillmentEventType[];

/** At most this many late orders are flagged per check; the next check takes the rest. */
const DEADLINE_BATCH = 100;

/**
 * How far back the first deadline check of a process looks, before the timeout: a process
 * that has waited longer was flagged by the servers that ran then. Later checks look only
 * at what came since the previous one (with a margin for late commits), so a check costs
 * the orders of its interval, not the whole history.
 */
const FIRST_CHECK_LOOKBACK_MS = 7 * 24 * 3_600_000;
const CHECK_OVERLAP_MS = 60_000;

const TRANSIENT = /^(08|57P|40001|40P01|53|55P03)/;
const isTransient = (err: unknown): boolean => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT.test(code);
};

/** An error the runtime treats as transient (SQLSTATE 40001): it retries the batch. */
const retryLater = (message: string, cause: unknown) =>
  Object.assign(new Error(message, { cause }), { code: '40001' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lets the rest of the process run between two steps. On PGlite a database call can
 * resolve without a real wait, so a long chain of steps would otherwise hold the event
 * loop (and every request of the server) until it ends.
 */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function fulfillmentProcess(
  commands: CommandHandler,
  store: EventStore,
  options: FulfillmentProcessOptions = {},
): FulfillmentProcess {
  const now = options.now ?? (() => new Date());
  const conflictAttempts = options.conflictAttempts ?? 5;
  const concurrency = options.concurrency ?? 8;
  const reservationTimeoutMs = options.reservationTimeoutMs ?? 5 * 60_000;

  /** The trigger a log event stands for; null for an event without an order. */
  async function triggerOf(event: StoredEvent): Promise<FulfillmentTrigger | null> {
    const ev = domainEvent(event, fulfillmentTriggerEventTypes);
    if (ev === null) return null;
    // Checked still: a payload without an order is not the process's business.
    const orderId: unknown = ev.data.orderId;
    if (typeof orderId !== 'string') return null;
    if (ev.type !== 'OrderPaid') return { ...ev, eventId: event.eventId };
    // The lines cannot change once paid: any read of the order gives the same items.
    const order = await commands.load(orderDecider, orderStreamId(orderId));
    if (order.state.status === 'NOT_CREATED') {
      throw new Error(`Order ${orderId} was paid but its stream is empty`);
    }
    return { ...ev, eventId: event.eventId, items: fulfillmentItems(order.state.items) };
  }

  const envelope = (
    commandId: string,
    correlationId: string,
    operation: string,
    input: unknown,
  ): CommandEnvelope => ({
    commandId,
    principal: FULFILLMENT_PRINCIPAL,
    correlationId,
    operation,
    input,
  });

  /** Records a trigger in the process stream; a replay when it was recorded before. */
  async function record(trigger: FulfillmentTrigger, orderId: string, correlationId: string) {
    const cause =
      'eventId' in trigger
        ? trigger.eventId
        : 'commandId' in trigger.data
          ? trigger.data.commandId
          : `${trigger.type}:${orderId}`;
    const id = deriveCommandId(cause, `observe:${trigger.type}`);
    return commands.execute(
      fulfillmentDecider,
      fulfillmentStreamId(orderId),
      trigger,
      // The input names the trigger, not its details: a refusal seen again after a crash
      // may carry another time, and must still be the same command.
      envelope(id, correlationId, 'fulfillment:observe', { type: trigger.type, cause }),
    );
  }

  function execute(out: OutgoingCommand, correlationId: string) {
    const env = envelope(out.commandId, correlationId, `fulfillment:${out.step}`, out.command);
    switch (out.target) {
      case 'product':
        return commands.execute(productDecider, out.streamId, out.command, env);
      case 'order':
        return commands.execute(orderDecider, out.streamId, out.command, env);
      case 'shipment':
        return commands.execute(shipmentDecider, out.streamId, out.command, env);
    }
  }

  /** Sends one command; the trigger its refusal or failure stands for, else null. */
  async function send(
    out: OutgoingCommand,
    orderId: string,
    correlationId: string,
  ): Promise<FulfillmentTrigger | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        await execute(out, correlationId);
        return null;
      } catch (err) {
        const at = now().toISOString();
        if (err instanceof DomainError) {
          if (err.code === 'INSUFFICIENT_STOCK' && out.target === 'product') {
            const product = await commands.load(productDecider, out.streamId);
            const available = product.state.status === 'REGISTERED' ? product.state.available : 0;
            options.onStepFailure?.(out.step, 'refused');
            return {
              type: 'StockReservationRefused',
              data: { orderId, commandId: out.commandId, available, refusedAt: at },
            };
          }
          options.onStepFailure?.(out.step, 'rejected');
          return {
            type: 'CommandRejected',
            data: {
              orderId,
              commandId: out.commandId,
              code: err.code,
              message: err.message,
              rejectedAt: at,
            },
          };
        }
        if (isTransient(err)) throw err;
        if (err instanceof ConcurrencyError) {
          if (attempt < conflictAttempts) {
            await sleep(Math.random() * 20 * attempt);
            continue;
          }
          throw retryLater(
            `fulfillment step ${out.step} of order ${orderId} kept conflicting`,
            err,
          );
        }
        options.logger?.error(
          { err, orderId, step: out.step, commandId: out.commandId },
          'fulfillment step failed for good',
        );
        options.onStepFailure?.(out.step, 'failed');
        return {
          type: 'CommandFailed',
          data: {
            orderId,
            commandId: out.commandId,
            reason: (err as Error)?.message ?? String(err),
            failedAt: at,
          },
        };
      }
    }
  }

  /**
   * Ids of commands this process sent and saw succeed. Such a command stays PENDING in the
   * process state until its effect comes back through the log; sending it again would be
   * a harmless replay, but costs a round trip per later trigger. Memory only: after a
   * restart everything pending is sent again, as it must be.
   */
  const landed = new Set<string>();
  /** Processes started before this have all been checked against the deadline. */
  let checkedUpTo: Date | undefined;
  const LANDED_MAX = 20_000;

  /** One log event: record it, then send what is due, feeding refusals back in. */
  async function handle(event: StoredEvent) {
    const first = await triggerOf(event);
    if (!first) return;
    const orderId = first.data.orderId;
    const correlationId = event.correlationId ?? event.metadata.correlationId ?? orderId;
    const sent = new Set<string>();
    const queue: FulfillmentTrigger[] = [first];
    for (let trigger = queue.shift(); trigger; trigger = queue.shift()) {
      await turn();
      const recorded = await record(trigger, orderId, correlationId);
      const state =
        recorded.state ??
        (await commands.load(fulfillmentDecider, fulfillmentStreamId(orderId))).state;
      for (const out of pendingCommands(state)) {
        // Sent in this round already, or seen to succeed: its effect comes through the log.
        if (sent.has(out.commandId) || landed.has(out.commandId)) continue;
        sent.add(out.commandId);
        await turn();
        const outcome = await send(out, orderId, correlationId);
        if (outcome) {
          // The process decides anew on a refusal before anything else is sent.
          queue.push(outcome);
          break;
        }
        if (landed.size >= LANDED_MAX) landed.clear();
        landed.add(out.commandId);
      }
    }
  }

  /**
   * A batch: each order's events in log order, different orders side by side (their
   * processes are separate streams). A failure fails the batch, once every order in
   * flight has stopped, and the runtime delivers it again: what was done is a replay.
   */
  async function applyBatch(events: StoredEvent[]) {
    const byOrder = new Map<string, StoredEvent[]>();
    for (const event of events) {
      const orderId = (event.data as { orderId?: unknown } | null)?.orderId;
      if (typeof orderId !== 'string') continue;
      const list = byOrder.get(orderId);
      if (list) list.push(event);
      else byOrder.set(orderId, [event]);
    }
    const groups = [...byOrder.values()];
    let failure: { err: unknown } | undefined;
    const worker = async () => {
      for (let group = groups.shift(); group && !failure; group = groups.shift()) {
        try {
          for (const event of group) await handle(event);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, worker));
    if (failure) throw failure.err;
  }

  return {
    name: FULFILLMENT_PROCESS,
    version: 1,
    tables: [],
    eventTypes: fulfillmentTriggerEventTypes,
    mode: 'effects',
    apply: (_db, events) => applyBatch(events),
    async checkDeadlines() {
      const at = now();
      const before = new Date(at.getTime() - reservationTimeoutMs);
      const streams = await store.streamsAwaiting({
        streamType: FULFILLMENT_STREAM_TYPE,
        startedBy: 'FulfillmentStarted',
        before,
        after: new Date(
          (checkedUpTo?.getTime() ?? before.getTime() - FIRST_CHECK_LOOKBACK_MS) - CHECK_OVERLAP_MS,
        ),
        without: RESERVATION_ANSWERED,
        limit: DEADLINE_BATCH,
      });
      for (const streamId of streams) {
        const orderId = streamId.slice(fulfillmentStreamId('').length);
        // The decider decides whether it is late (`isLate`); recorded once per order.
        await record(
          {
            type: 'CheckReservationDeadline',
            data: { orderId, now: at.toISOString(), limitMs: reservationTimeoutMs },
          },
          orderId,
          orderId,
        );
      }
      // A full page may have left some behind: the next check looks from the same point.
      if (streams.length < DEADLINE_BATCH) checkedUpTo = before;
      return streams.length;
    },
    async problems(limit) {
      const events = await store.latest({
        eventTypes: ['FulfillmentFailed', 'FulfillmentFlaggedLate'],
        limit,
      });
      return events.map((e) => {
        const ev = expectDomainEvent(e, fulfillmentEventTypes);
        return {
          key: ev.data.orderId,
          type: e.type,
          message: describeFulfillmentEvent(ev),
          at:
            ev.type === 'FulfillmentFailed'
              ? ev.data.failedAt
              : ev.type === 'FulfillmentFlaggedLate'
                ? ev.data.flaggedAt
                : e.recordedAt.toISOString(),
        };
      });
    },
  };
}

/**
 * Runs the deadline check of a fulfillment process every `intervalMs` (a fraction of the
 * timeout) until stopped. Every process may run it: each order is flagged once, by a
 * command whose id is derived from the order, so concurrent checks agree.
 */
export function startDeadlineTimer(
  process: FulfillmentProcess,
  options: { intervalMs: number; logger?: Logger },
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = process
      .checkDeadlines()
      .catch((err: unknown) =>
        options.logger?.warn({ err }, 'fulfillment deadline check failed; retrying later'),
      )
      .finally(() => (running = undefined));
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
