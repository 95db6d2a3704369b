import { SingleBar, Presets } from 'cli-progress';
import { loadDatabaseConfig } from '../config/config.js';
import { DataDirInUse } from '../db/pglite.js';
import { migrate } from '../db/migrate.js';
import { EventStore } from '../eventstore/store.js';
import { FULFILLMENT_PROCESS } from '../fulfillment/runner.js';
import { Notifier } from '../eventstore/notifier.js';
import { createLogger } from '../observability/logger.js';
import { allProjections } from '../server/projections.js';
import { eventUpcasters } from '../server/upcasters.js';
import { ProjectionRuntime, RebuildRefused } from '../projections/runtime.js';
import { CliError, describeDatabase, openDatabase, program, run, UsageError } from './common.js';
import { serverHolding, type ServerClient } from './server.js';

/**
 * `npm run projections -- <list|status|rebuild NAME|pause NAME|resume NAME>`: manage the
 * read models of the configured database. A rebuild runs here, beside the servers, which
 * keep serving the current generation until the new one has caught up. An embedded
 * folder held by a running server is managed through that server's admin API instead.
 */

const NAME = 'projections';

/** One generation, as both ways of reaching the projections see it. */
interface Row {
  name: string;
  generation: number;
  active: boolean;
  state: string;
  leader: string | null;
  eventsProcessed: number;
  eventsBehind: number;
  secondsBehind: number;
  error: { eventId: string; type: string; message: string } | null;
}

interface Projections {
  /** Where they are, for the user: "PostgreSQL 127.0.0.1:5432/strata", … */
  where: string;
  status(): Promise<Row[]>;
  /** Starts a new generation; returns its number. */
  rebuild(name: string): Promise<number>;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
}

async function withProjections<T>(fn: (p: Projections) => Promise<T>): Promise<T> {
  const config = loadDatabaseConfig();
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  const where = describeDatabase(config);
  let db;
  try {
    db = await openDatabase(config, logger);
  } catch (err) {
    if (!(err instanceof DataDirInUse)) throw err;
    const server = await serverHolding(
      config,
      NAME,
      'run the admin query `projections` and the mutations rebuildProjection, pauseProjection and resumeProjection in GraphiQL',
    );
    return fn(throughServer(server, `${where}, through the Strata server on ${server.url}`));
  }
  const notifier = new Notifier(db, logger);
  try {
    await migrate(db);
    await notifier.start();
    const store = new EventStore(db, { upcasters: eventUpcasters() });
    const runtime = new ProjectionRuntime(db, store, notifier, allProjections(), logger);
    try {
      return await fn({
        where,
        status: async () =>
          (await runtime.status()).map((s) => ({
            ...s,
            state: s.phase,
            leader: s.leaseOwner,
            error: s.error,
          })),
        rebuild: (name) =>
          runtime.rebuild(name, { run: true }).catch((err: unknown) => {
            throw err instanceof RebuildRefused ? new UsageError(err.message) : err;
          }),
        pause: (name) => runtime.pause(name),
        resume: (name) => runtime.resume(name),
      });
    } finally {
      await runtime.stop();
    }
  } finally {
    await notifier.stop();
    await db.close();
  }
}

const ROW_FIELDS = `name generation active state leader eventsProcessed eventsBehind secondsBehind
  error { eventId type message }`;

function throughServer(server: ServerClient, where: string): Projections {
  const act = (field: string) => async (name: string) => {
    await server.request(`mutation($name: String!) { ${field}(name: $name) { name } }`, { name });
  };
  return {
    where,
    status: async () =>
      (await server.request<{ projections: Row[] }>(`{ projections { ${ROW_FIELDS} } }`))
        .projections,
    rebuild: async (name) =>
      (
        await server.request<{ rebuildProjection: { generation: number } }>(
          `mutation($name: String!) { rebuildProjection(name: $name) { generation } }`,
          { name },
        )
      ).rebuildProjection.generation,
    pause: act('pauseProjection'),
    resume: act('resumeProjection'),
  };
}

function known(name: string) {
  const names = allProjections().map((p) => p.name);
  if (name === FULFILLMENT_PROCESS) {
    // Runs only inside the servers (it sends commands); its state lives in its own streams.
    throw new UsageError(
      `"${name}" is the fulfillment process manager, not a read model: there is nothing to rebuild, and it is paused or resumed through the admin mutations of a running server (pauseProjection / resumeProjection).`,
    );
  }
  if (!names.includes(name))
    throw new UsageError(`unknown projection "${name}"; known: ${names.join(', ')}`);
}

async function main(argv: string[]): Promise<void> {
  const cli = program(NAME, 'Manage Strata read models (projections) of the configured database');
  cli.addHelpText(
    'after',
    '\nThe database: DATABASE_URL, else the embedded one in STRATA_DATA_DIR. An embedded folder held by a running server is managed through that server (on PORT).',
  );

  cli
    .command('list')
    .description('the projections this version of Strata runs')
    .action(() => {
      for (const p of allProjections())
        process.stdout.write(
          `${p.name}\tv${p.version}\t${p.tables.map((t) => t.name).join(', ')}\n`,
        );
    });

  cli
    .command('status')
    .description('each generation: state, checkpoint and lag')
    .action(() =>
      withProjections(async (p) => {
        const rows = await p.status();
        if (!rows.length) {
          // Servers create the generations when they start; this one never ran a server.
          process.stdout.write(
            `No projections in ${p.where} yet: a server creates them when it starts (npm start).\n`,
          );
          return;
        }
        process.stdout.write(`Projections of ${p.where}:\n`);
        console.table(
          rows.map((s) => ({
            projection: s.name,
            generation: s.generation,
            active: s.active,
            state: s.state,
            leader: s.leader ?? '',
            processed: s.eventsProcessed,
            behind: s.eventsBehind,
            'seconds behind': Math.round(s.secondsBehind * 10) / 10,
            error: s.error ? `${s.error.type} ${s.error.eventId}: ${s.error.message}` : '',
          })),
        );
      }),
    );

  cli
    .command('rebuild <name>')
    .description('build a new generation from the start of the log, then switch to it')
    .action((name: string) => {
      known(name);
      return withProjections(async (p) => {
        const generation = await p.rebuild(name);
        process.stdout.write(`Rebuilding ${name} (generation ${generation}) in ${p.where}\n`);
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
        try {
          for (;;) {
            const status = (await p.status()).find(
              (s) => s.name === name && s.generation === generation,
            );
            if (!status)
              throw new CliError(
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
        } finally {
          bar.stop();
        }
        process.stdout.write(
          `${name}: generation ${generation} is active (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
        );
      });
    });

  for (const action of ['pause', 'resume'] as const) {
    cli
      .command(`${action} <name>`)
      .description(
        action === 'pause'
          ? 'stop applying events (queries keep serving)'
          : 'continue, also after a poison event was fixed',
      )
      .action((name: string) => {
        known(name);
        return withProjections(async (p) => {
          await p[action](name);
          process.stdout.write(`${name}: ${action}d (${p.where})\n`);
        });
      });
  }

  // Without a command commander prints its whole help as an error; one line says enough.
  if (argv.length <= 2)
    throw new UsageError(
      'name a command: list, status, rebuild <name>, pause <name> or resume <name> (--help for usage)',
    );
  await cli.parseAsync(argv);
}

run(NAME, () => main(process.argv));
