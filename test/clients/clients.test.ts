import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ApolloClient,
  ApolloLink,
  gql,
  HttpLink,
  InMemoryCache,
  type PossibleTypesMap,
} from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import {
  cacheExchange,
  Client as UrqlClient,
  fetchExchange,
  subscriptionExchange,
} from '@urql/core';
import { buildSchema, getOperationAST, isAbstractType } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { until } from '../support/wait.js';

/*
 * The GraphQL clients people use, each with its defaults, against the server in production
 * mode (CSRF prevention on, introspection and GraphiQL off): a query, a mutation answering a
 * union (success or a typed error) and a live order timeline. The token goes in the
 * `authorization` header over HTTP and in `connectionParams` over graphql-ws.
 */

const ORDER = `query Order($id: ID!) { order(id: $id) { id status total { amount currency } } }`;
const CREATE_ORDER = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) {
    __typename
    ... on CreateOrderSuccess { version order { id status total { amount currency } } }
    ... on Error { code message }
  }
}`;
const TIMELINE = `subscription Timeline($id: ID!) { orderTimeline(orderId: $id) { type version } }`;

/** How long any one answer or live event may take. */
const WAIT_MS = 10_000;

interface TimelineItem {
  type: string;
  version: number;
}

/** What every client is asked to do; each returns the operation's `data` field. */
interface Driver {
  query(id: string): Promise<unknown>;
  createOrder(input: Record<string, unknown>): Promise<any>;
  /** Subscribes to an order's timeline; items arrive in `items` until `stop`. */
  timeline(id: string): { items: TimelineItem[]; errors: unknown[]; stop(): void };
  close(): Promise<void>;
}

/** One HTTP request a client sent, as the server saw its method and headers. */
interface Sent {
  method: string;
  headers: Headers;
}

/** `fetch` bounded in time, noting each request before sending it. */
function boundedFetch(sent: Sent[] = []): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    sent.push({ method: request.method, headers: request.headers });
    return fetch(request, {
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(WAIT_MS)]),
    });
  };
}

function wsClientFor(url: string, authorization: string): WsClient {
  return createWsClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    connectionAckWaitTimeout: WAIT_MS,
    retryAttempts: 0,
  });
}

/**
 * Apollo's cache matches `... on Error` to a `NotFoundError` only when told which types
 * implement `Error`; production has introspection off, so the map comes from the
 * committed `schema.graphql`, as Apollo's documentation suggests (generated at build time).
 */
function possibleTypes(): PossibleTypesMap {
  const schema = buildSchema(
    readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'),
  );
  const map: PossibleTypesMap = {};
  for (const type of Object.values(schema.getTypeMap()))
    if (isAbstractType(type)) map[type.name] = schema.getPossibleTypes(type).map((t) => t.name);
  return map;
}

describe(`GraphQL clients against the server in production mode on ${engine}`, () => {
  const { s } = useTestApp({ env: { NODE_ENV: 'production' } });
  let seeded: Seeded;
  /** The server's address as 127.0.0.1: no name lookup, no IPv6 surprise. */
  let url: string;
  beforeAll(async () => {
    url = s.url.replace('//localhost:', '//127.0.0.1:');
    seeded = await seedOrder(s);
  });

  it('runs in production mode', () => {
    expect(s.app.config).toMatchObject({ production: true, introspection: false, graphiql: false });
  });

  const orderInput = (productId = seeded.productId) => ({
    commandId: randomUUID(),
    customerId: seeded.customerId,
    items: [{ productId, quantity: 1 }],
    shippingAddress: { line1: 'Main 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
  });

  /** The tests every client must pass, with the client `make` sets up (and `close` ends). */
  function behaves(name: string, make: () => Driver) {
    describe(name, () => {
      let client: Driver;
      beforeAll(() => {
        client = make();
      });
      afterAll(() => client?.close());

      it('runs a query', async () => {
        expect(await client.query(seeded.orderId)).toMatchObject({
          id: seeded.orderId,
          status: 'PENDING',
          total: seeded.total,
        });
      });

      it('runs a mutation and reads its union: the success and a typed error', async () => {
        const created = await client.createOrder(orderInput());
        expect(created).toMatchObject({
          __typename: 'CreateOrderSuccess',
          version: 1,
          order: { id: expect.any(String), status: 'PENDING' },
        });
        const refused = await client.createOrder(orderInput(randomUUID()));
        expect(refused).toMatchObject({
          __typename: 'NotFoundError',
          code: 'PRODUCT_NOT_FOUND',
          message: expect.any(String),
        });
      });

      it('follows an order timeline live: its past, then what happens next', async () => {
        const created = await client.createOrder(orderInput());
        expect(created.__typename).toBe('CreateOrderSuccess');
        const orderId = created.order.id as string;
        const feed = client.timeline(orderId);
        try {
          const seen = (type: string) => feed.items.some((i) => i.type === type);
          await until(
            () => seen('OrderCreated') || feed.errors.length > 0,
            'OrderCreated',
            WAIT_MS,
          );
          expect(feed.errors).toEqual([]);
          expect(feed.items[0]).toMatchObject({ type: 'OrderCreated', version: 1 });
          // urql and Apollo add `__typename` to every object: not part of MoneyInput.
          const { amount, currency } = created.order.total as Seeded['total'];
          await payOrder(s, { ...seeded, orderId, total: { amount, currency } });
          await until(() => seen('OrderPaid') || feed.errors.length > 0, 'OrderPaid', WAIT_MS);
          expect(feed.errors).toEqual([]);
          expect(feed.items[1]).toMatchObject({ type: 'OrderPaid', version: 2 });
        } finally {
          feed.stop();
        }
      });
    });
  }

  describe('urql with its defaults (queries as GET, subscriptions over graphql-ws)', () => {
    const sent: Sent[] = [];
    behaves('@urql/core', () => {
      const ws = wsClientFor(url, seeded.customer.authorization);
      const client = new UrqlClient({
        url: `${url}/graphql`,
        fetch: boundedFetch(sent),
        fetchOptions: () => ({ headers: seeded.customer }),
        exchanges: [
          cacheExchange,
          fetchExchange,
          subscriptionExchange({
            forwardSubscription: (request) => ({
              subscribe: (sink) => ({
                unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
              }),
            }),
          }),
        ],
      });
      return {
        async query(id) {
          const r = await client.query(ORDER, { id });
          if (r.error) throw r.error;
          return r.data.order;
        },
        async createOrder(input) {
          const r = await client.mutation(CREATE_ORDER, { input });
          if (r.error) throw r.error;
          return r.data.createOrder;
        },
        timeline(id) {
          const items: TimelineItem[] = [];
          const errors: unknown[] = [];
          const { unsubscribe } = client.subscription(TIMELINE, { id }).subscribe((r) => {
            if (r.error) errors.push(r.error);
            if (r.data) items.push(r.data.orderTimeline);
          });
          return { items, errors, stop: unsubscribe };
        },
        close: () => ws.dispose() as Promise<void>,
      };
    });

    it('sent its query as a GET without the CSRF header, its mutations as JSON POSTs', () => {
      const gets = sent.filter((r) => r.method === 'GET');
      const posts = sent.filter((r) => r.method === 'POST');
      expect(gets.length).toBeGreaterThan(0);
      for (const r of gets) expect(r.headers.has('x-graphql-yoga-csrf')).toBe(false);
      expect(posts.length).toBeGreaterThan(0);
      for (const r of posts) expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      for (const r of sent)
        expect(r.headers.get('authorization')).toBe(seeded.customer.authorization);
    });
  });

  describe('Apollo Client (HttpLink, GraphQLWsLink)', () => {
    const sent: Sent[] = [];
    behaves('@apollo/client', () => {
      const ws = wsClientFor(url, seeded.customer.authorization);
      const http = new HttpLink({
        uri: `${url}/graphql`,
        fetch: boundedFetch(sent),
        headers: seeded.customer,
      });
      const link = ApolloLink.split(
        ({ query }) => getOperationAST(query)?.operation === 'subscription',
        new GraphQLWsLink(ws),
        http,
      );
      const client = new ApolloClient({
        link,
        cache: new InMemoryCache({ possibleTypes: possibleTypes() }),
      });
      return {
        async query(id) {
          const r = await client.query<any>({ query: gql(ORDER), variables: { id } });
          return r.data.order;
        },
        async createOrder(input) {
          const r = await client.mutate<any>({ mutation: gql(CREATE_ORDER), variables: { input } });
          return r.data.createOrder;
        },
        timeline(id) {
          const items: TimelineItem[] = [];
          const errors: unknown[] = [];
          const sub = client.subscribe<any>({ query: gql(TIMELINE), variables: { id } }).subscribe({
            next: (r) => {
              if (r.error) errors.push(r.error);
              if (r.data) items.push(r.data.orderTimeline);
            },
            error: (e) => errors.push(e),
          });
          return { items, errors, stop: () => sub.unsubscribe() };
        },
        async close() {
          client.stop();
          await ws.dispose();
        },
      };
    });

    it('sent JSON POSTs', () => {
      expect(sent.length).toBeGreaterThan(0);
      for (const r of sent) {
        expect(r.method).toBe('POST');
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      }
    });
  });

  describe("graphql-sse's client (distinct connections)", () => {
    behaves('graphql-sse', () => {
      const client = createSseClient({
        url: `${url}/graphql`,
        headers: () => seeded.customer,
        fetchFn: boundedFetch(),
        retryAttempts: 0,
      });
      /** Runs one operation to its single result, as graphql-sse's README shows for queries. */
      const once = async (query: string, variables: Record<string, unknown>) => {
        for await (const r of client.iterate<any>({ query, variables })) {
          if (r.errors) throw new Error(JSON.stringify(r.errors));
          return r.data;
        }
        throw new Error('no result');
      };
      return {
        query: async (id) => (await once(ORDER, { id })).order,
        createOrder: async (input) => (await once(CREATE_ORDER, { input })).createOrder,
        timeline(id) {
          const items: TimelineItem[] = [];
          const errors: unknown[] = [];
          const stop = client.subscribe<any>(
            { query: TIMELINE, variables: { id } },
            {
              next: (r) => {
                if (r.errors) errors.push(...r.errors);
                if (r.data) items.push(r.data.orderTimeline);
              },
              error: (e) => errors.push(e),
              complete: () => undefined,
            },
          );
          return { items, errors, stop };
        },
        close: async () => client.dispose(),
      };
    });
  });

  describe('plain fetch', () => {
    const graphql = async (
      method: 'GET' | 'POST',
      query: string,
      variables: Record<string, unknown>,
    ) => {
      const headers = { accept: 'application/graphql-response+json', ...seeded.customer };
      const res =
        method === 'GET'
          ? await fetch(
              `${url}/graphql?${new URLSearchParams({ query, variables: JSON.stringify(variables) })}`,
              { headers, signal: AbortSignal.timeout(WAIT_MS) },
            )
          : await fetch(`${url}/graphql`, {
              method,
              headers: { ...headers, 'content-type': 'application/json' },
              body: JSON.stringify({ query, variables }),
              signal: AbortSignal.timeout(WAIT_MS),
            });
      return { status: res.status, body: (await res.json()) as any };
    };

    for (const method of ['POST', 'GET'] as const) {
      it(`runs a query (${method})`, async () => {
        const r = await graphql(method, ORDER, { id: seeded.orderId });
        expect(r.status).toBe(200);
        expect(r.body).toEqual({
          data: { order: { id: seeded.orderId, status: 'PENDING', total: seeded.total } },
        });
      });
    }

    it('runs a mutation (POST) and reads its union', async () => {
      const ok = await graphql('POST', CREATE_ORDER, { input: orderInput() });
      expect(ok.status).toBe(200);
      expect(ok.body.data.createOrder).toMatchObject({
        __typename: 'CreateOrderSuccess',
        version: 1,
      });
      const refused = await graphql('POST', CREATE_ORDER, { input: orderInput(randomUUID()) });
      expect(refused.body.data.createOrder).toMatchObject({
        __typename: 'NotFoundError',
        code: 'PRODUCT_NOT_FOUND',
      });
    });

    it('is refused a mutation over GET (405), and nothing is written', async () => {
      const input = orderInput();
      const r = await graphql('GET', CREATE_ORDER, { input });
      expect(r.status).toBe(405);
      expect(r.body.errors[0].message).toMatch(/mutation .* POST/);
      // The table itself: a read of the log sees a commit only once older transactions (a
      // projection batch) have ended, which the count below must not wait for.
      const written = async () =>
        (
          await s.app.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM events WHERE metadata->>'commandId' = $1`,
            [input.commandId],
          )
        ).rows[0]!.n;
      expect(await written()).toBe(0);
      // The same command over POST is written: the count above could have seen it.
      const posted = await graphql('POST', CREATE_ORDER, { input });
      expect(posted.body.data.createOrder.__typename).toBe('CreateOrderSuccess');
      expect(await written()).toBe(1);
    });
  });
});
