/**
 * Mint a token for the configured secret, printed alone on stdout (docs/architecture.md,
 * "Security"; README, tokens):
 *
 *   npm run -s token -- --role admin|customer|service [--customer <id>] [--ttl <seconds>] [--sub <userId>]
 *
 * In development mode (embedded engine, no STRATA_AUTH_SECRET) it signs with the
 * development secret in the data folder, creating it if needed, so the running server
 * accepts the token. Any error: a message on stderr, nothing on stdout, exit code 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/config.js';
import { resolveSecret } from '../auth/dev.js';
import { ROLES, type Principal, type Role } from '../auth/principal.js';
import { InvalidPrincipalError, createTokenService, parsePrincipal } from '../auth/tokens.js';

const USAGE_ERROR = 2;
/** Ten years; anything longer is a typo. */
const MAX_TTL_SECONDS = 10 * 366 * 24 * 60 * 60;

class UsageError extends Error {}

const OPTION_FOR_FIELD: Record<string, string> = {
  userId: '--sub',
  customerId: '--customer',
  role: '--role',
};

function parseTtl(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds');
  const ttl = Number(value);
  if (ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new InvalidArgumentError(`must be between 1 and ${MAX_TTL_SECONDS} seconds`);
  }
  return ttl;
}

interface Options {
  role: Role;
  customer?: string;
  ttl: number;
  sub?: string;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('token')
    .description('Mint a bearer token for the configured secret; prints only the token')
    .addOption(
      new Option('--role <role>', 'role of the token').choices(ROLES).makeOptionMandatory(),
    )
    .option('--customer <id>', 'customer uuid (required for, and only for, --role customer)')
    .option('--ttl <seconds>', 'lifetime in seconds', parseTtl, 3600)
    .option('--sub <userId>', 'user id (default: cli-<role>)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program.parse(argv);
  const opts = program.opts<Options>();

  if (opts.role !== 'customer' && opts.customer !== undefined) {
    throw new UsageError('--customer applies to --role customer only');
  }
  if (opts.role === 'customer' && opts.customer === undefined) {
    throw new UsageError('--role customer needs --customer <uuid>');
  }
  let principal: Principal;
  try {
    principal = parsePrincipal({
      userId: opts.sub ?? `cli-${opts.role}`,
      role: opts.role,
      ...(opts.customer === undefined ? {} : { customerId: opts.customer }),
    });
  } catch (err) {
    if (!(err instanceof InvalidPrincipalError)) throw err;
    const option = OPTION_FOR_FIELD[err.field] ?? err.field;
    throw new UsageError(`${option} ${err.problem}`);
  }

  const config = loadConfig(process.env);
  const { secret } = await resolveSecret(config);
  const token = await createTokenService({ secret }).mint(principal, opts.ttl);
  process.stdout.write(`${token}\n`);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help / version text).
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_ERROR;
    return;
  }
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = USAGE_ERROR;
});
