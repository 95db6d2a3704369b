/**
 * What every CLI shares: one-line errors with a non-zero exit (never a stack trace unless
 * LOG_LEVEL asks for it), commander set up to say bad usage in one line, the name of the
 * database a CLI works on, and opening it with a failure explained in one line.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, type DatabaseConfig } from '../config/config.js';
import { openDb, type Db } from '../db/index.js';
import { DataDirInUse } from '../db/pglite.js';
import type { Logger } from '../observability/logger.js';

/** A failure the CLI explains in its message; exit code 2 for usage and settings, else 1. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

/** How long a CLI waits for PostgreSQL to answer before it gives up (a host that drops packets). */
const CONNECT_TIMEOUT_MS = 15_000;

const oneLine = (text: string) => text.trim().replace(/\s*\n\s*/g, ' ');

/**
 * The database a CLI works on, as the user knows it: "the embedded database in ./.strata",
 * "PostgreSQL 127.0.0.1:5432/strata". Never the user or the password.
 */
export function describeDatabase(config: Pick<DatabaseConfig, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `the embedded database in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  // libpq's defaults: a socket folder may come as ?host=, the database defaults to the user.
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const database =
    decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || 'postgres';
  return `PostgreSQL ${host}:${url.port || '5432'}/${database}`;
}

/** The message of an error, also of one whose message is empty (an AggregateError). */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message) return oneLine(err.message);
  if (err instanceof AggregateError && err.errors.length)
    return [...new Set(err.errors.map(reason))].join('; ');
  return (err as NodeJS.ErrnoException).code ?? err.name;
}

/**
 * Opens the configured database. A PostgreSQL that cannot be reached becomes a
 * {@link CliError} naming it; an embedded folder held by another process stays a
 * {@link DataDirInUse} for the CLI to answer in its own way.
 */
export async function openDatabase(config: DatabaseConfig, logger?: Logger): Promise<Db> {
  const where = describeDatabase(config);
  if (!config.databaseUrl) {
    try {
      return await openDb(config, logger);
    } catch (err) {
      if (err instanceof DataDirInUse) throw err;
      throw new CliError(`cannot open ${where}: ${reason(err)}`);
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CliError(
            `cannot reach ${where}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s (check DATABASE_URL)`,
          ),
        ),
      CONNECT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([openDb(config, logger), timeout]);
  } catch (err) {
    if (err instanceof CliError) throw err;
    // openDb says "Cannot reach PostgreSQL at DATABASE_URL: <why>"; the why is the news here.
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    throw new CliError(`cannot reach ${where}: ${reason(cause)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A commander program whose usage errors are one line, `<name>: <problem>`. */
export function program(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) =>
        write(`${name}: ${oneLine(s.replace(/^error: /, ''))} (--help for usage)\n`),
    });
}

function explain(err: unknown): { line: string | undefined; exitCode: number } {
  // Commander has already printed its message, or the help it was asked for.
  if (err instanceof CommanderError) return { line: undefined, exitCode: err.exitCode ? 2 : 0 };
  if (err instanceof CliError) return { line: oneLine(err.message), exitCode: err.exitCode };
  if (err instanceof ConfigError)
    return {
      // "DATABASE_URL: DATABASE_URL must be …" reads better without the repetition.
      line: `invalid configuration: ${err.problems.map((p) => p.replace(/^(\w+): (?=\1 )/, '')).join('; ')}`,
      exitCode: 2,
    };
  const debug = /^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '');
  const stack = debug && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  return {
    line: `${reason(err)}${debug ? stack : ' (LOG_LEVEL=debug shows where)'}`,
    exitCode: 1,
  };
}

/**
 * Runs a CLI's main function: on failure, one line on stderr and a non-zero exit. The
 * process exits at once then: a connection still being attempted must not keep it alive.
 */
export function run(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const { line, exitCode } = explain(err);
    if (line !== undefined) process.stderr.write(`${name}: ${line}\n`);
    process.exit(exitCode);
  });
}
