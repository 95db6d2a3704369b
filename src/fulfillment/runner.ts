import type { Principal } from '../auth/principal.js';
import { productDecider, productStreamId } from '../catalog/index.js';
import type { CommandHandler } from '../commands/handler.js';
import type { UnitOfWork } from '../commands/unit-of-work.js';
import { ConcurrencyError } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/store.js';
import type { StoredEvent } from '../eventstore/types.js';
import type { Logger } from '../observability/logger.js';
import { orderDecider, orderStreamId } from '../orders/index.js';
import type { Projection } from '../projections/types.js';
import { assertNever, DomainError, type DomainEvent } from '../shared/decider.js';
import { deriveCommandId } from './ids.js';
import { commandOf, fulfillmentDecider, pendingCommands, resentAt } from './process.js';
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
  shipmentIdFor,
  shipmentStreamId,
  type FulfillmentEventType,
  type FulfillmentStep,
} from './events.js';

/*
 * The runner of the fulfillment process manager: a projection in `effects` mode, so the
 * runtime hands it the trigger events in commit order, outside any transaction, and moves
 * its checkpoint afterwards (at least once). It handles each batch in one unit of work
 * (docs/adr/0010):
 *  1. one round trip loads the batch's process streams and orders, a second their
 *     products and shipments;
 *  2. for each trigger, the process decider (`react`) records what it tells in the
 *     process stream, and every command the process state names as pending
 *     (`pendingCommands`) is decided on its target stream in memory. The outcome goes
 *     straight back into the process: the effect's events as the log will deliver them,
 *     or the refusal. This goes on until nothing new is due, so payment → reservation of
 *     every item → shipment is one pass, not a trip through the log per step;
 *  3. what was decided is committed in one append every `commitEvents` events (never in
 *     the middle of an order's work), each stream at the version it was loaded at.
 * A concurrent writer on any of those streams makes the commit fail and write nothing:
 * what is not committed yet is decided again from fresh state. A re-delivered batch (a crash before the
 * checkpoint moved) finds its effects in the process state and records nothing. Transient
 * failures are thrown: the runtime retries the batch with backoff. A command whose decider
 * fails for any other reason than a business refusal is recorded as a failure of its
 * step, and the other orders go on.
 *
 * Time comes from the clock (`now`, the app's): a trigger is stamped with the time the
 * runner hands it to the process, a command's outcome with the time the runner learnt
 * it, and the process stamps the steps it takes with those (docs/adr/0006, "Times"). A
 * command recorded in this pass goes out as recorded, at its `requestedAt`; one left
 * pending by an earlier run goes out again with the time it is sent again.
 */

/** The name of the runner in the projection runtime (status, checkpoints, leases). */
export const FULFILLMENT_PROCESS = 'fulfillment';

/** The principal the process acts as: a service. */
export const FULFILLMENT_PRINCIPAL: Principal = { userId: 'fulfillment', role: 'service' };

export interface FulfillmentProcessOptions {
  logger?: Logger;
  /**
   * The clock (the app's): when each trigger is handled and each command sent, i.e. the
   * time of every step the process takes, and of refusals, failures and deadline checks.
   */
  now?: () => Date;
  /** Attempts of a batch that keeps meeting concurrent writers before the runtime retries it. */
  conflictAttempts?: number;
  /**
   * A unit of work commits once it holds this many events (default 600; an append takes
   * at most 1,000, and one order's work, never split, is a few dozen).
   */
  commitEvents?: number;
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

/** An error the runtime treats as transient (SQLSTATE 40001): it retries the batch. */
const retryLater = (message: string, cause: unknown) =>
  Object.assign(new Error(message, { cause }), { code: '40001' });

/** The order a log event is about, if it names one. */
const orderIdOf = (event: StoredEvent): string | undefined => {
  const orderId = (event.data as { orderId?: unknown } | null)?.orderId;
  return typeof orderId === 'string' ? orderId : undefined;
};

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
  const commitEvents = options.commitEvents ?? 600;
  const reservationTimeoutMs = options.reservationTimeoutMs ?? 5 * 60_000;

  /**
   * The trigger a log event stands for, observed at `observedAt`; null for an event
   * without an order.
   */
  function triggerOf(
    uow: UnitOfWork,
    event: StoredEvent,
    observedAt: string,
  ): FulfillmentTrigger | null {
    const ev = domainEvent(event, fulfillmentTriggerEventTypes);
    if (ev === null) return null;
    // Checked still: a payload without an order is not the process's business.
    const orderId: unknown = ev.data.orderId;
    if (typeof orderId !== 'string') return null;
    if (ev.type !== 'OrderPaid') return { ...ev, eventId: event.eventId, observedAt };
    // The lines cannot change once paid: any read of the order gives the same items.
    const order = uow.get(orderDecider, orderStreamId(orderId));
    if (order.state.status === 'NOT_CREATED') {
      throw new Error(`Order ${orderId} was paid but its stream is empty`);
    }
    return {
      ...ev,
      eventId: event.eventId,
      observedAt,
      items: fulfillmentItems(order.state.items),
    };
  }

