import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';

/*
 * The GraphQL-over-HTTP conformance audit of graphql-http, against the started server in
 * production mode. Two things about production mode meet the audit:
 *
 * - CSRF prevention: a non-JSON POST must carry the `x-graphql-yoga-csrf` header, which a
 *   browser cannot add to a cross-site request without a CORS preflight; GETs need not
 *   (ADR 15). The audit sends no such header, as a plain client would, and passes.
 * - Introspection is off by default, and four audits expect an answer without errors to
 *   `__type(name: …)`, an introspection query (2EA1 and 28B9 about variables, D6D5 and
 *   6A70 about variables in a GET; BF61 sends one too but checks only the status). So the
 *   audit runs with introspection enabled, as an operator may do in production, and every
 *   audit passes; with the default, exactly those four are refused (INTROSPECTION_DISABLED)
 *   and everything else still passes.
 */
const INTROSPECTION_PROBES = new Set(['2EA1', '28B9', 'D6D5', '6A70']);

describe(`graphql-http audit of the server in production mode on ${engine}`, () => {
  const t = useTestDatabase();
  let withIntrospection: TestApp;
  let defaults: TestApp;
  beforeAll(async () => {
    withIntrospection = await startTestApp(t, {
      NODE_ENV: 'production',
      STRATA_INTROSPECTION: 'true',
    });
    defaults = await startTestApp(t, { NODE_ENV: 'production' });
  });
  afterAll(async () => {
    await withIntrospection?.stop();
    await defaults?.stop();
  });

  it('runs in production mode', () => {
    expect(withIntrospection.app.config.production).toBe(true);
    expect(defaults.app.config.production).toBe(true);
    expect(defaults.app.config.introspection).toBe(false);
  });

  describe('with introspection enabled: every audit passes', () => {
    const audits = serverAudits({
      url: () => `${withIntrospection.url}/graphql`,
      fetchFn: fetch,
    });
    for (const audit of audits) {
      it(`${audit.id} ${audit.name}`, async () => {
        const r = await audit.fn();
        expect(r.status, 'reason' in r ? r.reason : '').toBe('ok');
      });
    }
  });

  describe('with the defaults: only the introspection probes are refused', () => {
    const audits = serverAudits({ url: () => `${defaults.url}/graphql`, fetchFn: fetch });
    for (const audit of audits) {
      const probe = INTROSPECTION_PROBES.has(audit.id);
      it(`${audit.id} ${probe ? '(introspection probe, refused)' : audit.name}`, async () => {
        const r = await audit.fn();
        if (probe) expect(r.status).not.toBe('ok');
        else expect(r.status, 'reason' in r ? r.reason : '').toBe('ok');
      });
    }

    it('refuses the probe query itself as introspection, naming the setting', async () => {
      const r = await defaults.graphql(
        'query Type($name: String!) { __type(name: $name) { name } }',
        {
          name: 'sometype',
        },
      );
      expect(r.status).toBe(400);
      expect(r.body.data).toBeUndefined();
      expect(r.body.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      expect(r.body.errors?.[0]?.message).toMatch(/STRATA_INTROSPECTION/);
    });
  });
});
