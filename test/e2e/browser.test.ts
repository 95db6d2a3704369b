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
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: WAIT_MS,
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
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
    // The example operations are there to start from.
    await page.locator(QUERY_EDITOR, { hasText: 'query Orders' }).waitFor();

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

    // A subscription over WebSocket: the replay shows the order as created …
    await typeOperation(
      'Watch',
      `subscription Watch { orderTimeline(orderId: "${seeded.orderId}") { type status description } }`,
    );
    await page.keyboard.press('Control+Enter');
    await responseShows('"status": "PENDING"');
    // … and a payment made now, elsewhere, reaches it live (later fulfillment steps may
    // follow at once; every one of them has the order PAID).
    await payOrder(s, seeded);
    await responseShows('"status": "PAID"');

    await mkdir('.test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors.filter((e) => /websocket|4401|4403/i.test(e))).toEqual([]);
  }, 180_000);
});
