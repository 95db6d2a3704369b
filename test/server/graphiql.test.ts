import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseEncoding } from '../../src/server/graphiql.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';

/**
 * GraphiQL's page and assets as a browser downloads them: a small page, then each asset from
 * this server, compressed and cached. Requests go through node:http, which (unlike fetch)
 * leaves the body as it came over the wire.
 */

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as sent, still compressed. */
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const html = { accept: 'text/html' };

describe(`GraphiQL's page and assets on ${engine}`, () => {
  const t = useTestDatabase();
  /** Development mode: GraphiQL on. */
  let s: TestApp;
  /** Production mode: GraphiQL off. */
  let prod: TestApp;
  let assets: string[];

  beforeAll(async () => {
    s = await startTestApp(t);
    prod = await startTestApp(t, { NODE_ENV: 'production' });
    const page = await get(`${s.url}/graphql`, html);
    assets = [...page.body.toString().matchAll(/"(\/graphiql\/[^"]+)"/g)].map((m) => m[1]!);
  });
  afterAll(async () => {
    for (const app of [s, prod]) await app?.stop();
  });

  it('is a small page that names its assets by their content hash', async () => {
    const page = await get(`${s.url}/graphql`, html);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    // It was 9 MB with everything inlined.
    expect(page.body.length).toBeLessThan(30_000);
    expect(page.body.toString()).toContain('Strata GraphiQL');
    // Script, styles, icon and the editor's three workers.
    expect(assets.map((a) => a.replace(/\.[0-9a-f]{16}\./, '.')).sort()).toEqual([
      '/graphiql/editor.worker.js',
      '/graphiql/favicon.ico',
      '/graphiql/graphiql.css',
      '/graphiql/graphiql.js',
      '/graphiql/graphql.worker.js',
      '/graphiql/json.worker.js',
    ]);
  });

  it('sends each asset compressed as the browser accepts: brotli, else gzip, else as is', async () => {
    const wire = { br: 0, gzip: 0, none: 0 };
    for (const asset of assets) {
      const plain = await get(`${s.url}${asset}`);
      expect(plain.status, asset).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
      wire.none += plain.body.length;

      const br = await get(`${s.url}${asset}`, { 'accept-encoding': 'gzip, deflate, br, zstd' });
      expect(br.headers['content-encoding'], asset).toBe('br');
      expect(Number(br.headers['content-length'])).toBe(br.body.length);
      expect(brotliDecompressSync(br.body).equals(plain.body), asset).toBe(true);
      wire.br += br.body.length;

      const gzip = await get(`${s.url}${asset}`, { 'accept-encoding': 'gzip, deflate' });
      expect(gzip.headers['content-encoding'], asset).toBe('gzip');
      expect(gunzipSync(gzip.body).equals(plain.body), asset).toBe(true);
      wire.gzip += gzip.body.length;

      expect(br.headers['content-type']).toBe(plain.headers['content-type']);
      expect(br.body.length).toBeLessThan(plain.body.length);
      expect(gzip.body.length).toBeLessThan(plain.body.length);
    }
    // About 9 MB as is; about 2.5 MB gzipped, 2.2 MB with brotli.
    expect(wire.none).toBeGreaterThan(8_500_000);
    expect(wire.gzip).toBeLessThan(2_700_000);
    expect(wire.br).toBeLessThan(2_300_000);
  });

  it('lets browsers cache each asset for a year, and answers a revalidation with 304', async () => {
    const script = assets.find((a) => a.endsWith('.js') && a.includes('/graphiql.'))!;
    const first = await get(`${s.url}${script}`, { 'accept-encoding': 'br' });
    expect(first.headers).toMatchObject({
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'Accept-Encoding',
      'content-type': 'text/javascript; charset=utf-8',
      etag: expect.stringMatching(/^"[0-9a-f]{16}-br"$/),
    });
    const etag = first.headers.etag as string;

    const again = await get(`${s.url}${script}`, {
      'accept-encoding': 'br',
      'if-none-match': etag,
    });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers).toMatchObject({ etag, 'cache-control': first.headers['cache-control'] });
    // The same content in another encoding is still the same content.
    expect(
      (await get(`${s.url}${script}`, { 'accept-encoding': 'gzip', 'if-none-match': etag })).status,
    ).toBe(304);
    expect((await get(`${s.url}${script}`, { 'if-none-match': '"0000000000000000"' })).status).toBe(
      200,
    );

    const head = await get(`${s.url}${script}`, { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(first.headers['content-length']);
    expect(head.body.length).toBe(0);
  });

  it('serves nothing else under its path', async () => {
    const script = assets.find((a) => a.endsWith('.js'))!;
    expect((await get(`${s.url}${script.replace(/[0-9a-f]{16}/, '0'.repeat(16))}`)).status).toBe(
      404,
    );
    expect((await get(`${s.url}/graphiql/`)).status).toBe(404);
  });

  it('when off, serves no asset, and tells a browser opening /graphql what turns it on', async () => {
    expect((await get(`${prod.url}${assets[0]}`)).status).toBe(404);
    const page = await get(`${prod.url}/graphql`, {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
    });
    expect(page.status).toBe(404);
    expect(page.body.toString()).toMatch(
      /GraphiQL is off in production mode; STRATA_GRAPHIQL=true/,
    );
    expect(page.body.toString()).toMatch(/STRATA_INTROSPECTION=true/);
    expect(page.body.toString()).not.toMatch(/renderYogaGraphiQL/);
    // A query in the URL runs, as any GET query does.
    const query = await get(`${prod.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      accept: 'text/html,application/json;q=0.9',
    });
    expect(query.status).toBe(200);
    expect(JSON.parse(query.body.toString())).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('the encoding chosen from Accept-Encoding', () => {
  it('is brotli, else gzip, else none, by what is accepted and not refused', () => {
    expect(chooseEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(chooseEncoding('gzip, deflate')).toBe('gzip');
    expect(chooseEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(chooseEncoding('*')).toBe('br');
    expect(chooseEncoding('*, br;q=0')).toBe('gzip');
    expect(chooseEncoding('identity')).toBeUndefined();
    expect(chooseEncoding('gzip;q=0, br;q=0')).toBeUndefined();
    expect(chooseEncoding(undefined)).toBeUndefined();
    expect(chooseEncoding('')).toBeUndefined();
  });
});
