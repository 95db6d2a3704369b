import type { Queryable } from '../db/types.js';
import { compareLogPositions, decodeCursor, type LogPosition } from '../eventstore/cursor.js';
import { CHECKPOINT_CHANNEL, type Notifier } from '../eventstore/notifier.js';

export class ReadTimeoutError extends Error {
  override name = 'ReadTimeoutError';
  constructor(
    readonly cursor: string,
    readonly waitedMs: number,
  ) {
    super(
      `The read models did not reach the requested cursor within ${waitedMs} ms; try again shortly`,
    );
  }
}

/** Read-your-writes: waits until the read models have applied the log up to a cursor. */
export class ReadYourWrites {
  /**
   * Checkpoints this process has committed for the active generations it runs: lets a
   * read-your-writes wait answer from memory. Only ever behind the truth, never ahead.
   */
  private readonly localCheckpoints = new Map<string, LogPosition>();

  constructor(
    private readonly db: Queryable,
    private readonly notifier: Notifier,
  ) {}

  /** A runner of `name`'s active generation committed a batch up to `checkpoint`. */
  committed(name: string, checkpoint: LogPosition): void {
    this.localCheckpoints.set(name, checkpoint);
  }

  /** The runner lost the lead: another process moves the checkpoint now, so ask the database. */
  forget(name: string): void {
    this.localCheckpoints.delete(name);
  }

  /**
   * Resolves once every named projection's active generation has applied the log up to
   * `cursor`; throws ReadTimeoutError after `timeoutMs`.
   */
  async waitFor(cursor: string, names: readonly string[], timeoutMs: number): Promise<void> {
    const target = decodeCursor(cursor);
    const deadline = Date.now() + timeoutMs;
    // Listen before checking, so a checkpoint that moves in between still wakes us.
    let woken = false;
    let wake: (() => void) | undefined;
    const off = this.notifier.on(CHECKPOINT_CHANNEL, () => {
      woken = true;
      wake?.();
    });
    let lastDbCheck = 0;
    const inMemory = () =>
      names.every((n) => {
        const c = this.localCheckpoints.get(n);
        return c !== undefined && compareLogPositions(c, target) >= 0;
      });
    try {
      for (;;) {
        woken = false;
        if (inMemory()) return;
        // The database knows the checkpoints of projections run by other processes (and
        // ours, if memory lags after a lost lead): ask it now and then, not per wake-up.
        if (Date.now() - lastDbCheck >= 100) {
          lastDbCheck = Date.now();
          if (await checkpointsReach(this.db, names, target)) return;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new ReadTimeoutError(cursor, timeoutMs);
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      off();
    }
  }
}

/**
 * Whether every named projection's active generation, as `db` sees the `projections`
 * table, has applied the log up to `target`.
 */
export async function checkpointsReach(
  db: Queryable,
  names: readonly string[],
  target: LogPosition,
): Promise<boolean> {
  const r = await db.query<{ checkpoint_txid: string; checkpoint_position: number }>(
    `SELECT checkpoint_txid::text AS checkpoint_txid, checkpoint_position FROM projections WHERE active AND name = ANY($1::text[])`,
    [names],
  );
  return (
    r.rows.length === names.length &&
    r.rows.every(
      (row) =>
        compareLogPositions(
          { transactionId: row.checkpoint_txid, globalPosition: row.checkpoint_position },
          target,
        ) >= 0,
    )
  );
}

/** How often a replica's checkpoints are read during {@link replicaReaches}. */
export const REPLICA_POLL_MS = 10;

/**
 * Waits until a streaming replica has replayed the named projections' checkpoints up to
 * `cursor` (the rows and the read tables they vouch for replicate in the same
 * transactions, so the replica's read tables have then applied it too). By polling: a hot
 * standby delivers no NOTIFY. True once reached; false after `boundMs`. A failure of the
 * replica's query is thrown.
 */
export async function replicaReaches(
  replica: Queryable,
  cursor: string,
  names: readonly string[],
  boundMs: number,
): Promise<boolean> {
  const target = decodeCursor(cursor);
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await checkpointsReach(replica, names, target)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, REPLICA_POLL_MS)));
  }
}
