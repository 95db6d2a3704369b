import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  getIntrospectionQuery,
  getNamedType,
  isObjectType,
  Kind,
  parse,
  print,
  type OperationDefinitionNode,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../src/server/graphiql.js';
import { getSchema } from '../../src/server/schema.js';
import { startTestApp, type TestApp, useTestApp } from '../support/app.js';
import { createTestDatabase, engine } from '../support/db.js';
import { collect, wsClient, type Collected, type WsSession } from '../support/live.js';
import { cancelOrder, payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { until } from '../support/wait.js';

type Result = { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] };

/** One operation over graphql-ws: its first result, or the errors it was refused with. */
function overWs(ws: WsSession, query: string, variables: Record<string, unknown> = {}) {
  return new Promise<Result>((resolve) => {
    ws.client.subscribe(
      { query, variables },
      {
        next: (r) => resolve(r as Result),
        error: (e) => resolve({ errors: Array.isArray(e) ? e : [{ message: String(e) }] }),
        complete: () => undefined,
      },
    );
  });
}

/**
 * Runs every operation of `source` as a user of the tour would: subscriptions first (so
 * live-only feeds see what follows), then queries and mutations in document order, each
 * variable from its default, else from ids earlier answers returned. Fails on any error.
 */
async function runTour(s: TestApp, source: string, headers: { authorization: string }) {
  const document = parse(source);
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  expect(operations.length).toBeGreaterThan(0);
  const known: Record<string, unknown> = {};
  const harvest = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (['customer', 'product', 'order'].includes(k) && typeof (v as any)?.id === 'string')
        known[`${k}Id`] = (v as any).id;
      harvest(v);
    }
  };
  const variablesOf = (op: OperationDefinitionNode) =>
    Object.fromEntries(
      (op.variableDefinitions ?? []).flatMap((v) => {
        const name = v.variable.name.value;
        if (v.defaultValue) return [];
        if (name === 'commandId') return [[name, randomUUID()]];
        return name in known ? [[name, known[name]]] : [];
      }),
    );
  const ws = wsClient(s.url, headers.authorization);
  const feeds: { name: string; feed: Collected<unknown> }[] = [];
  try {
    const live = s.app.services.live.subscriptionCount;
    for (const op of operations.filter((o) => o.operation === 'subscription')) {
      const single = { kind: Kind.DOCUMENT, definitions: [op] } as const;
      const field = (op.selectionSet.selections[0] as { name: { value: string } }).name.value;
      feeds.push({
        name: op.name?.value ?? field,
        feed: collect(ws, print(single), variablesOf(op), field),
      });
    }
    await until(
      () => s.app.services.live.subscriptionCount === live + feeds.length,
      'the tour subscriptions to start',
    );
    for (const op of operations.filter((o) => o.operation !== 'subscription')) {
      const single = print({ kind: Kind.DOCUMENT, definitions: [op] });
      const r = await s.graphql<any>(single, variablesOf(op), headers);
      expect(r.body.errors, `${op.name?.value}: ${JSON.stringify(r.body.errors)}`).toBeUndefined();
      expect(r.status).toBe(200);
      for (const [field, value] of Object.entries(r.body.data ?? {}))
        if (op.operation === 'mutation')
          expect((value as any).__typename, `${op.name?.value}.${field}`).toMatch(/Success$/);
      harvest(r.body.data);
    }
    for (const { name, feed } of feeds) {
      await feed.waitFor(1);
      expect(feed.errors, name).toEqual([]);
      feed.stop();
    }
  } finally {
    await ws.dispose();
  }
  return operations.length;
}

/** The `…Connection` fields of the schema, as "Type.field". */
function connectionFields(): string[] {
  const out: string[] = [];
  for (const type of Object.values(getSchema().getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields()))
      if (getNamedType(field.type).name.endsWith('Connection'))
        out.push(`${type.name}.${field.name}`);
  }
  return out.sort();
}

const nest = (levels: number) =>
  `{ order(id: "${randomUUID()}") ${'{ customer { orders { edges { node '.repeat(levels)}{ id }${' } } } }'.repeat(levels)} }`;

