/**
 * Mint a token for the configured secret, printed alone on stdout (docs/architecture.md,
 * "Security"; README, tokens):
 *
 *   npm run -s token -- --role admin|customer|service [--customer <id>] [--ttl <seconds>] [--sub <userId>]
 *
 * In development mode (embedded engine, no STRATA_AUTH_SECRET) it signs with the
 * development secret in the data folder, creating it if needed, so the running server
 * accepts the token. Bad usage or settings: one line on stderr, nothing on stdout, exit code 2.
 */
import { InvalidArgumentError, Option } from 'commander';
import { loadTokenConfig } from '../config/config.js';
import { DevelopmentModeError, resolveSecret } from '../auth/dev.js';
import { ROLES, type Principal, type Role } from '../auth/principal.js';
import { InvalidPrincipalError, createTokenService, parsePrincipal } from '../auth/tokens.js';
import { CliError, program, run, UsageError } from './common.js';

/** Ten years; anything longer is a typo. */
const MAX_TTL_SECONDS = 10 * 366 * 24 * 60 * 60;

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
  const cli = program(
    'token',
    'Mint a bearer token for the configured secret; prints only the token',
  )
    .addOption(new Option('--role <role>', 'role of the token (required)').choices(ROLES))
    .option('--customer <id>', 'customer uuid (required for, and only for, --role customer)')
    .option('--ttl <seconds>', 'lifetime in seconds', parseTtl, 3600)
    .option('--sub <userId>', 'user id (default: cli-<role>)')
    .allowExcessArguments(false);

  cli.parse(argv);
  const opts = cli.opts<Partial<Options>>();

  // Said here rather than by commander, with the choices and an example: a role is never
  // assumed, so that no one is handed an admin token by leaving the option out.
  if (opts.role === undefined)
    throw new UsageError(
      `say which role the token is for: --role ${ROLES.join('|')} (e.g. npm run -s token -- --role admin)`,
    );

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

  const config = loadTokenConfig();
  if (config.authJwksUrl)
    throw new CliError(
      'STRATA_AUTH_JWKS_URL is set: the server accepts tokens of that identity provider only, so get one there (this CLI signs with STRATA_AUTH_SECRET)',
      2,
    );
  const { secret } = await resolveSecret(config).catch((err: unknown) => {
    throw err instanceof DevelopmentModeError ? new CliError(err.message, 2) : err;
  });
  const token = await createTokenService({ secret }).mint(principal, opts.ttl);
  process.stdout.write(`${token}\n`);
}

run('token', () => main(process.argv));
