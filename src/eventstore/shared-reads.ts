import type { EventStore } from './store.js';
import type { StoredEvent } from './types.js';

/**
 * Reads of the log after a position, shared by the readers of one process (projection
 * runners, the live hub). They mostly sit at the same position and wake on the same
 * commits, and each would otherwise read, and parse, the same rows.
 *
 * A read that found events is a valid prefix of the log after its position for good
 * (commit-order reads below the horizon: docs/architecture.md, "Event store invariants"),
 * so a reader arriving up to `keepMs` later takes it as it is and reads again from where
 * it ends. An empty read is never kept, so sharing never delays a wake-up. The events are
 * shared objects: readers must not change them (copy before adding to them).
 */
export class SharedReads {
  private readonly recent = new Map<string, { at: number; events: Promise<StoredEvent[]> }>();

  constructor(
    private readonly store: EventStore,
    private readonly keepMs = 50,
  ) {}

  /** `readAll({ after, limit })`, shared. */
  read(after: string, limit: number): Promise<StoredEvent[]> {
    const now = performance.now();
    for (const [key, r] of this.recent) {
      if (now - r.at > this.keepMs) this.recent.delete(key);
    }
    const key = `${after}|${limit}`;
    const recent = this.recent.get(key);
    if (recent) return recent.events;
    const events = this.store.readAll({ after, limit });
    const entry = { at: now, events };
    this.recent.set(key, entry);
    const forget = () => {
      if (this.recent.get(key) === entry) this.recent.delete(key);
    };
    events.then((found) => found.length === 0 && forget(), forget);
    return events;
  }
}
