import { z } from 'zod';

/**
 * Runtime configuration, read from the environment once at start (every variable is in
 * the README's configuration table). A bad value stops the process with a message naming the
 * variable, rather than surfacing later as an obscure failure.
 */
export interface Config {
  /** `postgres` when DATABASE_URL is set, otherwise the embedded PGlite engine. */
  engine: 'postgres' | 'pglite';
  databaseUrl: string | undefined;
  /**
   * Streaming replicas of DATABASE_URL (`DATABASE_READ_URL`, comma-separated): GraphQL
   * queries read the read models there; everything else stays on the primary. Empty: none.
   */
  databaseReadUrls: string[];
  /**
   * How long a read with `consistentWith` waits for a replica to replay what the primary's
   * read models have reached, before it reads from the primary instead.
   */
  replicaWaitMs: number;
  dataDir: string;
  port: number;
  /** HS256 secret for bearer tokens; undefined means development mode (embedded engine only). */
  authSecret: string | undefined;
  /** An external issuer's JWKS URL: tokens are verified against its keys instead of a secret. */
  authJwksUrl: string | undefined;
  snapshotEvery: number;
  /** Largest accepted event payload (data), in bytes of UTF-8 JSON. */
  maxEventBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeEnv: string;
  /**
   * Production mode: `NODE_ENV=production`, or a PostgreSQL engine (which always has a
   * real secret). Introspection, field suggestions and GraphiQL default to off.
   */
  production: boolean;
  /** GraphQL introspection (default: on in development, off in production). */
  introspection: boolean;
  /** GraphiQL at GET /graphql (default: on in development, off in production). */
  graphiql: boolean;
  /** Abuse limits on each GraphQL document; over one → an error naming it, nothing runs. */
  limits: {
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    maxCost: number;
    maxDirectives: number;
    /** Largest query text, in bytes. */
    maxDocumentBytes: number;
    /** Largest HTTP request body, in bytes. */
    maxBodyBytes: number;
  };
  /** Mutations per principal per minute (0: unlimited). */
  mutationsPerMinute: number;
  /** Cost points of queries per principal per minute (0: unlimited); at least maxCost. */
  readCostPerMinute: number;
  /** Concurrent subscriptions on one connection / of one principal in this process. */
  maxSubscriptionsPerConnection: number;
  maxSubscriptionsPerPrincipal: number;
  /** graphql-ws: time for connection_init, keepalive ping period, largest message. */
  ws: { initTimeoutMs: number; pingIntervalMs: number; maxMessageBytes: number };
  /**
   * Browser origins allowed to call the API from another site (CORS), exactly as browsers
   * send them (`https://shop.example`), or `['*']` for any. Undefined: any origin in
   * development, none in production. Never with credentials: tokens travel in a header.
   */
  corsOrigins: string[] | undefined;
  /**
   * Bearer token that `GET /metrics` requires. Undefined: /metrics is open in development
   * and refused (403) in production.
   */
  metricsToken: string | undefined;
  /** Database session limits (PostgreSQL): statement and idle-in-transaction timeouts. */
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** Upper bound of a graceful shutdown (SIGTERM) before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** An order paid but not fully reserved within this time is flagged late (fulfillment). */
  reservationTimeoutMs: number;
  /**
   * How long a mutation waits for the read models to reach its command's cursor before it
   * answers its success from the read model as it stands (`caughtUp: false`).
   */
  commandReadWaitMs: number;
}

const positiveInt = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, `${name} must be at least ${min}`)
        .max(max, `${name} must be at most ${max}`),
    );

