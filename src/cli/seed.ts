/**
 * `npm run seed [-- --orders 300 --customers 20 --seed 1]`: loads the demo data set into
 * the configured database (DATABASE_URL, else the embedded one in STRATA_DATA_DIR) through
 * the commands, with a progress bar. The same options again replay every command and
 * write nothing. With the embedded engine, stop the server first: one process at a time
 * may open its data folder (a second is refused).
 */
import { randomBytes } from 'node:crypto';
import { Presets, SingleBar } from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { buildApp } from '../server/app.js';
import { DEV_CUSTOMER_ID } from '../auth/dev.js';
import { loadConfig } from '../config/config.js';
import { DataDirInUse } from '../db/pglite.js';
import { seedDemo, SEED_LIMITS, SeedError } from '../demo/seed.js';
import { createLogger } from '../observability/logger.js';
import { CliError, describeDatabase, openDatabase, program, run } from './common.js';

const wholeNumber = (min: number, max: number) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return Number(value);
};

async function main(argv: string[]): Promise<void> {
  const cli = program(
    'seed',
    'Load the demo data set (customers, products, orders in every state) into the configured database',
  )
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
    .allowExcessArguments(false);
  cli.parse(argv);
  const opts = cli.opts<{ orders: number; customers: number; seed: number }>();

  const config = loadConfig(process.env, { serving: false });
  const where = describeDatabase(config);
  // The bar is the output; the server's info logs would tear it.
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  let db;
  try {
    db = await openDatabase(config, logger);
  } catch (err) {
    if (!(err instanceof DataDirInUse)) throw err;
    throw new CliError(
      `${where} is held by another process, most likely a running server (npm start). The seed needs the folder to itself: stop the server (Ctrl-C in its terminal), run the seed, then start the server again. To seed beside a running server, use PostgreSQL (DATABASE_URL).`,
    );
  }
  // The seed answers no request, so it needs no secret of its own; where development
  // tokens are not allowed the app gets a random one, which signs nothing anyone sees.
  const throwaway =
    !config.authSecret &&
    !config.authJwksUrl &&
    (config.engine === 'postgres' || config.nodeEnv === 'production');
  let app;
  try {
    app = await buildApp(
      throwaway ? { ...config, authSecret: randomBytes(32).toString('base64url') } : config,
      { logger, db },
    );
  } catch (err) {
    await db.close();
    throw err;
  }
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
      `Seeding ${where}: ` +
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
  } catch (err) {
    throw err instanceof SeedError ? new CliError(err.message, 2) : err;
  } finally {
    bar.stop();
    await app.stop();
    await db.close();
  }
}

run('seed', () => main(process.argv));