describe(`abuse limits on ${engine}`, () => {
  const { s } = useTestApp();
  let seeded: Seeded;
  beforeAll(async () => {
    seeded = await seedOrder(s);
    await payOrder(s, seeded);
  });

  it('are the documented defaults', () => {
    expect(s.app.config.limits).toEqual({
      maxDepth: 10,
      maxAliases: 20,
      maxTokens: 2000,
      maxCost: 5000,
      maxDirectives: 20,
      maxDocumentBytes: 16 * 1024,
      maxBodyBytes: 1024 * 1024,
    });
  });

  describe('let normal traffic through', () => {
    it("README's guided tour, every operation, on its own database", async () => {
      const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
      const tour = /^## [^\n]*tour[^\n]*\n([\s\S]*?)(?=^## )/im.exec(readme)?.[1] ?? '';
      const blocks = [...tour.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
      expect(blocks.length).toBeGreaterThanOrEqual(4);
      const t2 = await createTestDatabase();
      const s2 = await startTestApp(t2);
      try {
        const n = await runTour(s2, blocks.join('\n'), await s2.auth({ role: 'admin' }));
        expect(n).toBeGreaterThanOrEqual(4);
      } finally {
        await s2.stop();
        await t2.dispose();
      }
    });

    it("GraphiQL's example operations, every one, on its own database", async () => {
      const t3 = await createTestDatabase();
      const s3 = await startTestApp(t3);
      try {
        await runTour(s3, EXAMPLE_QUERY, await s3.auth({ role: 'admin' }));
      } finally {
        await s3.stop();
        await t3.dispose();
      }
    });

    it('the operations of the test helpers (seed, pay, cancel)', async () => {
      const again = await seedOrder(s);
      await cancelOrder(s, again);
    });

    it('the deepest and widest queries of the schema, and GraphiQL’s introspection', async () => {
      const money = '{ amount currency }';
      const order = `id orderNumber status itemCount createdAt updatedAt version total ${money}
        shippingAddress { line1 line2 city postalCode country }
        payment { paymentId status amount ${money} } shipment { carrier trackingNumber status }
        items { productId productName quantity unitPrice ${money} totalPrice ${money}
                product { id name imageUrl availableStock price ${money} } }
        timeline { type at description version }`;
      const queries: [string, Record<string, unknown>][] = [
        // order → customer → orders → edges → node → items → product → price → amount: 9 levels.
        [
          `query($id: ID!) { order(id: $id) { id customer { id name statistics { orderCount byStatus { status count } totalSpent ${money} }
             orders { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${order} } } } } } }`,
          { id: seeded.orderId },
        ],
        // A full page of the biggest list, every field of every order.
        [
          `{ orders(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${order} customer { id name email phone } } } } }`,
          {},
        ],
        [
          `query($n: Int) { products(first: $n) { totalCount edges { node { id name price ${money} } } } }`,
          { n: 100 },
        ],
        [
          `{ events { pageInfo { hasNextPage endCursor } edges { cursor node { eventId streamId streamType type schemaVersion version globalPosition cursor recordedAt data metadata correlationId causationId } } } }`,
          {},
        ],
        [
          `query($id: ID!) { orderHistory(id: $id) { orderId at(version: 1) { version status asOf total ${money} items { productName quantity product { name } } }
             statusHistory { status at version } events(first: 1000) { edges { node { type version data metadata } } } } }`,
          { id: seeded.orderId },
        ],
        [
          getIntrospectionQuery({
            descriptions: true,
            specifiedByUrl: true,
            inputValueDeprecation: true,
          }),
          {},
        ],
      ];
      for (const [query, variables] of queries) {
        const r = await s.graphql(query, variables, seeded.admin);
        expect(r.body.errors, query.slice(0, 80)).toBeUndefined();
      }
    });

    it('right up to each limit', async () => {
      const ok = async (query: string) => {
        const r = await s.graphql(query, {}, seeded.admin);
        expect(r.body.errors, query.slice(0, 80)).toBeUndefined();
      };
      await ok(
        `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: serverInfo { engine }`).join(' ')} }`,
      );
      await ok(`{ serverInfo { ${'engine @include(if: true) '.repeat(20)} } }`);
      // 2 levels per repetition, plus order and id: 10.
      await ok(
        `{ order(id: "${randomUUID()}") { customer { orders { edges { node { customer { orders { edges { node { id } } } } } } } } } }`,
      );
    });
  });

  describe('refuse what goes over, naming the limit and its setting, running nothing', () => {
    const refused = (r: Result, code: string, setting: string, max: number) => {
      expect(r.data ?? null).toBeNull();
      expect(r.errors).toHaveLength(1);
      expect(r.errors![0]).toMatchObject({
        message: expect.stringContaining(setting),
        extensions: { code, limit: setting, max },
      });
    };

    it('a document over STRATA_MAX_DOCUMENT_BYTES, before parsing it', async () => {
      // Not a valid document either: the size is checked first.
      const r = await s.graphql(`{ __typename ${'x'.repeat(17 * 1024)} !!!`, {}, seeded.admin);
      expect(r.status).toBe(400);
      refused(r.body, 'DOCUMENT_TOO_LARGE', 'STRATA_MAX_DOCUMENT_BYTES', 16 * 1024);
      expect(r.body.errors![0]!.extensions!.found).toBeGreaterThan(17 * 1024);
    });

    it('a document over STRATA_MAX_TOKENS', async () => {
      const r = await s.graphql(`{ ${'a '.repeat(2001)}}`, {}, seeded.admin);
      expect(r.status).toBe(400);
      refused(r.body, 'TOO_MANY_TOKENS', 'STRATA_MAX_TOKENS', 2000);
    });

    it('a query over STRATA_MAX_DEPTH', async () => {
      const r = await s.graphql(nest(3), {}, seeded.admin);
      expect(r.status).toBe(400);
      refused(r.body, 'QUERY_TOO_DEEP', 'STRATA_MAX_DEPTH', 10);
      expect(r.body.errors![0]!.extensions!.found).toBe(14);
    });

    it('a mutation with more than STRATA_MAX_ALIASES aliases: no customer is registered', async () => {
      const emails = Array.from({ length: 21 }, () => `alias-${randomUUID()}@example.org`);
      const mutation = `mutation { ${emails
        .map(
          (email, i) =>
            `c${i}: registerCustomer(input: { commandId: "${randomUUID()}", name: "A", email: "${email}", phone: "+1 555 0100" }) { __typename }`,
        )
        .join(' ')} }`;
      const r = await s.graphql(mutation, {}, seeded.admin);
      expect(r.status).toBe(400);
      refused(r.body, 'TOO_MANY_ALIASES', 'STRATA_MAX_ALIASES', 20);
      expect(r.body.errors![0]!.extensions!.found).toBe(21);
      const registered = await s.app.store.readAll({ eventTypes: ['CustomerRegistered'] });
      expect(registered.filter((e) => emails.includes((e.data as any).email))).toEqual([]);
    });

    it('a query with more than STRATA_MAX_DIRECTIVES directives', async () => {
      const r = await s.graphql(
        `{ serverInfo { ${'engine @include(if: true) '.repeat(21)} } }`,
        {},
        seeded.admin,
      );
      expect(r.status).toBe(400);
      refused(r.body, 'TOO_MANY_DIRECTIVES', 'STRATA_MAX_DIRECTIVES', 20);
    });

    it('pages nested in pages over STRATA_MAX_COST, also when the page size is a variable', async () => {
      const nested = `query($n: Int) { orders(first: $n) { edges { node { customer { orders(first: $n) { edges { node { id } } } } } } } }`;
      for (const variables of [{ n: 100 }, {}]) {
        const r = await s.graphql(
          variables.n ? nested : nested.replace('query($n: Int) ', '').replaceAll('$n', '100'),
          variables,
          seeded.admin,
        );
        expect(r.status).toBe(400);
        refused(r.body, 'QUERY_TOO_COMPLEX', 'STRATA_MAX_COST', 5000);
        expect(r.body.errors![0]!.extensions!.found).toBeGreaterThan(20_000);
      }
      // The same shape with small pages is an ordinary query.
      const small = await s.graphql(nested, { n: 5 }, seeded.admin);
      expect(small.body.errors).toBeUndefined();
    });

    it('a mutation whose answer would cost too much is not run at all', async () => {
      const email = `costly-${randomUUID()}@example.org`;
      const r = await s.graphql(
        `mutation { registerCustomer(input: { commandId: "${randomUUID()}", name: "C", email: "${email}", phone: "+1 555 0100" }) {
           ... on RegisterCustomerSuccess { customer { orders(first: 100) { edges { node { customer { orders(first: 100) { edges { node { id } } } } } } } } } } }`,
        {},
        seeded.admin,
      );
      refused(r.body, 'QUERY_TOO_COMPLEX', 'STRATA_MAX_COST', 5000);
      const registered = await s.app.store.readAll({ eventTypes: ['CustomerRegistered'] });
      expect(registered.filter((e) => (e.data as any).email === email)).toEqual([]);
    });

    it('the same over graphql-ws, where the socket stays open for the next operation', async () => {
      const ws = wsClient(s.url, seeded.admin.authorization);
      try {
        const cases: [string, string, string][] = [
          [
            `{ __typename ${'x'.repeat(17 * 1024)} }`,
            'DOCUMENT_TOO_LARGE',
            'STRATA_MAX_DOCUMENT_BYTES',
          ],
          [`{ ${'a '.repeat(2001)}}`, 'TOO_MANY_TOKENS', 'STRATA_MAX_TOKENS'],
          [nest(3), 'QUERY_TOO_DEEP', 'STRATA_MAX_DEPTH'],
          [
            `{ ${Array.from({ length: 21 }, (_, i) => `a${i}: serverInfo { engine }`).join(' ')} }`,
            'TOO_MANY_ALIASES',
            'STRATA_MAX_ALIASES',
          ],
          [
            `{ serverInfo { ${'engine @include(if: true) '.repeat(21)} } }`,
            'TOO_MANY_DIRECTIVES',
            'STRATA_MAX_DIRECTIVES',
          ],
          [
            `{ orders(first: 100) { edges { node { customer { orders(first: 100) { edges { node { id } } } } } } } }`,
            'QUERY_TOO_COMPLEX',
            'STRATA_MAX_COST',
          ],
          [
            `subscription { events { ${Array.from({ length: 21 }, (_, i) => `d${i}: data`).join(' ')} } }`,
            'TOO_MANY_ALIASES',
            'STRATA_MAX_ALIASES',
          ],
        ];
        for (const [query, code, setting] of cases) {
          const r = await overWs(ws, query);
          expect(r.errors?.[0]?.extensions, code).toMatchObject({ code, limit: setting });
        }
        expect(await overWs(ws, '{ serverInfo { engine } }')).toEqual({
          data: { serverInfo: { engine } },
        });
      } finally {
        await ws.dispose();
      }
    });
  });

  describe('bound `first` on every connection', () => {
    const CONNECTIONS = [
      'Customer.orders',
      'OrderHistory.events',
      'Query.events',
      'Query.orders',
      'Query.products',
    ];

    it('knows every connection of the schema (a new one needs a case below)', () => {
      expect(connectionFields()).toEqual(CONNECTIONS);
    });

    it('refuses first: 100000 on each with a typed error, even where the cost limit would let it through', async () => {
      // The cost limit alone already refuses such pages; raised to its maximum, each
      // connection's own bound is what answers.
      const t4 = await createTestDatabase();
      const s4 = await startTestApp(t4, { STRATA_MAX_COST: '1000000' });
      try {
        const x = await seedOrder(s4);
        const cases: Record<string, [string, number]> = {
          'Customer.orders': [
            `{ customer(id: "${x.customerId}") { orders(first: 100000) { totalCount } } }`,
            100,
          ],
          'OrderHistory.events': [
            `{ orderHistory(id: "${x.orderId}") { events(first: 100000) { pageInfo { hasNextPage } } } }`,
            1000,
          ],
          'Query.events': ['{ events(first: 100000) { pageInfo { hasNextPage } } }', 1000],
          'Query.orders': ['{ orders(first: 100000) { totalCount } }', 100],
          'Query.products': ['{ products(first: 100000) { totalCount } }', 100],
        };
        expect(Object.keys(cases).sort()).toEqual(CONNECTIONS);
        for (const [name, [query, max]] of Object.entries(cases)) {
          const r = await s4.graphql(query, {}, x.admin);
          expect(r.body.errors?.[0], name).toMatchObject({
            message: expect.stringContaining(`between 0 and ${max}`),
            extensions: { code: 'BAD_USER_INPUT', argument: 'first', max },
          });
          const atMax = await s4.graphql(query.replace('100000', String(max)), {}, x.admin);
          expect(atMax.body.errors, name).toBeUndefined();
        }
      } finally {
        await s4.stop();
        await t4.dispose();
      }
    });

    it('and with the default cost limit such a page is refused before it is read', async () => {
      const r = await s.graphql(
        '{ products(first: 100000) { edges { node { id } } } }',
        {},
        seeded.admin,
      );
      expect(r.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    });
  });
});
