/**
 * The Strata server that holds an embedded data folder, asked through its GraphQL admin
 * API. PGlite is one process's database: while a server holds the folder (a lock in it,
 * src/db/pglite.ts), a CLI cannot open it, but it can ask that server, which has the
 * same admin operations, with an admin token signed the way the server checks them (the
 * development secret in the folder, or STRATA_AUTH_SECRET).
 */
import { DevelopmentModeError, resolveSecret } from '../auth/dev.js';
import { createTokenService } from '../auth/tokens.js';
import { loadPort, loadTokenConfig, type DatabaseConfig } from '../config/config.js';
import { CliError, describeDatabase } from './common.js';

export interface ServerClient {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  /** The data of a GraphQL operation; its first error as a {@link CliError}. */
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

const REQUEST_TIMEOUT_MS = 30_000;
/** Minutes are plenty for one CLI run; a token that leaks from it soon expires. */
const TOKEN_TTL_SECONDS = 15 * 60;

/**
 * The server holding `config`'s embedded folder, on PORT of this host, once it has
 * accepted an admin token and said it runs the embedded engine. Otherwise a
 * {@link CliError} saying what to do, `instead` being the way without a server.
 */
export async function serverHolding(
  config: DatabaseConfig,
  cli: string,
  instead: string,
): Promise<ServerClient> {
  const held = `${describeDatabase(config)} is held by another process`;
  const port = loadPort();
  const url = `http://127.0.0.1:${port}`;

  const auth = loadTokenConfig();
  if (auth.authJwksUrl)
    throw new CliError(
      `${held}. If it is a Strata server, it verifies tokens with STRATA_AUTH_JWKS_URL, so ${cli} cannot sign one it accepts: ${instead} with an admin token from your identity provider, or stop the server and run this again.`,
    );
  let secret;
  try {
    secret = await resolveSecret(auth);
  } catch (err) {
    if (!(err instanceof DevelopmentModeError)) throw err;
    throw new CliError(
      `${held}. To ask the Strata server that holds it, set STRATA_AUTH_SECRET to that server's secret (${err.message}); or stop the server and run this again.`,
    );
  }
  const token = await createTokenService({ secret: secret.secret }).mint(
    { userId: `cli-${cli}`, role: 'admin' },
    TOKEN_TTL_SECONDS,
  );
  const signedWith = secret.development
    ? `the development secret in ${secret.secretFile}`
    : 'STRATA_AUTH_SECRET';

  const post = async (query: string, variables: Record<string, unknown> = {}) => {
    let res: Response;
    try {
      res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch {
      return undefined;
    }
    const body = (await res.json().catch(() => ({}))) as {
      data?: unknown;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    return { status: res.status, body };
  };

  const probe = await post('{ serverInfo { engine } }');
  if (!probe)
    throw new CliError(
      `${held}, and no Strata server answers on ${url}. If the server that holds it listens on another port, set PORT to that port; else stop the process that holds it (it may be a seed still running) and run this again.`,
    );
  const code = probe.body.errors?.[0]?.extensions?.code;
  if (probe.status === 401 || code === 'UNAUTHENTICATED' || code === 'TOKEN_EXPIRED')
    throw new CliError(
      `${held}; the server on ${url} refused an admin token signed with ${signedWith}, so it is not the server that holds the folder, or it has another secret. Set PORT (and STRATA_AUTH_SECRET) to those of the server that holds it, or stop that server and run this again.`,
    );
  const engine = (probe.body.data as { serverInfo?: { engine?: string } } | undefined)?.serverInfo
    ?.engine;
  if (engine !== 'pglite')
    throw new CliError(
      `${held}; the server on ${url} ${engine ? `runs on ${engine}` : 'is not a Strata server that answers'}, not on this folder. Set PORT to the port of the server that holds it, or stop that server and run this again.`,
    );

  return {
    url,
    async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const r = await post(query, variables);
      if (!r) throw new CliError(`the Strata server on ${url} stopped answering`);
      const error = r.body.errors?.[0];
      if (error) throw new CliError(`the Strata server on ${url} answered: ${error.message}`);
      return r.body.data as T;
    },
  };
}
