/**
 * `npm run seed [-- --orders 300 --customers 20 --seed 1]`: loads the demo data set into
 * the configured database (DATABASE_URL, else the embedded one in STRATA_DATA_DIR) through
 * the commands, with a progress bar. The same options again replay every command and
 * write nothing. With the embedded engine, stop the server first: one process at a time
 * may open its data folder (a second is refused).
 */
import { Presets, SingleBar } from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { buildApp } from '../server/app.js';
import { DEV_CUSTOMER_ID } from '../auth/dev.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { DataDirInUse } from '../db/pglite.js';
import { seedDemo, SEED_LIMITS, SeedError } from '../demo/seed.js';
import { createLogger } from '../observability/logger.js';

const wholeNumber = (min: number, max: number) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return Number(value);
};

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('seed')
    .description('Load the demo data set (customers, products, orders in every state)')
    .option(
      '--orders <n>',
      'orders to create',
      wholeNumber(SEED_LIMITS.orders.min, SEED_LIMITS.orders.max),
      300,
    )
    .option(
      '--customers <n>',
      'customers to register',
      wholeNumber(SEED_LIMITS.customers.min, SEED_LIMITS.customers.max),
      20,
    )
    .option('--seed <n>', 'seed of the random choices', wholeNumber(0, 2 ** 31), 1)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv);
  const opts = program.opts<{ orders: number; customers: number; seed: number }>();

  const config = loadConfig();
  // The bar is the output; the server's info logs would tear it.
  const app = await buildApp(config, {
    logger: createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn'),
  });
  const bar = new SingleBar(
    {
      format: 'Seeding [{bar}] {percentage}% | {value}/{total} steps | {step}',
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  try {
    process.stdout.write(
      `Seeding ${config.engine === 'pglite' ? `the embedded database in ${config.dataDir}` : 'PostgreSQL'}: ` +
        `${opts.customers} customers, ${opts.orders} orders (seed ${opts.seed})\n`,
    );
    let barStarted = false;
    const result = await seedDemo(app, {
      ...opts,
      onProgress: ({ done, total, step }) => {
        if (!barStarted) {
          bar.start(total, 0, { step });
          barStarted = true;
        }
        bar.update(done, { step });
      },
    });
    bar.stop();
    const s = result.statuses;
    process.stdout.write(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.customers} customers, ` +
        `${result.products} products, ${result.orders} orders ` +
        `(${s.PENDING} pending, ${s.PAID} paid, ${s.SHIPPED} shipped, ${s.CANCELLED} cancelled, ` +
        `of which ${result.fates['short-stock']} refunded for lack of stock).\n` +
        (app.devTokens
          ? `The development customer token (printed by npm start) is customer ${DEV_CUSTOMER_ID}, the first demo customer.\n`
          : ''),
    );
  } finally {
    bar.stop();
    await app.stop();
  }
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  const known =
    err instanceof SeedError || err instanceof ConfigError || err instanceof DataDirInUse;
  process.stderr.write(
    `\nseed: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`,
  );
  process.exitCode = known ? 2 : 1;
});