  const metadataOf = (commandId: string, correlationId: string, operation: string) => ({
    userId: FULFILLMENT_PRINCIPAL.userId,
    role: FULFILLMENT_PRINCIPAL.role,
    commandId,
    correlationId,
    causationId: commandId,
    mutation: operation,
  });

  /** The command id of recording a trigger: the same whenever the trigger is seen again. */
  function observeId(trigger: FulfillmentTrigger, orderId: string) {
    const cause =
      'eventId' in trigger
        ? trigger.eventId
        : 'commandId' in trigger.data
          ? trigger.data.commandId
          : `${trigger.type}:${orderId}`;
    return deriveCommandId(cause, `observe:${trigger.type}`);
  }

  /** Records a trigger in the process stream through the command handler (deadline checks). */
  async function record(trigger: FulfillmentTrigger, orderId: string, correlationId: string) {
    const id = observeId(trigger, orderId);
    return commands.execute(
      fulfillmentDecider,
      fulfillmentStreamId(orderId),
      trigger,
      // The input names the trigger, not its details: a refusal seen again after a crash
      // may carry another time, and must still be the same command.
      {
        commandId: id,
        principal: FULFILLMENT_PRINCIPAL,
        correlationId,
        operation: 'fulfillment:observe',
        input: { type: trigger.type, cause: id },
      },
    );
  }

  const deciderOf = (target: OutgoingCommand['target']) =>
    target === 'product' ? productDecider : target === 'order' ? orderDecider : shipmentDecider;

  /**
   * Decides one command of the process in the unit of work; the triggers its outcome
   * stands for, as learnt `at`: the effect's events as the log will deliver them, or a
   * refusal or failure.
   */
  function send(
    uow: UnitOfWork,
    out: OutgoingCommand,
    orderId: string,
    correlationId: string,
    at: string,
  ): { ok: boolean; triggers: FulfillmentTrigger[] } {
    const meta = metadataOf(out.commandId, correlationId, `fulfillment:${out.step}`);
    let effects: (DomainEvent & { eventId: string })[];
    try {
      switch (out.target) {
        case 'product':
          effects = uow.decide(productDecider, out.streamId, out.command, meta);
          break;
        case 'order':
          effects = uow.decide(orderDecider, out.streamId, out.command, meta);
          break;
        case 'shipment':
          effects = uow.decide(shipmentDecider, out.streamId, out.command, meta);
          break;
        default:
          return assertNever(out);
      }
    } catch (err) {
      if (err instanceof DomainError) {
        if (err.code === 'INSUFFICIENT_STOCK' && out.target === 'product') {
          const product = uow.get(productDecider, out.streamId);
          const available = product.state.status === 'REGISTERED' ? product.state.available : 0;
          options.onStepFailure?.(out.step, 'refused');
          return {
            ok: false,
            triggers: [
              {
                type: 'StockReservationRefused',
                data: { orderId, commandId: out.commandId, available, refusedAt: at },
              },
            ],
          };
        }
        options.onStepFailure?.(out.step, 'rejected');
        return {
          ok: false,
          triggers: [
            {
              type: 'CommandRejected',
              data: {
                orderId,
                commandId: out.commandId,
                code: err.code,
                message: err.message,
                rejectedAt: at,
              },
            },
          ],
        };
      }
      // Not a business refusal: the step cannot be taken, however often it is tried.
      options.logger?.error(
        { err, orderId, step: out.step, commandId: out.commandId },
        'fulfillment step failed for good',
      );
      options.onStepFailure?.(out.step, 'failed');
      return {
        ok: false,
        triggers: [
          {
            type: 'CommandFailed',
            data: {
              orderId,
              commandId: out.commandId,
              reason: (err as Error)?.message ?? String(err),
              failedAt: at,
            },
          },
        ],
      };
    }
    const triggers: FulfillmentTrigger[] = [];
    for (const effect of effects) {
      const ev = domainEvent(effect, fulfillmentTriggerEventTypes);
      if (ev === null || ev.data.orderId !== orderId || ev.type === 'OrderPaid') continue;
      triggers.push({ ...ev, eventId: effect.eventId, observedAt: at });
    }
    return { ok: true, triggers };
  }

