import { buildApp } from './server/app.js';
import { startBanner } from './server/banner.js';
import { ConfigError, loadConfig } from './config/config.js';
import { DataDirInUse } from './db/pglite.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await buildApp(config);
  const url = await app.start();
  app.logger.info({ url, engine: config.engine }, 'Strata is listening');
  process.stdout.write(startBanner(config, url, { devTokens: app.devTokens !== undefined }));
  if (app.devTokens) {
    // Development mode only (embedded engine, no STRATA_AUTH_SECRET): never in production.
    const t = app.devTokens;
    process.stdout.write(
      [
        `Development mode: no STRATA_AUTH_SECRET, so a secret is kept in ${config.dataDir}/dev-secret.`,
        "GraphiQL's headers tab already carries the admin token. For other clients:",
        '',
        `  Admin token:     ${t.admin}`,
        '',
        `  Customer token (customer ${t.customerId}):`,
        `                   ${t.customer}`,
        '',
        'Mint more: npm run -s token -- --role customer --customer <id>',
        '',
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const timeoutMs = config.shutdownTimeoutMs;
    app.logger.info({ signal, timeoutMs }, 'shutting down');
    // The bound on the whole shutdown: past it, whatever still runs is abandoned.
    const force = setTimeout(() => {
      app.logger.error({ timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    app.stop().then(
      () => {
        app.logger.info('shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // A known condition gets its message alone; anything else its stack.
  const text = err instanceof DataDirInUse ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`Strata failed to start: ${text}\n`);
  process.exit(1);
});
