import { readFileSync } from 'node:fs';
import { Kind, parse, print, validate, type OperationDefinitionNode } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { EXAMPLE_QUERY } from '../../src/server/graphiql.js';
import { getSchema } from '../../src/server/schema.js';
import { orderStreamId } from '../../src/orders/decider.js';
import { addBusinessDays } from '../../src/orders/delivery.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, wsClient } from '../support/live.js';

/**
 * The README is what a newcomer trusts first: its tour must run, its configuration table
 * must name every variable with its real default, and its commands must exist.
 */

const README = readFileSync('README.md', 'utf8');
const SCRIPTS = Object.keys(
  (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts,
);

/** The README's configuration table: variable → default column. */
function configTable(): Map<string, string> {
  // The section only: later tables (error codes) have upper-case names too.
  const section = README.slice(README.indexOf('## Configuration')).split(/\n## /)[0]!;
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`\s*\| ([^|]*?)\s*\|/gm))
    rows.set(m[1]!, m[2]!);
  return rows;
}

/** The ```graphql blocks of the README, in order. */
const graphqlBlocks = (text: string) =>
  [...text.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
const BLOCKS = graphqlBlocks(README);
/** The guided tour: its section only (other sections show more operations). */
const TOUR = graphqlBlocks(README.split('## A guided tour')[1]!.split(/\n## /)[0]!);

const operations = (source: string) =>
  parse(source).definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );

describe('the README', () => {
  it('lists every configuration variable, and only those', () => {
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(20);
    expect([...configTable().keys()].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('gives each variable its real default', () => {
    const defaults = loadConfig({});
    for (const [name, column] of configTable()) {
      const literal = /^`([^`]+)`$/.exec(column)?.[1];
      if (literal !== undefined) {
        // Setting a variable to its documented default changes nothing.
        expect(loadConfig({ [name]: literal }), name).toEqual(defaults);
      } else if (/off in production/.test(column)) {
        const key = name === 'STRATA_GRAPHIQL' ? 'graphiql' : 'introspection';
        expect(defaults[key], name).toBe(true);
        expect(
          loadConfig({ NODE_ENV: 'production', STRATA_AUTH_SECRET: 'x'.repeat(32) })[key],
        ).toBe(false);
      } else {
        expect(column, `${name} has no default`).toBe('—');
      }
    }
  });

  it('names only npm scripts that exist', () => {
    const named = [...README.matchAll(/npm run(?: -s)? ([a-z][\w:-]*)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(5);
    for (const script of named) expect(SCRIPTS, `npm run ${script}`).toContain(script);
  });

  it('has GraphQL that is valid against the schema', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(6);
    for (const block of [...BLOCKS, EXAMPLE_QUERY])
      expect(validate(getSchema(), parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("has a tour that is GraphiQL's example: the same operations, in the same order", () => {
    expect(TOUR.length).toBeGreaterThanOrEqual(6);
    // print() drops comments and layout: what is compared is each operation's content.
    const tour = TOUR.flatMap((block) => parse(block).definitions).map((d) => print(d));
    const example = parse(EXAMPLE_QUERY).definitions.map((d) => print(d));
    expect(example).toEqual(tour);
  });
});

describe(`the README's tour on ${engine}`, () => {
  const { s } = useTestApp();
  let admin: { authorization: string };

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
  });

  const block = (name: string) => {
    const found = BLOCKS.find((b) => operations(b).some((o) => o.name?.value === name));
    if (!found) throw new Error(`no README block defines ${name}`);
    return found;
  };
  const run = async (name: string) => {
    const r = await s.graphql<any>(block(name), {}, admin);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data;
  };

  it('runs step by step, as written, with the live timeline moving', async () => {
    const registered = await run('Register');
    expect(registered.registerCustomer.__typename).toBe('RegisterCustomerSuccess');
    expect(registered.registerProduct.__typename).toBe('RegisterProductSuccess');
    const created = await run('CreateOrder');
    expect(created.createOrder.order).toMatchObject({
      status: 'PENDING',
      shippingMethod: 'EXPRESS',
      billingAddress: { line1: 'Friedrichstraße 100', line2: 'Accounts payable' },
      items: [
        {
          productName: 'Stoneware mug',
          productImageUrl: 'https://example.org/mug.png',
          quantity: 2,
        },
      ],
      total: { amount: 2500, currency: 'EUR' },
    });

    const ws = wsClient(s.url, admin.authorization);
    try {
      const timeline = collect<any>(ws, block('Watch'), {}, 'orderTimeline');
      expect((await timeline.waitFor(1))[0]).toMatchObject({ type: 'OrderCreated' });
      const paid = await run('Pay');
      expect(paid.payOrder).toMatchObject({
        __typename: 'PayOrderSuccess',
        order: {
          status: 'PAID',
          // EXPRESS: two business days after the payment, today.
          estimatedDelivery: addBusinessDays(new Date().toISOString().slice(0, 10), 2),
          payment: { status: 'PAID', method: 'PAYPAL', transactionId: 'PAYID-4F2A9C1E' },
        },
      });
      expect(Date.parse(paid.payOrder.order.payment.paidAt)).toBeGreaterThan(Date.now() - 60_000);
      const live = await timeline.waitFor(2);
      expect(live[1]).toMatchObject({ type: 'OrderPaid', status: 'PAID' });
      timeline.stop();
    } finally {
      await ws.dispose();
    }

    const history = (await run('History')).orderHistory;
    expect(history.at).toMatchObject({ version: 1, status: 'PENDING' });
    expect(history.statusHistory.map((c: any) => c.status)).toEqual(['PENDING', 'PAID']);
    const orders = (await run('Orders')).orders;
    expect(orders.totalCount).toBe(1);

    // Running a step again writes nothing; it answers with the order as it is now (paid).
    const orderId: string = created.createOrder.order.id;
    const again = (await run('CreateOrder')).createOrder;
    expect(again.order).toMatchObject({ id: orderId, status: 'PAID' });
    const events = await s.app.store.readStream(orderStreamId(orderId));
    expect(events.filter((e) => e.type === 'OrderCreated')).toHaveLength(1);
  });
});
