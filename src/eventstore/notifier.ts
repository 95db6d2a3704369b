import type { Db, Listener } from '../db/types.js';
import type { Logger } from '../observability/logger.js';

/** The channel `strata_append` notifies; the payload is only a wake-up. */
export const EVENTS_CHANNEL = 'strata_events';
/** Projections notify it when a checkpoint moves (read-your-writes waiters wake on it). */
export const CHECKPOINT_CHANNEL = 'strata_checkpoints';

/**
 * A process gave up leadership of projection runners (shutting down): the others try to
 * take it at once instead of at their next attempt.
 */
export const LEADERSHIP_CHANNEL = 'strata_leadership';

/** Least time between two NOTIFYs of one channel from this process. */
const NOTIFY_INTERVAL_MS = 5;

export type WakeReason = 'notify' | 'reconnect' | 'poll';

/**
 * The process's one LISTEN connection. It never carries event data: it only wakes the
 * readers (projection runners, the subscription hub), which then read the store from
 * their own cursors. On every (re)connect it wakes everyone too, since notifications
 * sent while disconnected are lost; and a slow poll stands in for a silent connection.
 */
export class Notifier {
  private readonly handlers = new Map<string, Set<(reason: WakeReason) => void>>();
  private listener: Listener | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** Times the LISTEN connection was re-established (for metrics). */
  reconnects = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly pollMs = 5_000,
  ) {}

  async start(): Promise<void> {
    let first = true;
    this.listener = await this.db.listen(
      [EVENTS_CHANNEL, CHECKPOINT_CHANNEL, LEADERSHIP_CHANNEL],
      (channel) => this.emit(channel, 'notify'),
      {
        onListening: () => {
          if (!first) this.reconnects++;
          first = false;
          this.emit(EVENTS_CHANNEL, 'reconnect');
          this.emit(CHECKPOINT_CHANNEL, 'reconnect');
          this.emit(LEADERSHIP_CHANNEL, 'reconnect');
        },
        onDisconnect: (err) => this.logger.warn({ err: err.message }, 'LISTEN connection lost'),
      },
    );
    this.poll = setInterval(() => {
      this.emit(EVENTS_CHANNEL, 'poll');
      this.emit(CHECKPOINT_CHANNEL, 'poll');
    }, this.pollMs);
    this.poll.unref();
  }

  /** Registers a wake-up handler; returns its removal. */
  on(channel: string, handler: (reason: WakeReason) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  private sending = new Set<string>();
  private resend = new Set<string>();

  /**
   * Announces a commit on `channel`: wakes this process's readers at once, and the other
   * processes' through PostgreSQL. At most one NOTIFY per channel is in flight; commits
   * announced meanwhile are covered by one more NOTIFY sent after it, so the last wake-up
   * always follows the last commit. (A crash between commit and NOTIFY costs the other
   * processes only latency: their slow poll finds the events.)
   */
  announce(channel: string): void {
    this.emit(channel, 'notify');
    if (this.sending.has(channel)) {
      this.resend.add(channel);
      return;
    }
    this.sending.add(channel);
    const send = (): void => {
      this.resend.delete(channel);
      if (this.stopped) {
        this.sending.delete(channel);
        return;
      }
      this.db
        .query('SELECT pg_notify($1, $2)', [channel, ''])
        .catch((err: unknown) =>
          this.logger.warn({ err, channel }, 'NOTIFY failed; peers rely on their poll'),
        )
        .finally(() => {
          // Commits announced meanwhile get one more NOTIFY, a few ms later, so a burst of
          // appends costs the database a handful of NOTIFYs rather than one each.
          if (this.resend.has(channel) && !this.stopped) setTimeout(send, NOTIFY_INTERVAL_MS);
          else this.sending.delete(channel);
        });
    };
    send();
  }

  /** Wakes local handlers directly (e.g. after a local commit, without a round trip). */
  emit(channel: string, reason: WakeReason): void {
    for (const h of this.handlers.get(channel) ?? []) {
      try {
        h(reason);
      } catch (err) {
        this.logger.error({ err, channel }, 'wake-up handler failed');
      }
    }
  }

  /** The backend pid of the events LISTEN session (PostgreSQL; for tests). */
  backendPid(): number | undefined {
    return this.listener?.backendPid();
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    await this.listener?.close();
    this.listener = undefined;
    this.handlers.clear();
  }
}
