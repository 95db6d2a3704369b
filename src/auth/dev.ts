import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { MIN_SECRET_LENGTH, type TokenService } from './tokens.js';

/**
 * Development mode (docs/architecture.md, "Security"): with the embedded engine and no
 * STRATA_AUTH_SECRET, tokens are signed with a random secret kept in the data folder
 * (`<STRATA_DATA_DIR>/dev-secret`, mode 0600), so development tokens survive restarts and
 * `npm run token` mints tokens the running server accepts. Never in production, never with
 * PostgreSQL.
 */

export const DEV_SECRET_FILE = 'dev-secret';
/** The customer of the sample development customer token. */
export const DEV_CUSTOMER_ID = '00000000-0000-4000-8000-000000000001';
/** Lifetime of the tokens {@link devTokens} prints: 30 days. */
export const DEV_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;

export class DevelopmentModeError extends Error {
  override name = 'DevelopmentModeError';
}

export interface ResolvedSecret {
  secret: string;
  /** True when the secret is the generated development one. */
  development: boolean;
  /** Where the development secret lives (development mode only). */
  secretFile?: string;
}

export async function resolveSecret(
  config: Pick<Config, 'authSecret' | 'engine' | 'dataDir' | 'nodeEnv'>,
): Promise<ResolvedSecret> {
  if (config.authSecret !== undefined && config.authSecret !== '') {
    return { secret: config.authSecret, development: false };
  }
  if (config.nodeEnv === 'production') {
    throw new DevelopmentModeError(
      'STRATA_AUTH_SECRET is required when NODE_ENV=production (development tokens are never used in production)',
    );
  }
  if (config.engine !== 'pglite') {
    throw new DevelopmentModeError(
      'STRATA_AUTH_SECRET is required with DATABASE_URL (development mode is only for the embedded engine)',
    );
  }

  const secretFile = path.join(config.dataDir, DEV_SECRET_FILE);
  const existing = await readSecret(secretFile);
  if (existing !== undefined) return { secret: existing, development: true, secretFile };

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  // Write a complete temporary file, then link it into place: link() never overwrites, and
  // a concurrent first start either wins or reads the winner's complete file.
  const temp = `${secretFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, secretFile);
    return { secret, development: true, secretFile };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const theirs = await readSecret(secretFile);
    if (theirs === undefined) throw err;
    return { secret: theirs, development: true, secretFile };
  } finally {
    await unlink(temp).catch(() => {});
  }
}

async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new DevelopmentModeError(
      `The development secret in ${file} is shorter than ${MIN_SECRET_LENGTH} characters; delete the file to generate a new one`,
    );
  }
  return secret;
}

export interface DevTokens {
  /** Role admin, sub `dev-admin`. */
  admin: string;
  /** Role customer, sub `dev-customer`, bound to {@link DEV_CUSTOMER_ID}. */
  customer: string;
  customerId: string;
  ttlSeconds: number;
}

/** Long-lived sample tokens for the server to print at start in development mode. */
export async function devTokens(service: TokenService): Promise<DevTokens> {
  const [admin, customer] = await Promise.all([
    service.mint({ userId: 'dev-admin', role: 'admin' }, DEV_TOKEN_TTL_SECONDS),
    service.mint(
      { userId: 'dev-customer', role: 'customer', customerId: DEV_CUSTOMER_ID },
      DEV_TOKEN_TTL_SECONDS,
    ),
  ]);
  return { admin, customer, customerId: DEV_CUSTOMER_ID, ttlSeconds: DEV_TOKEN_TTL_SECONDS };
}
