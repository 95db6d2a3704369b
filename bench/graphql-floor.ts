import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import type pg from 'pg';

/**
 * Baseline B of bench/commands.ts: the floor of any GraphQL command API in this stack. A
 * bare graphql-yoga server (SDL schema, no auth, no Pothos, no event store) whose one
 * mutation `createOrder(customerId, items)` reads the products' prices in one batched
 * `SELECT … WHERE id = ANY($1)` and stores the order in one autocommit `INSERT`, answering
 * `{ id total }`. Its tables live in the scratch database the bench gives it.
 */
export const FLOOR_CREATE_ORDER = `mutation($c: ID!, $items: [FloorItem!]!) {
  createOrder(customerId: $c, items: $items) { id total } }`;

const typeDefs = /* GraphQL */ `
  input FloorItem {
    productId: ID!
    quantity: Int!
  }
  type FloorOrder {
    id: ID!
    total: Int!
  }
  type Query {
    ok: Boolean!
  }
  type Mutation {
    createOrder(customerId: ID!, items: [FloorItem!]!): FloorOrder!
  }
`;

/** Creates the floor's tables with `products` (id → price in cents). */
export async function setUpFloor(pool: pg.Pool, products: Record<string, number>): Promise<void> {
  await pool.query(`CREATE TABLE bench_floor_products (id uuid PRIMARY KEY, price int NOT NULL)`);
  await pool.query(
    `CREATE TABLE bench_floor_orders (id uuid PRIMARY KEY, customer_id uuid NOT NULL,
       items jsonb NOT NULL, total int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
  );
  await pool.query(
    `INSERT INTO bench_floor_products (id, price) SELECT * FROM unnest($1::uuid[], $2::int[])`,
    [Object.keys(products), Object.values(products)],
  );
}

/** Starts the floor server on a free port of 127.0.0.1; resolves with its URL and a stop. */
export async function startFloor(pool: pg.Pool): Promise<{ url: string; stop(): Promise<void> }> {
  const schema = createSchema({
    typeDefs,
    resolvers: {
      Query: { ok: () => true },
      Mutation: {
        async createOrder(
          _: unknown,
          args: { customerId: string; items: { productId: string; quantity: number }[] },
        ) {
          const ids = [...new Set(args.items.map((i) => i.productId))];
          const prices = new Map(
            (
              await pool.query<{ id: string; price: number }>(
                'SELECT id, price FROM bench_floor_products WHERE id = ANY($1::uuid[])',
                [ids],
              )
            ).rows.map((r) => [r.id, r.price]),
          );
          let total = 0;
          for (const i of args.items) {
            const price = prices.get(i.productId);
            if (price === undefined) throw new Error(`unknown product ${i.productId}`);
            total += price * i.quantity;
          }
          const id = randomUUID();
          await pool.query(
            'INSERT INTO bench_floor_orders (id, customer_id, items, total) VALUES ($1, $2, $3, $4)',
            [id, args.customerId, JSON.stringify(args.items), total],
          );
          return { id, total };
        },
      },
    },
  });
  const yoga = createYoga({ schema, logging: false, graphiql: false });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
