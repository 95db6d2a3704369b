import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';

/*
 * Who may read the API from a browser on another site (CORS), and who may scrape /metrics:
 * open in development; in production only the listed origins, and /metrics only with its
 * token. No answer ever allows credentials: tokens travel in a header, not in cookies.
 */

const QUERY = JSON.stringify({ query: '{ __typename }' });
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** A cross-site POST as a browser sends it after its preflight. */
const fromOrigin = (s: TestApp, origin: string) =>
  fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: QUERY,
  });

/** The browser's preflight for a JSON POST with a token. */
const preflight = (s: TestApp, origin: string) =>
  fetch(`${s.url}/graphql`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, authorization',
    },
  });

const metrics = (s: TestApp, authorization?: string) =>
  fetch(`${s.url}/metrics`, authorization ? { headers: { authorization } } : {});

describe(`CORS and /metrics on ${engine}`, () => {
  const t = useTestDatabase();
  let dev: TestApp;
  let prod: TestApp;
  let listed: TestApp;
  beforeAll(async () => {
    dev = await startTestApp(t);
    prod = await startTestApp(t, { NODE_ENV: 'production' });
    listed = await startTestApp(t, {
      NODE_ENV: 'production',
      STRATA_CORS_ORIGINS: 'https://shop.example, https://admin.example:8443',
      STRATA_METRICS_TOKEN: METRICS_TOKEN,
    });
  });
  afterAll(async () => {
    for (const s of [dev, prod, listed]) await s?.stop();
  });

  it('development: any origin gets its own origin back, never with credentials', async () => {
    const res = await fromOrigin(dev, 'http://localhost:5173');
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('production without STRATA_CORS_ORIGINS: no origin is allowed', async () => {
    for (const res of [
      await fromOrigin(prod, 'https://evil.example'),
      await preflight(prod, 'https://evil.example'),
    ]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('production with STRATA_CORS_ORIGINS: the listed origins only', async () => {
    for (const origin of ['https://shop.example', 'https://admin.example:8443']) {
      const pre = await preflight(listed, origin);
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
      const res = await fromOrigin(listed, origin);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
    for (const origin of [
      'https://evil.example',
      'https://shop.example.evil.example',
      'http://shop.example',
      'null',
    ]) {
      expect((await fromOrigin(listed, origin)).headers.get('access-control-allow-origin')).toBe(
        null,
      );
      expect((await preflight(listed, origin)).headers.get('access-control-allow-origin')).toBe(
        null,
      );
    }
  });

  it('/metrics: open in development, refused in production without a token', async () => {
    const open = await metrics(dev);
    expect(open.status).toBe(200);
    expect(await open.text()).toMatch(/strata_http_requests_total/);
    const refused = await metrics(prod);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      errors: [
        {
          message: expect.stringMatching(/STRATA_METRICS_TOKEN/),
          extensions: { code: 'FORBIDDEN' },
        },
      ],
    });
  });

  it('/metrics with STRATA_METRICS_TOKEN: only with that bearer token', async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      `Bearer ${METRICS_TOKEN}x`,
      METRICS_TOKEN,
    ]) {
      const res = await metrics(listed, authorization);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const body = await res.text();
      expect(body).not.toMatch(/strata_/);
      expect(JSON.parse(body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const ok = await metrics(listed, `Bearer ${METRICS_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/strata_http_requests_total/);
  });

  it('refuses malformed settings at start, naming them', () => {
    for (const origins of ['https://shop.example/', 'shop.example', 'ftp://shop.example', ',']) {
      expect(() => loadConfig({ STRATA_CORS_ORIGINS: origins })).toThrow(/STRATA_CORS_ORIGINS/);
    }
    expect(() => loadConfig({ STRATA_METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ STRATA_METRICS_TOKEN: 'has a space in it, long' })).toThrow(
      /STRATA_METRICS_TOKEN/,
    );
    expect(loadConfig({ STRATA_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });
});
