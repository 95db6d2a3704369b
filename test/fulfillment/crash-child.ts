/**
 * The fulfillment process manager alone, in a process of its own, for the crash test
 * (crash.pg.test.ts), which SIGKILLs it at random points and starts it again.
 *
 * The smallest real wiring: the PostgreSQL database at DATABASE_URL, its LISTEN
 * connection, the event store, the command handler and a ProjectionRuntime that runs only
 * `fulfillmentProcess`. Prints `ready` once the runtime runs; SIGTERM stops it cleanly.
 *
 * CRASH_AT_WRITE=n makes it SIGKILL itself at its n-th append (CRASH_WHEN `before` the
 * append reaches the database, or `after` it committed, before the caller goes on): a
 * crash at a random point of the write path whatever the speed of the machine, beside
 * the parent's kills at random times. CRASH_COMMIT_EVENTS is how many events the process
 * gathers before it commits (1: every order on its own).
 *
 * Every start uses the same lease owner (CRASH_CHILD_OWNER): a restarted process takes its
 * lease back at once instead of waiting for the dead one's lease to run out, which would
 * only make the test slower (the lease takeover itself is tested in
 * test/projections/two-processes.pg.test.ts).
 */
import { CommandHandler } from '../../src/commands/handler.js';
import { openPostgres } from '../../src/db/postgres.js';
import { SnapshotStore } from '../../src/eventstore/snapshots.js';
import { EventStore } from '../../src/eventstore/store.js';
import { fulfillmentProcess } from '../../src/fulfillment/runner.js';
import { EVENTS_CHANNEL, Notifier } from '../../src/eventstore/notifier.js';
import { createLogger } from '../../src/observability/logger.js';
import { ProjectionRuntime } from '../../src/projections/runtime.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('crash-child needs DATABASE_URL');
  process.exit(2);
}

const logger = createLogger(process.env.LOG_LEVEL ?? 'silent');
const db = openPostgres({ connectionString: url, max: 4, applicationName: 'strata-crash-child' });
const notifier = new Notifier(db, logger);
const crashAt = Number(process.env.CRASH_AT_WRITE ?? 0);
const crashBefore = process.env.CRASH_WHEN === 'before';
let writes = 0;

class CrashingStore extends EventStore {
  override async appendMany(...args: Parameters<EventStore['appendMany']>) {
    const n = ++writes;
    if (n === crashAt && crashBefore) process.kill(process.pid, 'SIGKILL');
    const result = await super.appendMany(...args);
    if (n === crashAt) process.kill(process.pid, 'SIGKILL');
    return result;
  }
}

const store = new CrashingStore(db, { afterCommit: () => notifier.announce(EVENTS_CHANNEL) });
const commands = new CommandHandler(store, new SnapshotStore(db), { snapshotEvery: 50 });
const runtime = new ProjectionRuntime(
  db,
  store,
  notifier,
  [
    fulfillmentProcess(commands, store, {
      logger,
      commitEvents: Number(process.env.CRASH_COMMIT_EVENTS ?? 20),
    }),
  ],
  logger,
  { owner: process.env.CRASH_CHILD_OWNER ?? 'crash-child', batchSize: 100 },
);

process.once('SIGTERM', () => {
  void (async () => {
    await runtime.stop();
    await notifier.stop();
    await db.close();
    process.exit(0);
  })();
});

await notifier.start();
await runtime.start();
process.stdout.write('ready\n');