const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { message: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1');

/** Every variable and its own rule; which of them a process reads is up to its loader. */
const fields = z.object({
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), {
      message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
    })
    .optional(),
  DATABASE_READ_URL: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
    )
    .refine(
      (list) =>
        list.length > 0 && list.every((u) => /^postgres(ql)?:\/\//.test(u) && URL.canParse(u)),
      {
        message:
          'DATABASE_READ_URL must be one or more comma-separated postgres:// or postgresql:// URLs',
      },
    )
    .optional(),
  STRATA_REPLICA_WAIT_MS: positiveInt('STRATA_REPLICA_WAIT_MS', 0, 60_000).default(1_000),
  STRATA_DATA_DIR: z.string().min(1).default('./.strata'),
  PORT: positiveInt('PORT', 0, 65535).default(4000),
  STRATA_AUTH_SECRET: z
    .string()
    .min(32, 'STRATA_AUTH_SECRET must be at least 32 characters')
    .optional(),
  STRATA_AUTH_JWKS_URL: z
    .string()
    .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
      message: 'STRATA_AUTH_JWKS_URL must be an http(s) URL',
    })
    .optional(),
  STRATA_SNAPSHOT_EVERY: positiveInt('STRATA_SNAPSHOT_EVERY', 1, 1_000_000).default(50),
  STRATA_CORS_ORIGINS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    )
    .refine((list) => list.length > 0 && list.every((o) => o === '*' || isOrigin(o)), {
      message:
        'STRATA_CORS_ORIGINS must be a comma-separated list of origins such as https://shop.example (scheme, host and port only), or *',
    })
    .optional(),
  STRATA_METRICS_TOKEN: z
    .string()
    .min(16, 'STRATA_METRICS_TOKEN must be at least 16 characters')
    .refine((v) => /^[\x21-\x7e]+$/.test(v), {
      message: 'STRATA_METRICS_TOKEN must be printable ASCII without spaces',
    })
    .optional(),
  STRATA_MAX_EVENT_BYTES: positiveInt('STRATA_MAX_EVENT_BYTES', 1024, 64 * 1024 * 1024).default(
    256 * 1024,
  ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().default('development'),
  STRATA_INTROSPECTION: bool('STRATA_INTROSPECTION').optional(),
  STRATA_GRAPHIQL: bool('STRATA_GRAPHIQL').optional(),
  STRATA_MAX_DEPTH: positiveInt('STRATA_MAX_DEPTH', 1, 100).default(10),
  STRATA_MAX_ALIASES: positiveInt('STRATA_MAX_ALIASES', 1, 1000).default(20),
  STRATA_MAX_TOKENS: positiveInt('STRATA_MAX_TOKENS', 10, 100_000).default(2_000),
  STRATA_MAX_COST: positiveInt('STRATA_MAX_COST', 10, 1_000_000).default(5_000),
  STRATA_MAX_DIRECTIVES: positiveInt('STRATA_MAX_DIRECTIVES', 1, 1000).default(20),
  STRATA_MAX_DOCUMENT_BYTES: positiveInt('STRATA_MAX_DOCUMENT_BYTES', 100, 1024 * 1024).default(
    16 * 1024,
  ),
  STRATA_MAX_BODY_BYTES: positiveInt('STRATA_MAX_BODY_BYTES', 1024, 64 * 1024 * 1024).default(
    1024 * 1024,
  ),
  STRATA_MUTATIONS_PER_MINUTE: positiveInt('STRATA_MUTATIONS_PER_MINUTE', 0, 1_000_000).default(
    600,
  ),
  STRATA_READ_COST_PER_MINUTE: positiveInt('STRATA_READ_COST_PER_MINUTE', 0, 1_000_000_000).default(
    300_000,
  ),
  STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION: positiveInt(
    'STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION',
    1,
    10_000,
  ).default(20),
  STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: positiveInt(
    'STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL',
    1,
    1_000_000,
  ).default(100),
  STRATA_WS_INIT_TIMEOUT_MS: positiveInt('STRATA_WS_INIT_TIMEOUT_MS', 100, 600_000).default(10_000),
  STRATA_WS_PING_INTERVAL_MS: positiveInt('STRATA_WS_PING_INTERVAL_MS', 100, 600_000).default(
    30_000,
  ),
  STRATA_WS_MAX_MESSAGE_BYTES: positiveInt(
    'STRATA_WS_MAX_MESSAGE_BYTES',
    1024,
    64 * 1024 * 1024,
  ).default(64 * 1024),
  STRATA_STATEMENT_TIMEOUT_MS: positiveInt('STRATA_STATEMENT_TIMEOUT_MS', 0, 3_600_000).default(
    30_000,
  ),
  STRATA_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt(
    'STRATA_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    0,
    3_600_000,
  ).default(60_000),
  STRATA_SHUTDOWN_TIMEOUT_MS: positiveInt('STRATA_SHUTDOWN_TIMEOUT_MS', 100, 600_000).default(
    10_000,
  ),
  STRATA_RESERVATION_TIMEOUT_MS: positiveInt(
    'STRATA_RESERVATION_TIMEOUT_MS',
    100,
    7 * 24 * 3_600_000,
  ).default(5 * 60_000),
  STRATA_COMMAND_READ_WAIT_MS: positiveInt('STRATA_COMMAND_READ_WAIT_MS', 0, 60_000).default(1_000),
});

