import { SignJWT, createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { ROLES, type Principal } from './principal.js';

/**
 * Bearer tokens (docs/architecture.md, "Security"): compact JWTs carrying
 *
 * | claim         | meaning                                                  |
 * |---------------|----------------------------------------------------------|
 * | `sub`         | user id (non-empty, at most 255 characters)              |
 * | `role`        | `admin` \| `customer` \| `service`                       |
 * | `customer_id` | uuid of the customer, for (and only for) role `customer` |
 * | `iat`, `exp`  | issued at / expires at (seconds since the epoch)         |
 * | `iss`, `aud`  | both `strata` unless configured otherwise                |
 *
 * Signed with HS256 and the configured secret, or (when a JWKS URL is configured) signed by
 * an external issuer with an asymmetric key and only verified here.
 */

/** Clock skew accepted on `exp`, `nbf` and `iat`. Deliberately small. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** Shortest accepted HS256 secret, as STRATA_AUTH_SECRET (src/config/config.ts). */
export const MIN_SECRET_LENGTH = 32;
/** Longer "tokens" are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

const HMAC_ALGORITHMS = ['HS256'];
/** For JWKS only; HS* is excluded so a public key can never be used as an HMAC secret. */
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

export type AuthErrorReason = 'missing' | 'invalid' | 'expired' | 'forbidden';

const DEFAULT_MESSAGES: Record<AuthErrorReason, string> = {
  missing: 'Authentication required: send "Authorization: Bearer <token>"',
  invalid: 'Invalid token',
  expired: 'Token expired',
  forbidden: 'Not allowed',
};

/**
 * An authentication or authorization failure. `message` is safe to show to clients: it never
 * contains the token or its claims (the underlying jose error, if any, is kept as `cause`
 * for server logs only). `status` is the HTTP status to answer with.
 */
export class AuthError extends Error {
  override name = 'AuthError';
  readonly status: 401 | 403;
  constructor(
    readonly reason: AuthErrorReason,
    message: string = DEFAULT_MESSAGES[reason],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = reason === 'forbidden' ? 403 : 401;
  }
}

/**
 * The graphql-ws close code for an auth failure:
 * - `4401` (Unauthorized) for `missing` / `invalid`: the client has no usable credentials;
 *   retrying with the same ones is pointless.
 * - `4403` (Forbidden) for `forbidden` and for `expired`. An expired token is detected on a
 *   socket that was accepted earlier (tokens are re-checked while it is open); closing with
 *   4403 tells the client "you were authenticated, that no longer holds": it should get a
 *   fresh token and reconnect, rather than treat it as a bad credential. (graphql-ws itself
 *   only retries on its own terms; clients decide what to do per close code.)
 */
export function wsCloseCodeFor(err: AuthError): 4401 | 4403 {
  return err.reason === 'forbidden' || err.reason === 'expired' ? 4403 : 4401;
}

/** RFC 6750 b64token (JWTs use a subset: base64url parts separated by dots). */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The token of an `Authorization: Bearer <token>` header value (the scheme is
 * case-insensitive). Absent or blank → `undefined` (the caller decides whether anonymous
 * access is allowed; usually it is not: see {@link authenticate}). Any other scheme or a
 * malformed value → `AuthError('invalid')`.
 */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (header === undefined || header === null) return undefined;
  if (typeof header !== 'string') throw new AuthError('invalid', 'Malformed Authorization header');
  const value = header.trim();
  if (value === '') return undefined;
  const match = BEARER.exec(value);
  if (!match?.[1]) {
    throw new AuthError('invalid', 'Malformed Authorization header: expected "Bearer <token>"');
  }
  return match[1];
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

const userIdSchema = z
  .string('must be a string')
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters');

/** The claims this service owns; registered claims (exp, iat, iss, aud) are checked by jose. */
const claimsSchema = z
  .object({
    sub: userIdSchema,
    role: z.enum(ROLES),
    customer_id: z.uuid().optional(),
  })
  .refine((c) => (c.role === 'customer') === (c.customer_id !== undefined), {
    message: 'customer_id is required for role customer and not allowed otherwise',
  });

const principalSchema = z
  .object({
    userId: userIdSchema,
    role: z.enum(ROLES, 'must be admin, customer or service'),
    customerId: z.uuid('must be a uuid').optional(),
  })
  .refine((p) => (p.role === 'customer') === (p.customerId !== undefined), {
    path: ['customerId'],
    message: 'is required for role customer and not allowed for other roles',
  });

/** A principal that breaks the rules of {@link Principal}; `field` names the culprit. */
export class InvalidPrincipalError extends TypeError {
  override name = 'InvalidPrincipalError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Invalid principal: ${field ? `${field} ` : ''}${problem}`);
  }
}

/**
 * Checks a principal (for minting) and returns a normalized copy (lowercase customer id).
 * Throws {@link InvalidPrincipalError}.
 */
export function parsePrincipal(p: Principal): Principal {
  const parsed = principalSchema.safeParse(p);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidPrincipalError(issue?.path.join('.') ?? '', issue?.message ?? 'is malformed');
  }
  const { userId, role, customerId } = parsed.data;
  return customerId === undefined
    ? { userId, role }
    : { userId, role, customerId: customerId.toLowerCase() };
}

export interface TokenServiceOptions {
  /** HS256 secret (at least 32 characters). Exactly one of `secret` and `jwksUrl`. */
  secret?: string;
  /**
   * URL of an external issuer's JSON Web Key Set (https, or http on localhost). Tokens are
   * then verified against its asymmetric keys and `mint` is unavailable.
   */
  jwksUrl?: string;
  /** Expected and minted `iss`. Default `strata`. */
  issuer?: string;
  /** Expected and minted `aud`. Default `strata`. */
  audience?: string;
}