  /**
   * One log event, in the unit of work: record what it tells the process, then decide
   * every command that is due, feeding each outcome back in (the effect's events as the
   * log would deliver them, or the refusal), until nothing new is due.
   */
  async function handle(uow: UnitOfWork, event: StoredEvent) {
    const first = triggerOf(uow, event, now().toISOString());
    if (!first) return;
    const orderId = first.data.orderId;
    const processId = fulfillmentStreamId(orderId);
    const correlationId = event.correlationId ?? event.metadata.correlationId ?? orderId;
    const sent = new Set<string>();
    /** Commands recorded in this pass: they go out as recorded, at their `requestedAt`. */
    const recorded = new Set<string>();
    const queue: FulfillmentTrigger[] = [first];
    for (let trigger = queue.shift(); trigger; trigger = queue.shift()) {
      const observed = uow.decide(
        fulfillmentDecider,
        processId,
        trigger,
        metadataOf(observeId(trigger, orderId), correlationId, 'fulfillment:observe'),
      );
      for (const e of observed) {
        const command = commandOf(e);
        if (command) recorded.add(command.commandId);
      }
      const state = uow.get(fulfillmentDecider, processId).state;
      for (const out of pendingCommands(state)) {
        // Decided in this round already: its outcome is in the queue.
        if (sent.has(out.commandId)) continue;
        sent.add(out.commandId);
        await uow.load([{ decider: deciderOf(out.target), streamId: out.streamId }]);
        const at = now().toISOString();
        // Left pending by an earlier run (e.g. a stream of the step-by-step runner): sent
        // now, so stamped now; a target that took it already answers with nothing.
        const command = recorded.has(out.commandId) ? out : resentAt(out, at);
        const outcome = send(uow, command, orderId, correlationId, at);
        queue.push(...outcome.triggers);
        // The process decides anew on a refusal before anything else is sent.
        if (!outcome.ok) break;
      }
    }
  }

  /** Loads what the events of a batch will need: two round trips for the whole batch. */
  async function prefetch(uow: UnitOfWork, events: StoredEvent[]) {
    const orderIds = [...new Set(events.flatMap((e) => orderIdOf(e) ?? []))];
    await uow.load(
      orderIds.flatMap((id) => [
        { decider: fulfillmentDecider, streamId: fulfillmentStreamId(id) },
        { decider: orderDecider, streamId: orderStreamId(id) },
      ]),
    );
    const more = orderIds.flatMap((id) => {
      const process = uow.get(fulfillmentDecider, fulfillmentStreamId(id)).state;
      const order = uow.get(orderDecider, orderStreamId(id)).state;
      const productIds =
        process.status !== 'NOT_STARTED'
          ? process.items.map((i) => i.productId)
          : order.status !== 'NOT_CREATED'
            ? order.items.map((i) => i.productId)
            : [];
      return [
        { decider: shipmentDecider, streamId: shipmentStreamId(shipmentIdFor(id)) },
        ...productIds.map((p) => ({ decider: productDecider, streamId: productStreamId(p) })),
      ];
    });
    await uow.load(more);
  }

  /**
   * The ids of the effects this runner committed, which come back to it through the log:
   * the process recorded them in the same transaction, so they are skipped without a
   * load. Memory only and bounded: one not found here is recognised by the process state.
   */
  const echoes = new Set<string>();
  const ECHOES_MAX = 50_000;
  /** Processes started before this have all been checked against the deadline. */
  let checkedUpTo: Date | undefined;

  /** Commits a unit of work, and remembers the effects that will come back through the log. */
  async function commit(uow: UnitOfWork) {
    const pending = uow.pending();
    await uow.commit();
    if (echoes.size >= ECHOES_MAX) echoes.clear();
    for (const stream of pending) {
      if (stream.streamType === FULFILLMENT_STREAM_TYPE) continue;
      for (const e of stream.events) if (e.eventId) echoes.add(e.eventId);
    }
  }

  /**
   * A batch in one unit of work: its orders' streams loaded in two round trips, each
   * order's events handled in log order, committed whenever `commitEvents` events are
   * decided (an order's work is never split between two commits) and at the end. A
   * conflict decides what was not committed yet again, from fresh state; any other
   * failure fails the batch and the runtime delivers it again: what was committed is
   * found in the process state and records nothing.
   */
  async function applyBatch(events: StoredEvent[]) {
    const byOrder = new Map<string, StoredEvent[]>();
    for (const event of events) {
      if (echoes.delete(event.eventId)) continue;
      const orderId = orderIdOf(event);
      if (orderId === undefined) continue;
      const list = byOrder.get(orderId);
      if (list) list.push(event);
      else byOrder.set(orderId, [event]);
    }
    const groups = [...byOrder.values()];
    /** Groups before this index are committed. */
    let committed = 0;
    for (let attempt = 1; committed < groups.length; attempt++) {
      const uow = commands.unitOfWork();
      try {
        await prefetch(uow, groups.slice(committed).flat());
        for (let g = committed; g < groups.length; g++) {
          for (const event of groups[g]!) await handle(uow, event);
          if (uow.pendingEvents() >= commitEvents || g === groups.length - 1) {
            await commit(uow);
            committed = g + 1;
            // Lets the rest of the process run (PGlite answers without a real wait).
            await turn();
          }
        }
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        if (attempt >= conflictAttempts) {
          throw retryLater('fulfillment kept conflicting with concurrent writers', err);
        }
        await sleep(Math.random() * 20 * attempt);
      }
    }
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
