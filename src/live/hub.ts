import {
  compareLogPositions,
  decodeCursor,
  encodeCursor as encode,
  START,
  type LogPosition,
} from '../eventstore/cursor.js';
import type { EventStore } from '../eventstore/store.js';
import type { ReadAllOptions, StoredEvent } from '../eventstore/types.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS_CHANNEL, type Notifier } from '../eventstore/notifier.js';
import { SharedReads } from '../eventstore/shared-reads.js';

/** What a subscription wants from the log. All given criteria must match. */
export interface LiveFilter {
  streamId?: string;
  /** Any of these streams. */
  streamIds?: readonly string[];
  streamTypes?: readonly string[];
  eventTypes?: readonly string[];
  /** Extra test on the (enriched) event; runs once per event per subscription. */
  where?: (event: LiveEvent) => boolean;
}

/** A log event as the hub hands it out, with the facts subscriptions filter on. */
export interface LiveEvent extends StoredEvent {
  /** For order events: the customer the order belongs to. */
  customerId?: string;
}

/** Ends a subscription that could not keep up; it can resume from `cursor`. */
export class SlowConsumerError extends Error {
  override name = 'SlowConsumerError';
  readonly code = 'SLOW_CONSUMER';
  constructor(readonly cursor: string) {
    super(
      `The subscriber fell too far behind and was disconnected; resume with after: "${cursor}"`,
    );
  }
}

export interface HubOptions {
  /** Events a subscription may hold undelivered before it is cut off. */
  bufferSize?: number;
  /** Page size of reads from the store. */
  batchSize?: number;
  /** Reads of the log shared with the other readers of the process (default: its own). */
  sharedReads?: SharedReads;
  /** Adds facts to events before fan-out (e.g. an order's customer id). */
  enrich?: (events: LiveEvent[]) => Promise<void>;
  /** Bytes a WebSocket may have queued for a slow client before its feed stops pulling events. */
  maxSocketBacklog?: number;
}

/** Re-reads after an empty wake-up: 5, 10, 20 … 320 ms (about 0.6 s in all). */
const RECHECKS = 7;

const position = (e: StoredEvent): LogPosition => ({
  transactionId: e.transactionId,
  globalPosition: e.globalPosition,
});

function matches(filter: LiveFilter, e: LiveEvent): boolean {
  if (filter.streamId !== undefined && e.streamId !== filter.streamId) return false;
  if (filter.streamIds?.length && !filter.streamIds.includes(e.streamId)) return false;
  if (filter.streamTypes?.length && !filter.streamTypes.includes(e.streamType)) return false;
  if (filter.eventTypes?.length && !filter.eventTypes.includes(e.type)) return false;
  return filter.where ? filter.where(e) : true;
}

/**
 * Live delivery for one process. Each wake-up of the notifier leads to one read of the
 * store (from the hub's own cursor, in commit order), whatever the number of
 * subscribers; a burst of wake-ups during a read coalesces into one more read. Every
 * event read is offered to every subscription, which filters and buffers it.
 */
export class SubscriptionHub {
  private readonly subs = new Set<Subscription>();
  private position: LogPosition = START;
  private reading: Promise<void> | undefined;
  private again = false;
  private off: (() => void) | undefined;
  private readonly bufferSize: number;
  private readonly batchSize: number;
  private readonly log: SharedReads;
  readonly maxSocketBacklog: number;
  /** Store reads done by the hub's live loop that found events. */
  reads = 0;
  /** All store reads of the live loop, empty ones included. */
  readCalls = 0;
  /** Events delivered into subscriptions (after filtering). */
  delivered = 0;

