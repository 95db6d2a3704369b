import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import {
  AuthError,
  CLOCK_TOLERANCE_SECONDS,
  InvalidPrincipalError,
  authenticate,
  bearerToken,
  createTokenService,
  wsCloseCodeFor,
  type AuthErrorReason,
} from '../../src/auth/tokens.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const OTHER_SECRET = 'another-secret-0123456789-abcdefghijklm';
const CUSTOMER_ID = '3f9c1f5e-8d3a-4b7e-9a51-2c6d7e8f9a0b';

const service = createTokenService({ secret: SECRET });
const now = () => Math.floor(Date.now() / 1000);
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Valid admin claims; tests remove or change one thing at a time. */
function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const t = now();
  return {
    sub: 'u-1',
    role: 'admin',
    iss: 'strata',
    aud: 'strata',
    iat: t,
    exp: t + 600,
    ...overrides,
  };
}

function without(name: string): JWTPayload {
  const c = claims();
  delete c[name];
  return c;
}

/** Signs exactly the given claims (no defaults added). */
async function sign(payload: JWTPayload, secret = SECRET, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

async function failure(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return err as AuthError;
  }
  throw new Error('expected an AuthError, but it resolved');
}

async function expectReason(token: string, reason: AuthErrorReason, svc = service) {
  const err = await failure(svc.verify(token));
  expect(err.reason).toBe(reason);
  expect(err.status).toBe(reason === 'forbidden' ? 403 : 401);
  // Safe to show clients: never echoes the token or any part of it.
  if (token.length > 0) {
    for (const part of token.split('.').filter((p) => p.length > 8)) {
      expect(err.message).not.toContain(part);
    }
  }
  return err;
}

describe('mint and verify', () => {
  it.each<Principal>([
    { userId: 'alice', role: 'admin' },
    { userId: 'billing-service', role: 'service' },
    { userId: 'bob', role: 'customer', customerId: CUSTOMER_ID },
  ])('round-trips a $role principal', async (principal) => {
    const token = await service.mint(principal);
    expect(await service.verify(token)).toEqual(principal);
  });

  it('writes the documented claims', async () => {
    const before = now();
    const token = await service.mint(
      { userId: 'bob', role: 'customer', customerId: CUSTOMER_ID },
      120,
    );
    const c = decodeJwt(token);
    expect(c).toMatchObject({
      sub: 'bob',
      role: 'customer',
      customer_id: CUSTOMER_ID,
      iss: 'strata',
      aud: 'strata',
    });
    expect(c.iat).toBeGreaterThanOrEqual(before);
    expect(c.exp! - c.iat!).toBe(120);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    });

    const admin = decodeJwt(await service.mint({ userId: 'alice', role: 'admin' }));
    expect(admin).not.toHaveProperty('customer_id');
    expect(admin.exp! - admin.iat!).toBe(3600);
  });

  it('normalizes the customer id to lowercase', async () => {
    const token = await service.mint({
      userId: 'bob',
      role: 'customer',
      customerId: CUSTOMER_ID.toUpperCase(),
    });
    expect((await service.verify(token)).customerId).toBe(CUSTOMER_ID);
    const signed = await sign(claims({ role: 'customer', customer_id: CUSTOMER_ID.toUpperCase() }));
    expect((await service.verify(signed)).customerId).toBe(CUSTOMER_ID);
  });

  it('uses the configured issuer and audience', async () => {
    const custom = createTokenService({ secret: SECRET, issuer: 'idp', audience: 'orders' });
    const token = await custom.mint({ userId: 'alice', role: 'admin' });
    expect(decodeJwt(token)).toMatchObject({ iss: 'idp', aud: 'orders' });
    expect(await custom.verify(token)).toEqual({ userId: 'alice', role: 'admin' });
    await expectReason(token, 'invalid'); // the default service expects strata/strata
  });

  it('accepts an audience array that includes ours', async () => {
    const token = await sign(claims({ aud: ['other', 'strata'] }));
    expect(await service.verify(token)).toEqual({ userId: 'u-1', role: 'admin' });
  });

  it('refuses to mint invalid principals', async () => {
    const bad: unknown[] = [
      { userId: '', role: 'admin' },
      { userId: 'x'.repeat(256), role: 'admin' },
      { userId: 'a\nb', role: 'admin' },
      { userId: 'u', role: 'root' },
      { userId: 'u', role: 'customer' },
      { userId: 'u', role: 'customer', customerId: 'not-a-uuid' },
      { userId: 'u', role: 'admin', customerId: CUSTOMER_ID },
    ];
    for (const p of bad) {
      await expect(service.mint(p as Principal)).rejects.toBeInstanceOf(InvalidPrincipalError);
    }
    await expect(service.mint({ userId: 'u', role: 'admin' }, 1.5)).rejects.toThrow(RangeError);
  });

  it('accepts a sub of exactly 255 characters', async () => {
    const userId = 'x'.repeat(255);
    expect(await service.verify(await service.mint({ userId, role: 'admin' }))).toEqual({
      userId,
      role: 'admin',
    });
  });
});