export interface TokenService {
  /**
   * The principal of a token. Throws `AuthError` with reason `missing` (empty token),
   * `expired` (authentic but past `exp`) or `invalid` (anything else wrong). Problems
   * reaching the JWKS are not the client's fault and are rethrown as they are.
   */
  verify(token: string): Promise<Principal>;
  /**
   * A signed token for `principal`, valid for `ttlSeconds` (an integer; zero or negative
   * yields an already expired token, which tests use). Throws `TypeError` for an invalid
   * principal, and `Error` when the service verifies with a JWKS (it holds no signing key).
   */
  mint(principal: Principal, ttlSeconds?: number): Promise<string>;
  /** How many verified tokens it remembers now (at most {@link VERIFIED_MAX}). */
  remembered(): number;
}

/** Token problems, as opposed to infrastructure ones (JWKS unreachable, timeouts). */
const TOKEN_ERRORS = [
  errors.JWSInvalid,
  errors.JWTInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWTClaimValidationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
];

function isAllowedJwksUrl(raw: string): URL {
  if (!URL.canParse(raw)) throw new TypeError('jwksUrl must be an absolute URL');
  const url = new URL(raw);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new TypeError('jwksUrl must use https (plain http is allowed for localhost only)');
  }
  return url;
}

/** Verified tokens remembered at most (a bound on memory: ~1 KB each). */
export const VERIFIED_MAX = 10_000;
/** How long a verified token is remembered at most (a JWKS key may be withdrawn). */
const VERIFIED_TTL_MS = 5 * 60_000;

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { secret, jwksUrl, issuer = 'strata', audience = 'strata' } = options;
  if ((secret === undefined) === (jwksUrl === undefined)) {
    throw new TypeError('createTokenService needs exactly one of secret and jwksUrl');
  }
  if (issuer === '' || audience === '') {
    throw new TypeError('issuer and audience must not be empty');
  }

  let secretKey: Uint8Array | undefined;
  let verifyKey: Uint8Array | ReturnType<typeof createRemoteJWKSet>;
  let algorithms: string[];
  if (secret !== undefined) {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`The token secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    secretKey = new TextEncoder().encode(secret);
    verifyKey = secretKey;
    algorithms = HMAC_ALGORITHMS;
  } else {
    verifyKey = createRemoteJWKSet(isAllowedJwksUrl(jwksUrl as string));
    algorithms = ASYMMETRIC_ALGORITHMS;
  }

  const verifyOptions = {
    algorithms,
    issuer,
    audience,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ['sub', 'role', 'exp', 'iat', 'iss', 'aud'],
  };

  // Verified tokens, remembered until they expire (at most VERIFIED_TTL_MS): a client sends
  // the same token with every request, and checking its signature each time cost as much
  // CPU as the rest of a command. Bounded; oldest forgotten first. Only successes are kept:
  // a bad or expired token is checked (and refused) every time.
  const verified = new Map<string, { principal: Principal; until: number }>();

  async function verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.trim() === '') throw new AuthError('missing');
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('invalid');
    const known = verified.get(token);
    if (known) {
      if (Date.now() < known.until) return known.principal;
      verified.delete(token);
    }
    return verifySignature(token);
  }

  async function verifySignature(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      // Overloads differ for a key and a key-resolving function; both are fine here.
      const result =
        verifyKey instanceof Uint8Array
          ? await jwtVerify(token, verifyKey, verifyOptions)
          : await jwtVerify(token, verifyKey, verifyOptions);
      payload = result.payload;
    } catch (err) {
      // jose checks the signature before any claim, so "expired" implies "authentic".
      if (err instanceof errors.JWTExpired)
        throw new AuthError('expired', undefined, { cause: err });
      if (TOKEN_ERRORS.some((E) => err instanceof E)) {
        throw new AuthError('invalid', undefined, { cause: err });
      }
      throw err;
    }

    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number' || payload.iat > now + CLOCK_TOLERANCE_SECONDS) {
      throw new AuthError('invalid', undefined, { cause: new Error('iat is in the future') });
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new AuthError('invalid', undefined, { cause: claims.error });
    const { sub, role, customer_id } = claims.data;
    const principal: Principal =
      customer_id === undefined
        ? { userId: sub, role }
        : { userId: sub, role, customerId: customer_id.toLowerCase() };
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
    verified.set(token, {
      principal: Object.freeze(principal),
      until: Math.min(exp, Date.now() + VERIFIED_TTL_MS),
    });
    return principal;
  }

  async function mint(principal: Principal, ttlSeconds = 3600): Promise<string> {
    if (!secretKey) {
      throw new Error(
        'Cannot mint tokens: this token service verifies with a JWKS (jwksUrl) and holds no signing key; tokens come from the identity provider',
      );
    }
    if (!Number.isSafeInteger(ttlSeconds)) {
      throw new RangeError('ttlSeconds must be an integer number of seconds');
    }
    const p = parsePrincipal(principal);
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({
      role: p.role,
      ...(p.customerId === undefined ? {} : { customer_id: p.customerId }),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(p.userId)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(secretKey);
  }

  return { verify, mint, remembered: () => verified.size };
}

/**
 * The principal of an `Authorization` header value (HTTP header or graphql-ws
 * `connectionParams.authorization`): absent → `AuthError('missing')`, otherwise as
 * {@link bearerToken} then {@link TokenService.verify}.
 */
export async function authenticate(
  service: TokenService,
  header: string | undefined | null,
): Promise<Principal> {
  const token = bearerToken(header);
  if (token === undefined) throw new AuthError('missing');
  return service.verify(token);
}