  constructor(
    private readonly store: EventStore,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly options: HubOptions = {},
  ) {
    this.bufferSize = options.bufferSize ?? 1000;
    this.batchSize = options.batchSize ?? 1000;
    this.log = options.sharedReads ?? new SharedReads(store);
    this.maxSocketBacklog = options.maxSocketBacklog ?? 1024 * 1024;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  async start(): Promise<void> {
    const head = await this.store.head();
    if (head) this.position = decodeCursor(head.cursor);
    this.off = this.notifier.on(EVENTS_CHANNEL, (reason) => {
      if (reason === 'notify') this.recheck = 0; // a commit was announced: look until it shows
      this.wake();
    });
  }

  async stop(): Promise<void> {
    this.off?.();
    clearTimeout(this.recheckTimer);
    await this.reading;
    for (const s of [...this.subs]) s.end();
  }

  /**
   * Re-reads left after a wake-up that found nothing: an announced commit can still be
   * hidden behind an older transaction of this database (a projection batch, say), which
   * sends no wake-up when it ends. So look again shortly, backing off, before relying on
   * the slow poll.
   */
  private recheck = RECHECKS;
  private recheckTimer: NodeJS.Timeout | undefined;

  /** Coalescing: at most one read in flight, plus one more if woken meanwhile. */
  wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.drain()
      .catch((err: unknown) =>
        this.logger.warn({ err }, 'live read failed; the next wake-up retries'),
      )
      .then((found) => {
        if (found) this.recheck = RECHECKS;
        else if (this.recheck < RECHECKS && !this.again) {
          clearTimeout(this.recheckTimer);
          this.recheckTimer = setTimeout(() => this.wake(), 5 * 2 ** this.recheck++);
          this.recheckTimer.unref();
        }
      })
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Reads until caught up; true when it found any event. */
  private async drain(): Promise<boolean> {
    let found = false;
    for (;;) {
      this.again = false;
      // Copies: the rows are shared with the other readers, and `enrich` adds to them.
      const events: LiveEvent[] = (await this.log.read(encode(this.position), this.batchSize)).map(
        (e) => ({ ...e }),
      );
      this.readCalls++;
      if (events.length === 0) return found;
      found = true;
      this.reads++;
      await this.options.enrich?.(events);
      for (const e of events) {
        for (const s of this.subs) s.offer(e);
      }
      this.position = position(events[events.length - 1]!);
      if (events.length < this.batchSize && !this.again) return found;
    }
  }

  /**
   * A subscription: replays the store after `after` (or from the start when `replay` is
   * 'all'), then continues live, with no gap and no duplicate at the switch. `replay:
   * 'none'` starts live from now.
   */
  subscribe(
    filter: LiveFilter,
    from: { after?: string | null; replay: 'all' | 'after' | 'none' },
  ): Subscription {
    const sub = new Subscription(this, filter, this.bufferSize);
    if (from.replay === 'none') {
      sub.goLive(this.position);
    } else {
      const after = from.replay === 'after' && from.after ? decodeCursor(from.after) : START;
      sub.startReplay(after);
    }
    this.subs.add(sub);
    return sub;
  }

  /** @internal */
  remove(sub: Subscription): void {
    this.subs.delete(sub);
  }

  /** @internal One replay page, in commit order, with the same enrichment as live events. */
  async replayPage(after: LogPosition, filter: LiveFilter): Promise<LiveEvent[]> {
    // A page never exceeds a subscription's buffer, so the switch to live starts with room.
    const options: ReadAllOptions = { after: encode(after), limit: Math.min(200, this.bufferSize) };
    if (filter.streamId !== undefined) options.streamId = filter.streamId;
    if (filter.streamIds?.length) options.streamIds = filter.streamIds;
    if (filter.streamTypes?.length) options.streamTypes = filter.streamTypes;
    if (filter.eventTypes?.length) options.eventTypes = filter.eventTypes;
    const events: LiveEvent[] = await this.store.readAll(options);
    await this.options.enrich?.(events);
    return events;
  }

  /** @internal */
  countDelivered(): void {
    this.delivered++;
  }
}

/**
 * One subscriber's stream of events: an async iterator with a bounded buffer. While it
 * replays from the store it still takes live events (bounded too); once the replay is
 * exhausted it delivers the live ones it has not already replayed, compared by log
 * position, and then stays live.
 */
export class Subscription implements AsyncIterableIterator<LiveEvent> {
  private readonly queue: LiveEvent[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  /** Last position enqueued (dedupe key) and last one handed to the consumer (resume point). */
  private lastQueued: LogPosition | undefined;
  private lastDelivered: StoredEvent | undefined;
  /** Where the subscription started: its resume point until something is delivered. */
  private origin: LogPosition = START;
  private replayFrom: LogPosition | undefined;
  private replayBuffer: LiveEvent[] = [];
  private replayOverflow = false;

  constructor(
    private readonly hub: SubscriptionHub,
    private readonly filter: LiveFilter,
    private readonly bufferSize: number,
  ) {}

  /** Cursor of the last event handed to the consumer (or of the start): where a client resumes. */
  get cursor(): string {
    return this.lastDelivered?.cursor ?? encode(this.origin);
  }

  goLive(at: LogPosition): void {
    this.origin = at;
    this.lastQueued = at;
  }

  startReplay(after: LogPosition): void {
    this.origin = after;
    this.replayFrom = after;
    this.lastQueued = after;
  }

  /** Called by the hub for every event it reads. */
  offer(e: LiveEvent): void {
    if (this.finished || !matches(this.filter, e)) return;
    if (this.replayFrom) {
      // Live events during the replay: kept (bounded) for the switch. If too many, drop
      // them; they are in the store, so the replay will read them itself.
      if (this.replayBuffer.length >= this.bufferSize) {
        this.replayBuffer = [];
        this.replayOverflow = true;
      } else {
        this.replayBuffer.push(e);
      }
      return;
    }
    this.enqueue(e);
  }

  private enqueue(e: LiveEvent): void {
    if (this.lastQueued && compareLogPositions(position(e), this.lastQueued) <= 0) return; // already had it
    if (this.queue.length >= this.bufferSize) {
      this.fail(new SlowConsumerError(this.cursor));
      return;
    }
    this.queue.push(e);
    this.lastQueued = position(e);
    this.notify();
  }

  private notify() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  fail(err: Error): void {
    if (this.finished) return;
    this.failure = err;
    this.queue.length = 0;
    this.release();
    this.notify();
  }

  /** Completes normally (server shutdown): the consumer gets `done`. */
  end(): void {
    this.release();
    this.notify();
  }

  private release() {
    this.finished = true;
    this.replayBuffer = [];
    this.hub.remove(this);
  }

  /** Replays one page from the store; switches to live when the replay is exhausted. */
  private async replayStep(): Promise<void> {
    const from = this.replayFrom!;
    const page = await this.hub.replayPage(from, this.filter);
    if (page.length > 0) {
      // The store applied the stream and type filters; `where` (e.g. another customer's
      // order) is applied here, as for live events.
      for (const e of page) if (matches(this.filter, e)) this.enqueueReplayed(e);
      this.replayFrom = position(page[page.length - 1]!);
      return;
    }
    if (this.replayOverflow) {
      // Live events were dropped while replaying; one more pass picks them up.
      this.replayOverflow = false;
      return;
    }
    // Caught up: everything the hub offered so far is either replayed or buffered.
    this.replayFrom = undefined;
    const buffered = this.replayBuffer;
    this.replayBuffer = [];
    for (const e of buffered) this.enqueue(e);
  }

  private enqueueReplayed(e: LiveEvent) {
    if (this.lastQueued && compareLogPositions(position(e), this.lastQueued) <= 0) return;
    this.queue.push(e);
    this.lastQueued = position(e);
  }

  async next(): Promise<IteratorResult<LiveEvent>> {
    for (;;) {
      if (this.failure) {
        const err = this.failure;
        this.failure = undefined;
        this.finished = true;
        throw err;
      }
      const e = this.queue.shift();
      if (e) {
        this.lastDelivered = e;
        this.hub.countDelivered();
        return { value: e, done: false };
      }
      if (this.finished) return { value: undefined, done: true };
      if (this.replayFrom) {
        await this.replayStep();
        continue;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async return(): Promise<IteratorResult<LiveEvent>> {
    this.release();
    this.queue.length = 0;
    this.notify();
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<LiveEvent>> {
    await this.return();
    throw err;
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