type Env = z.output<typeof fields>;

/** Every variable Strata reads (the README's configuration table names each). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(fields.shape);

/** A secret or an issuer's keys verify tokens, never both (every loader that reads them). */
function authRule(
  env: Pick<Env, 'STRATA_AUTH_SECRET' | 'STRATA_AUTH_JWKS_URL'>,
  ctx: z.RefinementCtx,
): void {
  if (env.STRATA_AUTH_SECRET && env.STRATA_AUTH_JWKS_URL) {
    ctx.addIssue({
      code: 'custom',
      path: ['STRATA_AUTH_JWKS_URL'],
      message: 'set either STRATA_AUTH_SECRET or STRATA_AUTH_JWKS_URL, not both',
    });
  }
}

/**
 * The server's rules: each variable's own, and those between variables. `serving: false`
 * (a process that answers no request, such as the seed) leaves out the one about the secret.
 */
const serverSchema = (serving: boolean) =>
  fields.superRefine((env, ctx) => {
    authRule(env, ctx);
    if (env.DATABASE_READ_URL && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_READ_URL'],
        message:
          'DATABASE_READ_URL needs DATABASE_URL: replicas are read beside a PostgreSQL primary, never beside the embedded engine',
      });
    }
    if (
      env.STRATA_READ_COST_PER_MINUTE > 0 &&
      env.STRATA_READ_COST_PER_MINUTE < env.STRATA_MAX_COST
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRATA_READ_COST_PER_MINUTE'],
        message:
          'STRATA_READ_COST_PER_MINUTE must be 0 (off) or at least STRATA_MAX_COST, so that any allowed query fits in a minute',
      });
    }
    if (serving && env.DATABASE_URL && !env.STRATA_AUTH_SECRET && !env.STRATA_AUTH_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRATA_AUTH_SECRET'],
        message:
          'STRATA_AUTH_SECRET (or STRATA_AUTH_JWKS_URL) is required with DATABASE_URL (development mode is only for the embedded engine)',
      });
    }
  });
const schemas = { serving: serverSchema(true), notServing: serverSchema(false) };

const databaseSchema = fields.pick({
  DATABASE_URL: true,
  STRATA_DATA_DIR: true,
  STRATA_STATEMENT_TIMEOUT_MS: true,
  STRATA_IDLE_IN_TRANSACTION_TIMEOUT_MS: true,
  LOG_LEVEL: true,
  NODE_ENV: true,
});

const tokenSchema = fields
  .pick({
    DATABASE_URL: true,
    STRATA_DATA_DIR: true,
    NODE_ENV: true,
    STRATA_AUTH_SECRET: true,
    STRATA_AUTH_JWKS_URL: true,
  })
  .superRefine(authRule);

const portSchema = fields.pick({ PORT: true });

