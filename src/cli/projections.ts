import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadConfig } from '../config/config.js';
import { openDb } from '../db/index.js';
import { migrate } from '../db/migrate.js';
import { EventStore } from '../eventstore/store.js';
import { FULFILLMENT_PROCESS } from '../fulfillment/runner.js';
import { Notifier } from '../eventstore/notifier.js';
import { createLogger } from '../observability/logger.js';
import { allProjections } from '../server/projections.js';
import { eventUpcasters } from '../server/upcasters.js';
import { ProjectionRuntime } from '../projections/runtime.js';

/**
 * `npm run projections -- <list|status|rebuild NAME|pause NAME|resume NAME>`: manage the
 * read models of the configured database. A rebuild runs here, beside the servers, which
 * keep serving the current generation until the new one has caught up.
 */
async function withRuntime<T>(
  fn: (runtime: ProjectionRuntime, store: EventStore) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const db = await openDb(config, logger);
  const notifier = new Notifier(db, logger);
  try {
    await migrate(db);
    await notifier.start();
    const store = new EventStore(db, { upcasters: eventUpcasters() });
    const runtime = new ProjectionRuntime(db, store, notifier, allProjections(), logger);
    try {
      return await fn(runtime, store);
    } finally {
      await runtime.stop();
    }
  } finally {
    await notifier.stop();
    await db.close();
  }
}

function known(name: string) {
  const names = allProjections().map((p) => p.name);
  if (name === FULFILLMENT_PROCESS) {
    // Runs only inside the servers (it sends commands); its state lives in its own streams.
    process.stderr.write(
      `"${name}" is the fulfillment process manager, not a read model: there is nothing to rebuild, and it is paused or resumed through the admin mutations of a running server (pauseProjection / resumeProjection).\n`,
    );
    process.exit(2);
  }
  if (!names.includes(name)) {
    process.stderr.write(`Unknown projection "${name}". Known: ${names.join(', ')}\n`);
    process.exit(2);
  }
}

const program = new Command('projections').description('Manage Strata read models (projections)');

program
  .command('list')
  .description('the projections this version of Strata runs')
  .action(() => {
    for (const p of allProjections())
      process.stdout.write(`${p.name}\tv${p.version}\t${p.tables.map((t) => t.name).join(', ')}\n`);
  });

program
  .command('status')
  .description('each generation: state, checkpoint and lag')
  .action(() =>
    withRuntime(async (runtime) => {
      const rows = await runtime.status();
      const table = rows.map((s) => ({
        projection: s.name,
        generation: s.generation,
        active: s.active,
        state: s.phase,
        processed: s.eventsProcessed,
        behind: s.eventsBehind,
        'seconds behind': Math.round(s.secondsBehind * 10) / 10,
        error: s.error ? `${s.error.type} ${s.error.eventId}: ${s.error.message}` : '',
      }));
      console.table(table);
    }),
  );

program
  .command('rebuild <name>')
  .description('build a new generation from the start of the log, then switch to it')
  .action((name: string) => {
    known(name);
    return withRuntime(async (runtime) => {
      const generation = await runtime.rebuild(name, { run: true });
      const bar = new SingleBar(
        {
          format: `${name} g${generation} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      const started = Date.now();
      let total = 1;
      bar.start(total, 0, { rate: 0 });
      for (;;) {
        const status = (await runtime.status()).find(
          (s) => s.name === name && s.generation === generation,
        );
        if (!status)
          throw new Error(
            `generation ${generation} of ${name} disappeared (another rebuild replaced it?)`,
          );
        total = Math.max(1, status.eventsProcessed + status.eventsBehind);
        const rate = Math.round(
          status.eventsProcessed / Math.max(0.001, (Date.now() - started) / 1000),
        );
        bar.setTotal(total);
        bar.update(status.eventsProcessed, { rate });
        if (status.active) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      bar.stop();
      process.stdout.write(
        `${name}: generation ${generation} is active (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
      );
    });
  });

for (const action of ['pause', 'resume'] as const) {
  program
    .command(`${action} <name>`)
    .description(
      action === 'pause'
        ? 'stop applying events (queries keep serving)'
        : 'continue, also after a poison event was fixed',
    )
    .action((name: string) => {
      known(name);
      return withRuntime(async (runtime) => {
        await runtime[action](name);
        process.stdout.write(`${name}: ${action}d\n`);
      });
    });
}

await program.parseAsync();