describe('expiry', () => {
  it('reports a token past its exp as expired (401, ws 4403)', async () => {
    const token = await service.mint({ userId: 'alice', role: 'admin' }, -60);
    const err = await expectReason(token, 'expired');
    expect(wsCloseCodeFor(err)).toBe(4403);
  });

  it('reports an expired token signed with jose directly as expired', async () => {
    const t = now();
    await expectReason(await sign(claims({ iat: t - 3600, exp: t - 60 })), 'expired');
  });

  it(`tolerates ${CLOCK_TOLERANCE_SECONDS} s of clock skew, no more`, async () => {
    const t = now();
    const justNow = await sign(claims({ iat: t - 100, exp: t - 2 }));
    expect(await service.verify(justNow)).toMatchObject({ userId: 'u-1' });
    await expectReason(await sign(claims({ iat: t - 100, exp: t - 30 })), 'expired');
  });

  it('remembers a verified token only until it expires, then refuses it as expired', async () => {
    const token = await service.mint({ userId: 'bob', role: 'admin' }, 2);
    expect(await service.verify(token)).toMatchObject({ userId: 'bob' });
    expect(await service.verify(token)).toMatchObject({ userId: 'bob' });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    try {
      await expectReason(token, 'expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('says invalid, not expired, when an expired token is not authentic', async () => {
    const t = now();
    await expectReason(await sign(claims({ exp: t - 60, iat: t - 120 }), OTHER_SECRET), 'invalid');
  });
});

describe('invalid tokens', () => {
  it('empty token → missing', async () => {
    await expectReason('', 'missing');
    await expectReason('   ', 'missing');
  });

  it('garbage → invalid', async () => {
    for (const t of ['abc', 'a.b.c', 'not a token at all', 'x'.repeat(10_000)]) {
      await expectReason(t, 'invalid');
    }
  });

  it('wrong secret → invalid', async () => {
    const token = await createTokenService({ secret: OTHER_SECRET }).mint({
      userId: 'alice',
      role: 'admin',
    });
    await expectReason(token, 'invalid');
  });

  it('tampered signature → invalid', async () => {
    const token = await service.mint({ userId: 'alice', role: 'admin' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    await expectReason(`${h}.${p}.${flipped}`, 'invalid');
    await expectReason(`${h}.${p}.`, 'invalid');
  });

  it('tampered payload (customer promoting itself to admin) → invalid', async () => {
    const token = await service.mint({ userId: 'bob', role: 'customer', customerId: CUSTOMER_ID });
    const [h, , s] = token.split('.') as [string, string, string];
    const forged = b64url({ ...decodeJwt(token), role: 'admin' });
    await expectReason(`${h}.${forged}.${s}`, 'invalid');
  });

  it('alg none → invalid', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`;
    await expectReason(unsigned, 'invalid');
  });

  it('another HMAC algorithm with the right secret → invalid (HS256 only)', async () => {
    await expectReason(await sign(claims(), SECRET, 'HS512'), 'invalid');
  });

  it('wrong issuer or audience → invalid', async () => {
    await expectReason(await sign(claims({ iss: 'someone-else' })), 'invalid');
    await expectReason(await sign(claims({ aud: 'someone-else' })), 'invalid');
  });

  it.each(['sub', 'role', 'exp', 'iat', 'iss', 'aud'])('missing %s → invalid', async (name) => {
    await expectReason(await sign(without(name)), 'invalid');
  });

  it('customer without a (uuid) customer_id → invalid', async () => {
    await expectReason(await sign(claims({ role: 'customer' })), 'invalid');
    await expectReason(await sign(claims({ role: 'customer', customer_id: 'c-42' })), 'invalid');
    await expectReason(await sign(claims({ role: 'customer', customer_id: 42 })), 'invalid');
    await expectReason(await sign(claims({ role: 'customer', customer_id: null })), 'invalid');
  });

  it('customer_id on a role other than customer → invalid', async () => {
    await expectReason(await sign(claims({ role: 'admin', customer_id: CUSTOMER_ID })), 'invalid');
  });

  it('unknown or malformed role → invalid', async () => {
    for (const role of ['root', 'Admin', '', 7, ['admin'], null]) {
      await expectReason(await sign(claims({ role })), 'invalid');
    }
  });

  it('empty, overlong or non-string sub → invalid', async () => {
    for (const sub of ['', 'x'.repeat(256), 'a\u0000b']) {
      await expectReason(await sign(claims({ sub })), 'invalid');
    }
    // jose refuses a non-string sub when signing, so forge the payload and sign it by hand.
    const t = await sign(claims({ sub: 'placeholder' }));
    const [h, , s] = t.split('.') as [string, string, string];
    await expectReason(`${h}.${b64url(claims({ sub: 123 }))}.${s}`, 'invalid');
  });

  it('iat or nbf in the future (beyond the tolerance) → invalid', async () => {
    const t = now();
    await expectReason(await sign(claims({ iat: t + 120, exp: t + 600 })), 'invalid');
    await expectReason(await sign(claims({ nbf: t + 120 })), 'invalid');
  });
});

describe('bearerToken', () => {
  it('extracts the token, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('BEARER abc.def-_.ghi')).toBe('abc.def-_.ghi');
    expect(bearerToken('  Bearer   abc.def.ghi  ')).toBe('abc.def.ghi');
    expect(bearerToken('Bearer abc==')).toBe('abc==');
  });

  it('absent or blank → undefined', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken('   ')).toBeUndefined();
  });

  it('anything else → AuthError invalid, without echoing the header', () => {
    for (const h of [
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer ',
      'Bearertoken',
      'Bearer a b',
      'Bearer a,b',
      'Token abc.def.ghi',
      'abc.def.ghi',
      'Bearer secret-part"x',
    ]) {
      let caught: unknown;
      try {
        bearerToken(h);
      } catch (err) {
        caught = err;
      }
      expect(caught, h).toBeInstanceOf(AuthError);
      expect((caught as AuthError).reason).toBe('invalid');
      expect((caught as AuthError).status).toBe(401);
      expect((caught as AuthError).message).not.toContain('dXNlcjpwYXNz');
      expect((caught as AuthError).message).not.toContain('secret-part');
    }
  });

  it('authenticate(): header → principal, absent header → missing', async () => {
    const token = await service.mint({ userId: 'alice', role: 'admin' });
    expect(await authenticate(service, `Bearer ${token}`)).toEqual({
      userId: 'alice',
      role: 'admin',
    });
    expect((await failure(authenticate(service, undefined))).reason).toBe('missing');
    expect((await failure(authenticate(service, 'Basic x'))).reason).toBe('invalid');
  });
});

describe('AuthError and websocket close codes', () => {
  it('maps reasons to HTTP statuses and close codes', () => {
    const cases: [AuthErrorReason, number, number][] = [
      ['missing', 401, 4401],
      ['invalid', 401, 4401],
      ['expired', 401, 4403],
      ['forbidden', 403, 4403],
    ];
    for (const [reason, status, code] of cases) {
      const err = new AuthError(reason);
      expect(err.status).toBe(status);
      expect(wsCloseCodeFor(err)).toBe(code);
      expect(err.name).toBe('AuthError');
      expect(err.message.length).toBeGreaterThan(0);
    }
  });
});

describe('createTokenService configuration', () => {
  it('refuses bad configurations', () => {
    expect(() => createTokenService({})).toThrow(/exactly one/);
    expect(() =>
      createTokenService({ secret: SECRET, jwksUrl: 'https://idp.example/jwks' }),
    ).toThrow(/exactly one/);
    expect(() => createTokenService({ secret: 'short' })).toThrow(/at least 32/);
    expect(() => createTokenService({ jwksUrl: 'http://idp.example/jwks' })).toThrow(/https/);
    expect(() => createTokenService({ jwksUrl: 'not a url' })).toThrow(/URL/);
  });
});

describe('JWKS verification', () => {
  let server: Server;
  let jwksUrl: string;
  let sign256: (payload: JWTPayload) => Promise<string>;
  let signOther: (payload: JWTPayload) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    sign256 = (p) =>
      new SignJWT(p).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    signOther = (p) =>
      new SignJWT(p).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(other.privateKey);
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('verifies tokens signed by the key set', async () => {
    const svc = createTokenService({ jwksUrl });
    const token = await sign256(claims({ role: 'customer', customer_id: CUSTOMER_ID }));
    expect(await svc.verify(token)).toEqual({
      userId: 'u-1',
      role: 'customer',
      customerId: CUSTOMER_ID,
    });
  });

  it('rejects other keys and HS256 tokens (no algorithm confusion)', async () => {
    const svc = createTokenService({ jwksUrl });
    await expectReason(await signOther(claims()), 'invalid', svc);
    await expectReason(await sign(claims()), 'invalid', svc);
    const t = now();
    await expectReason(await sign256(claims({ iat: t - 120, exp: t - 60 })), 'expired', svc);
  });

  it('cannot mint', async () => {
    const svc = createTokenService({ jwksUrl });
    await expect(svc.mint({ userId: 'alice', role: 'admin' })).rejects.toThrow(/JWKS/);
  });
});