/** `scheme://host[:port]` as a browser sends it in `Origin`: no path, query or trailing slash. */
function isOrigin(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const u = new URL(v);
  return /^https?:$/.test(u.protocol) && u.origin === v;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset, as shells and compose files often export `VAR=`. */
function present(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function parse<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(present(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** The settings that say which database and how to open it. */
export type DatabaseConfig = Pick<
  Config,
  | 'engine'
  | 'databaseUrl'
  | 'dataDir'
  | 'statementTimeoutMs'
  | 'idleInTransactionTimeoutMs'
  | 'logLevel'
  | 'nodeEnv'
>;

function databaseConfig(e: z.output<typeof databaseSchema>): DatabaseConfig {
  return {
    engine: e.DATABASE_URL ? 'postgres' : 'pglite',
    databaseUrl: e.DATABASE_URL,
    dataDir: e.STRATA_DATA_DIR,
    statementTimeoutMs: e.STRATA_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: e.STRATA_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
  };
}

/**
 * Only the database settings, for a CLI that works on the database and on nothing else
 * (`migrate`, `projections`): a secret it never uses, or a bad value of a server setting,
 * does not stop it.
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  return databaseConfig(parse(databaseSchema, env));
}

/** What signing a token the server accepts takes (see `resolveSecret`). */
export type TokenConfig = Pick<
  Config,
  'engine' | 'dataDir' | 'nodeEnv' | 'authSecret' | 'authJwksUrl'
>;

/** Only the token settings, for a CLI that signs tokens (`token`). */
export function loadTokenConfig(env: NodeJS.ProcessEnv = process.env): TokenConfig {
  const e = parse(tokenSchema, env);
  return {
    engine: e.DATABASE_URL ? 'postgres' : 'pglite',
    dataDir: e.STRATA_DATA_DIR,
    nodeEnv: e.NODE_ENV,
    authSecret: e.STRATA_AUTH_SECRET,
    authJwksUrl: e.STRATA_AUTH_JWKS_URL,
  };
}

/** The server's port alone, for a CLI that asks the running server. */
export function loadPort(env: NodeJS.ProcessEnv = process.env): number {
  return parse(portSchema, env).PORT;
}

/**
 * Every setting, for the server. `serving: false` is for a process that builds the app
 * but answers no request (the seed): it needs no secret even with DATABASE_URL.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: { serving?: boolean } = {},
): Config {
  const e = parse(options.serving === false ? schemas.notServing : schemas.serving, env);
  const production = e.NODE_ENV === 'production' || e.DATABASE_URL !== undefined;
  return {
    ...databaseConfig(e),
    databaseReadUrls: e.DATABASE_READ_URL ?? [],
    replicaWaitMs: e.STRATA_REPLICA_WAIT_MS,
    port: e.PORT,
    authSecret: e.STRATA_AUTH_SECRET,
    authJwksUrl: e.STRATA_AUTH_JWKS_URL,
    snapshotEvery: e.STRATA_SNAPSHOT_EVERY,
    maxEventBytes: e.STRATA_MAX_EVENT_BYTES,
    production,
    introspection: e.STRATA_INTROSPECTION ?? !production,
    graphiql: e.STRATA_GRAPHIQL ?? !production,
    limits: {
      maxDepth: e.STRATA_MAX_DEPTH,
      maxAliases: e.STRATA_MAX_ALIASES,
      maxTokens: e.STRATA_MAX_TOKENS,
      maxCost: e.STRATA_MAX_COST,
      maxDirectives: e.STRATA_MAX_DIRECTIVES,
      maxDocumentBytes: e.STRATA_MAX_DOCUMENT_BYTES,
      maxBodyBytes: e.STRATA_MAX_BODY_BYTES,
    },
    mutationsPerMinute: e.STRATA_MUTATIONS_PER_MINUTE,
    readCostPerMinute: e.STRATA_READ_COST_PER_MINUTE,
    maxSubscriptionsPerConnection: e.STRATA_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    maxSubscriptionsPerPrincipal: e.STRATA_MAX_SUBSCRIPTIONS_PER_PRINCIPAL,
    ws: {
      initTimeoutMs: e.STRATA_WS_INIT_TIMEOUT_MS,
      pingIntervalMs: e.STRATA_WS_PING_INTERVAL_MS,
      maxMessageBytes: e.STRATA_WS_MAX_MESSAGE_BYTES,
    },
    corsOrigins: e.STRATA_CORS_ORIGINS,
    metricsToken: e.STRATA_METRICS_TOKEN,
    shutdownTimeoutMs: e.STRATA_SHUTDOWN_TIMEOUT_MS,
    reservationTimeoutMs: e.STRATA_RESERVATION_TIMEOUT_MS,
    commandReadWaitMs: e.STRATA_COMMAND_READ_WAIT_MS,
  };
}
