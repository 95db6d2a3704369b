import { z } from 'zod';

/**
 * Runtime configuration, read from the environment once at start (see the "Operating
 * interface" table of API.md). A bad value stops the process with a message naming the
 * variable, rather than surfacing later as an obscure failure.
 */
export interface Config {
  /** `postgres` when DATABASE_URL is set, otherwise the embedded PGlite engine. */
  engine: 'postgres' | 'pglite';
  databaseUrl: string | undefined;
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

const schema = z
  .object({
    DATABASE_URL: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), {
        message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
      })
      .optional(),
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
    STRATA_MAX_EVENT_BYTES: positiveInt('STRATA_MAX_EVENT_BYTES', 1024, 64 * 1024 * 1024).default(
      256 * 1024,
    ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    NODE_ENV: z.string().default('development'),
  })
  .superRefine((env, ctx) => {
    if (env.STRATA_AUTH_SECRET && env.STRATA_AUTH_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRATA_AUTH_JWKS_URL'],
        message: 'set either STRATA_AUTH_SECRET or STRATA_AUTH_JWKS_URL, not both',
      });
    }
    if (env.DATABASE_URL && !env.STRATA_AUTH_SECRET && !env.STRATA_AUTH_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRATA_AUTH_SECRET'],
        message:
          'STRATA_AUTH_SECRET (or STRATA_AUTH_JWKS_URL) is required with DATABASE_URL (development mode is only for the embedded engine)',
      });
    }
  });

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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(present(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  return {
    engine: e.DATABASE_URL ? 'postgres' : 'pglite',
    databaseUrl: e.DATABASE_URL,
    dataDir: e.STRATA_DATA_DIR,
    port: e.PORT,
    authSecret: e.STRATA_AUTH_SECRET,
    authJwksUrl: e.STRATA_AUTH_JWKS_URL,
    snapshotEvery: e.STRATA_SNAPSHOT_EVERY,
    maxEventBytes: e.STRATA_MAX_EVENT_BYTES,
    logLevel: e.LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
  };
}
