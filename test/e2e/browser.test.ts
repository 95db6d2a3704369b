import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { startTestApp, TEST_AUTH_SECRET, type TestApp } from '../support/app.js';
import { engine, useTestDatabase } from '../support/db.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';

/**
 * GraphiQL as a newcomer meets it, in headless Chromium: served by the server with its
 * assets, the token already in the Headers tab; a query runs over HTTP and a subscription
 * over WebSocket shows an event the test causes. The screenshot lands in .test-artifacts.
 */

const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = '.test-artifacts/graphiql.png';
/** Upper bound of each wait in the page: GraphiQL is a 9 MB page on a busy CI machine. */
const WAIT_MS = 30_000;

const QUERY_EDITOR = '.graphiql-query-editor .monaco-editor .view-lines';
const RESPONSE = '.graphiql-response';

describe(`GraphiQL in a browser on ${engine}`, () => {
  const t = useTestDatabase();
  let s: TestApp;
  let browser: Browser | undefined;
  let page: Page;
  let seeded: Seeded;
  /** What the page logged as errors: shown when a step fails. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const token = await createTokenService({ secret: TEST_AUTH_SECRET }).mint(
      { userId: 'browser-admin', role: 'admin' },
      3600,
    );
    s = await startTestApp(t, {}, { graphiqlToken: token });
    seeded = await seedOrder(s);
  });

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  /** Starts Chromium; its absence fails the test (in the test, so it is not reported as skipped). */
  async function openBrowser() {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: the GraphiQL browser test needs it. Install it ` +
          "with 'sudo apt-get install -y chromium' (Debian/Ubuntu; .ci/run does this), or point " +
          'STRATA_CHROMIUM at a Chromium or Chrome binary.',
      );
    }
    browser ??= await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: WAIT_MS,
    });
    // A page of its own (a fresh context: an empty cache, no stored tabs).
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    watch(await context.newPage());
  }

  /** Makes `opened` the page the steps act on, its errors recorded. */
  function watch(opened: Page) {
    page = opened;
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }

  /** Replaces the editor's text (as a user would, by keyboard) and waits until GraphiQL parsed it. */
  async function typeOperation(name: string, text: string) {
    await page.click(QUERY_EDITOR);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // insertText types the whole text at once: no bracket auto-closing doubles braces.
    await page.keyboard.insertText(text);
    // The tab takes the operation's name once GraphiQL has parsed the new text; running
    // earlier would run the previous operation.
    await page.locator('.graphiql-tab-active', { hasText: name }).waitFor();
  }

  /** Waits until the result pane contains every string, or fails showing what it held. */
  async function responseShows(...wanted: string[]): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    let text = '';
    while (Date.now() < deadline) {
      // Monaco renders spaces as no-break spaces.
      text = (await page.locator(RESPONSE).innerText()).replaceAll('\u00a0', ' ');
      if (wanted.every((w) => text.includes(w))) return text;
      await page.waitForTimeout(100);
    }
    throw new Error(
      `GraphiQL's result pane did not show ${JSON.stringify(wanted)} within ${WAIT_MS} ms.\n` +
        `It showed:\n${text}\nPage errors:\n${pageErrors.join('\n') || '(none)'}`,
    );
  }

  it('opens with the token, runs a query, and shows a live event from a subscription', async () => {
    await openBrowser();
    await page.goto(`${s.url}/graphql`);
    await page.locator(QUERY_EDITOR).waitFor();
    expect(await page.title()).toBe('Strata GraphiQL');
    // The example operations are there to start from, the README tour's first step on top.
    await page.locator(QUERY_EDITOR, { hasText: 'mutation Register' }).waitFor();

    const order = await s.graphql<any>(
      `query($id: ID!) { order(id: $id) { orderNumber } }`,
      { id: seeded.orderId },
      seeded.admin,
    );
    const orderNumber: string = order.body.data.order.orderNumber;

    // A query over HTTP, with the pre-filled admin token (without one: 401).
    await typeOperation(
      'OneOrder',
      `query OneOrder { order(id: "${seeded.orderId}") { orderNumber status customer { name } } }`,
    );
    await page.keyboard.press('Control+Enter');
    await responseShows(orderNumber, 'PENDING', 'Ann');

    // The README's tour watches in a second window (GraphiQL stops a running operation
    // when its tab changes): it opens a new tab beside the stored one, with the same token.
    watch(await page.context().newPage());
    await page.goto(`${s.url}/graphql`);
    await page.locator('.graphiql-tab').nth(1).waitFor();
    expect(await page.locator('.graphiql-tab').count()).toBe(2);

    // A subscription over WebSocket: the replay shows the order as created …
    await typeOperation(
      'Watch',
      `subscription Watch { orderTimeline(orderId: "${seeded.orderId}") { type status description } }`,
    );
    await page.keyboard.press('Control+Enter');
    await responseShows('"type": "OrderCreated"', '"status": "PENDING"');
    // … and a payment made now, elsewhere, reaches it live (later fulfillment steps may
    // follow at once). The pane lists every result so far, oldest first: the replayed
    // event stays above the new one.
    await payOrder(s, seeded);
    const shown = await responseShows('"type": "OrderCreated"', '"type": "OrderPaid"');
    expect(shown.trimStart()).toMatch(/^\[/);
    expect(shown.indexOf('"type": "OrderCreated"')).toBeLessThan(
      shown.indexOf('"type": "OrderPaid"'),
    );

    await mkdir('.test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors.filter((e) => /websocket|4401|4403/i.test(e))).toEqual([]);
  }, 180_000);

  it('downloads its assets compressed, and a reload takes them from the cache', async () => {
    await openBrowser();
    const assets: { url: string; status: number; encoding?: string; bytes: number }[] = [];
    page.on('response', (r) => {
      if (!new URL(r.url()).pathname.startsWith('/graphiql/')) return;
      assets.push({
        url: r.url(),
        status: r.status(),
        encoding: r.headers()['content-encoding'],
        // Chromium does not tell a worker's script's size; the others' are bytes on the wire.
        bytes: 0,
      });
      void r
        .request()
        .sizes()
        .then((size) => (assets.find((a) => a.url === r.url())!.bytes = size.responseBodySize));
    });
    /** Requests the server answered outside /graphql, /health and /metrics: the assets. */
    const assetRequests = async () =>
      (await s.app.metrics.registry.getSingleMetric('strata_http_requests_total')!.get()).values
        .filter((v) => v.labels.route === 'other')
        .reduce((n, v) => n + v.value, 0);
    const open = async (go: () => Promise<unknown>) => {
      await go();
      // After a reload GraphiQL restores its tab (named after the first operation) beside a
      // new, empty one.
      await page.locator('.graphiql-tab', { hasText: 'Register' }).waitFor();
      await page.locator(QUERY_EDITOR).waitFor();
      // The editor's workers start once it is up.
      await page.waitForTimeout(1_000);
    };

    const before = await assetRequests();
    await open(() => page.goto(`${s.url}/graphql`));
    // Script, styles, icon and the editor's three workers.
    expect(
      new Set(assets.map((a) => new URL(a.url).pathname.replace(/\.\w{16}\./, '.'))).size,
    ).toBe(6);
    for (const a of assets)
      expect(a, a.url).toMatchObject({
        status: 200,
        encoding: expect.stringMatching(/^(br|gzip)$/),
      });
    const script = assets.find((a) => a.url.endsWith('.js') && a.url.includes('/graphiql.'))!;
    // 5.3 MB uncompressed.
    expect(script.bytes).toBeGreaterThan(0);
    expect(script.bytes).toBeLessThan(1_600_000);
    const served = (await assetRequests()) - before;
    expect(served).toBeGreaterThanOrEqual(6);

    // Each asset's URL holds its content's hash, and it is cacheable for a year as immutable:
    // a reload asks the server for the page only.
    await open(() => page.reload());
    expect((await assetRequests()) - before).toBe(served);
  }, 120_000);
});
