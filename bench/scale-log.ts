/**
 * The synthetic log of bench:scale, written straight into the store's tables with COPY, in
 * exactly the rows an append writes: `events` (the store's columns, payloads built by the
 * features' typed event builders, metadata as the command handler sets it, correlation and
 * causation columns copied out of it), `streams` (one row per stream at its current
 * version), `processed_commands` (one row per command: its fingerprint and the result
 * strata_append_stream records) and `snapshots` (product streams every 50 versions, the
 * state the product decider folds, as the command handler saves it).
 *
 * The shop: products and customers registered as it goes, orders that live their lives in
 * cohorts of 150 (each order's commands interleaved with the other orders' as in
 * production): created with 1–3 lines, lines added and removed, address changes, paid,
 * made ready to ship (with a stock reservation on each product), shipped, or cancelled
 * with and without a refund. Each command is one append, with its own command id.
 *
 * Each COPY batch (CHUNK events) is one transaction, so its events share one transaction
 * id (pg_current_xact_id(), the column's default, as for an append): the log is read back
 * in commit order by (transaction id, global position) exactly as appended logs are, with
 * fewer, larger transactions. Global positions come from the identity column in COPY
 * order; the processed_commands results name them, predicted from the sequence (one
 * writer, no gaps).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { seededRandom } from '../test/support/random.js';
import { PRODUCT_STREAM_TYPE, productDecider, productStreamId } from '../src/catalog/decider.js';
import { ProductEvents } from '../src/catalog/events.js';
import { CUSTOMER_STREAM_TYPE, customerStreamId } from '../src/customers/decider.js';
import { CustomerEvents } from '../src/customers/events.js';
import { ORDER_STREAM_TYPE, orderStreamId } from '../src/orders/decider.js';
import { estimateDelivery } from '../src/orders/delivery.js';
import { OrderEvents, type Address, type OrderLine } from '../src/orders/events.js';
import { eventUpcasters } from '../src/server/upcasters.js';
import type { DomainEvent } from '../src/shared/decider.js';
import { fingerprint } from '../src/shared/hash.js';
import { CARRIERS, CITIES, FIRST, LAST, NOUNS } from './read-log.js';

const INITIAL_CUSTOMERS = 2_000;
const PRODUCTS = 300;
const COHORT = 150;
/** New customers registered with each cohort of orders. */
const NEW_CUSTOMERS_PER_COHORT = 15;
/** As the server's default STRATA_SNAPSHOT_EVERY. */
const SNAPSHOT_EVERY = 50;

/** One command: its events per stream, and who sent it. */
interface Command {
  mutation: string;
  userId: string;
  role: string;
  streams: { streamId: string; streamType: string; events: DomainEvent[] }[];
}

interface Customer {
  id: string;
  name: string;
  email: string;
  version: number;
}

interface Product {
  id: string;
  name: string;
  imageUrl: string;
  price: number;
  version: number;
  /** The product decider's state (kept mutably here; it is what a snapshot stores). */
  available: number;
  reservations: Record<string, number>;
  registeredAt: string;
  updatedAt: string;
}

/** COPY text: JSON only needs its backslashes doubled (it has no raw tabs or newlines). */
const esc = (s: string) => (s.includes('\\') ? s.replace(/\\/g, '\\\\') : s);

export const EVENT_COPY = `COPY events (event_id, stream_id, stream_type, event_type, schema_version,
  stream_version, data, metadata, correlation_id, causation_id, recorded_at) FROM STDIN`;

export interface FillResult {
  events: number;
  commands: number;
  transactions: number;
  seconds: number;
}

/**
 * An endless shop whose commands are written `chunk` events per transaction. Deterministic
 * shape (seeded); ids are random.
 */
export class ScaleLog {
  private readonly rng = seededRandom(17);
  private readonly upcasters = eventUpcasters();
  private readonly customers: Customer[] = [];
  private readonly products: Product[] = [];
  private readonly commands: Generator<Command>;
  /** Event time: advances per command, so recorded_at rises with the position. */
  private clock: number;
  private readonly stepMs: number;
  events = 0;
  commandCount = 0;
  /** Seconds spent building rows here, and in the COPY and streams statements. */
  generateSeconds = 0;
  writeSeconds = 0;
  orders = 0;
  readonly byType = new Map<string, number>();

  /** `horizonEvents`: about how many events will be written in all (spreads them over 400 days). */
  constructor(horizonEvents: number) {
    const span = 400 * 86_400_000;
    this.clock = Date.now() - span;
    this.stepMs = Math.max(1, Math.floor(span / Math.max(1, horizonEvents / 3)));
    this.commands = this.generate();
  }

  private int(n: number) {
    return Math.floor(this.rng() * n);
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  private now() {
    return new Date(this.clock).toISOString();
  }
  private address(): Address {
    const [city, postalCode] = this.pick(CITIES);
    return {
      line1: `${this.pick(LAST)}straße ${1 + this.int(120)}`,
      city,
      postalCode,
      country: 'DE',
    };
  }

  private registerCustomer(): Command {
    const i = this.customers.length;
    const c: Customer = {
      id: randomUUID(),
      name: `${this.pick(FIRST)} ${this.pick(LAST)}`,
      email: `customer${i}@example.org`,
      version: 0,
    };
    this.customers.push(c);
    this.customerById.set(customerStreamId(c.id), c);
    return {
      mutation: 'registerCustomer',
      userId: `usr-${c.id.slice(0, 8)}`,
      role: 'customer',
      streams: [
        {
          streamId: customerStreamId(c.id),
          streamType: CUSTOMER_STREAM_TYPE,
          events: [
            CustomerEvents.CustomerRegistered({
              customerId: c.id,
              name: c.name,
              email: c.email,
              phone: `+49 30 ${100000 + i}`,
              registeredAt: this.now(),
            }),
          ],
        },
      ],
    };
  }

  private *generate(): Generator<Command> {
    for (let i = 0; i < PRODUCTS; i++) {
      const id = randomUUID();
      const p: Product = {
        id,
        name: `${this.pick(NOUNS)} ${i}`,
        imageUrl: `https://img.example.org/products/${id}.png`,
        price: 500 + this.int(20_000),
        version: 0,
        available: 100_000_000,
        reservations: {},
        registeredAt: this.now(),
        updatedAt: this.now(),
      };
      this.products.push(p);
      this.productById.set(productStreamId(id), p);
      yield {
        mutation: 'registerProduct',
        userId: 'usr-admin',
        role: 'admin',
        streams: [
          {
            streamId: productStreamId(id),
            streamType: PRODUCT_STREAM_TYPE,
            events: [
              ProductEvents.ProductRegistered({
                productId: id,
                name: p.name,
                imageUrl: p.imageUrl,
                price: { amount: p.price, currency: 'EUR' },
                initialStock: p.available,
                registeredAt: this.now(),
              }),
            ],
          },
        ],
      };
    }
    for (let i = 0; i < INITIAL_CUSTOMERS; i++) yield this.registerCustomer();
    for (;;) yield* this.cohort();
  }

  private *cohort(): Generator<Command> {
    for (let i = 0; i < NEW_CUSTOMERS_PER_COHORT; i++) yield this.registerCustomer();
    for (let k = 0; k < 2; k++) {
      const c = this.pick(this.customers);
      const email = `customer-${randomUUID().slice(0, 8)}@example.net`;
      yield {
        mutation: 'changeCustomerEmail',
        userId: `usr-${c.id.slice(0, 8)}`,
        role: 'customer',
        streams: [
          {
            streamId: customerStreamId(c.id),
            streamType: CUSTOMER_STREAM_TYPE,
            events: [
              CustomerEvents.CustomerEmailChanged({
                customerId: c.id,
                previousEmail: c.email,
                email,
                changedAt: this.now(),
              }),
            ],
          },
        ],
      };
      c.email = email;
    }
    {
      const p = this.pick(this.products);
      const previous = p.price;
      p.price = Math.max(100, Math.round(p.price * (0.9 + this.rng() * 0.2)));
      yield {
        mutation: 'changeProductPrice',
        userId: 'usr-admin',
        role: 'admin',
        streams: [
          {
            streamId: productStreamId(p.id),
            streamType: PRODUCT_STREAM_TYPE,
            events: [
              ProductEvents.ProductPriceChanged({
                productId: p.id,
                previousPrice: { amount: previous, currency: 'EUR' },
                price: { amount: p.price, currency: 'EUR' },
                changedAt: this.now(),
              }),
            ],
          },
        ],
      };
    }
    // Each order's life as a list of steps (a step builds its command when it is its turn,
    // so times come from the clock); step s of every order, then step s + 1, …
    const lives = Array.from({ length: COHORT }, () => this.orderLife());
    for (let s = 0; lives.some((l) => s < l.length); s++) {
      for (const life of lives) {
        const step = life[s];
        if (step) yield step();
      }
    }
  }

  /** The steps of one order, each making its command when called. */
  private orderLife(): (() => Command)[] {
    const orderId = randomUUID();
    this.orders++;
    const streamId = orderStreamId(orderId);
    const customer = this.pick(this.customers);
    const userId = `usr-${customer.id.slice(0, 8)}`;
    const lineOf = (p: Product, quantity: number): OrderLine => ({
      productId: p.id,
      productName: p.name,
      imageUrl: p.imageUrl,
      quantity,
      unitPrice: { amount: p.price, currency: 'EUR' },
    });
    const totalOf = (items: OrderLine[]) => ({
      amount: items.reduce((n, l) => n + l.unitPrice.amount * l.quantity, 0),
      currency: 'EUR',
    });
    const order = (mutation: string, role: string, ...events: DomainEvent[]): Command => ({
      mutation,
      userId: role === 'customer' ? userId : 'svc-fulfillment',
      role,
      streams: [{ streamId, streamType: ORDER_STREAM_TYPE, events }],
    });
    const stock = (type: 'StockReserved' | 'StockReleased', items: OrderLine[]) =>
      items.map((l) => {
        const p = this.productById.get(productStreamId(l.productId))!;
        const when = this.now();
        let event: DomainEvent;
        if (type === 'StockReserved') {
          p.available -= l.quantity;
          p.reservations[orderId] = l.quantity;
          event = ProductEvents.StockReserved({
            productId: p.id,
            orderId,
            quantity: l.quantity,
            availableAfter: p.available,
            reservedAt: when,
          });
        } else {
          p.available += l.quantity;
          delete p.reservations[orderId];
          event = ProductEvents.StockReleased({
            productId: p.id,
            orderId,
            quantity: l.quantity,
            availableAfter: p.available,
            releasedAt: when,
          });
        }
        p.updatedAt = when;
        return {
          streamId: productStreamId(p.id),
          streamType: PRODUCT_STREAM_TYPE,
          events: [event],
        };
      });

    let items: OrderLine[] = [];
    while (items.length < 1 + this.int(3)) {
      const p = this.pick(this.products);
      if (!items.some((l) => l.productId === p.id)) items.push(lineOf(p, 1 + this.int(3)));
    }
    const shippingAddress = this.address();
    const steps: (() => Command)[] = [];
    const created = [...items];
    steps.push(() =>
      order(
        'placeOrder',
        'customer',
        OrderEvents.OrderCreated({
          orderId,
          customerId: customer.id,
          items: created,
          shippingAddress,
          billingAddress: shippingAddress,
          shippingMethod: 'STANDARD',
          total: totalOf(created),
          createdAt: this.now(),
        }),
      ),
    );
    for (let a = this.int(3); a > 0; a--) {
      const p = this.pick(this.products);
      if (items.some((l) => l.productId === p.id)) continue;
      const item = lineOf(p, 1 + this.int(3));
      items = [...items, item];
      const total = totalOf(items);
      steps.push(() =>
        order(
          'addOrderItem',
          'customer',
          OrderEvents.OrderItemAdded({ orderId, item, total, addedAt: this.now() }),
        ),
      );
    }
    if (items.length > 1 && this.rng() < 0.3) {
      const gone = this.pick(items);
      items = items.filter((l) => l !== gone);
      const total = totalOf(items);
      steps.push(() =>
        order(
          'removeOrderItem',
          'customer',
          OrderEvents.OrderItemRemoved({
            orderId,
            productId: gone.productId,
            productName: gone.productName,
            total,
            removedAt: this.now(),
          }),
        ),
      );
    }
    if (this.rng() < 0.1) {
      const address = this.address();
      steps.push(() =>
        order(
          'changeShippingAddress',
          'customer',
          OrderEvents.OrderShippingAddressChanged({
            orderId,
            shippingAddress: address,
            changedAt: this.now(),
          }),
        ),
      );
    }
    const final = items;
    const total = totalOf(final);
    const cancel = (refund: boolean, release: boolean) => (): Command => {
      const when = this.now();
      const c = order(
        'cancelOrder',
        'customer',
        ...(refund
          ? [
              OrderEvents.OrderPaymentRefunded({
                orderId,
                paymentId: `pay-${orderId}`,
                amount: total,
                reason: 'customer changed their mind',
                refundedAt: when,
              }),
            ]
          : []),
        OrderEvents.OrderCancelled({
          orderId,
          reason: 'customer changed their mind',
          cancelledAt: when,
          refunded: refund,
        }),
      );
      if (release) c.streams.push(...stock('StockReleased', final));
      return c;
    };
    const outcome = this.rng();
    if (outcome < 0.08) {
      steps.push(cancel(false, false));
    } else if (outcome < 0.83) {
      steps.push(() => {
        const paidAt = this.now();
        return order(
          'payOrder',
          'customer',
          OrderEvents.OrderPaid({
            orderId,
            paymentId: `pay-${orderId}`,
            amount: total,
            method: 'CARD',
            transactionId: null,
            estimatedDelivery: estimateDelivery('STANDARD', paidAt),
            paidAt,
          }),
        );
      });
      const after = this.rng();
      if (after < 0.65) {
        steps.push(() => {
          const c = order(
            'readyToShip',
            'service',
            OrderEvents.OrderReadyToShip({
              orderId,
              shipmentId: randomUUID(),
              readyAt: this.now(),
            }),
          );
          c.streams.push(...stock('StockReserved', final));
          return c;
        });
        if (this.rng() < 0.95) {
          const carrier = this.pick(CARRIERS);
          steps.push(() =>
            order(
              'shipOrder',
              'service',
              OrderEvents.OrderShipped({
                orderId,
                carrier,
                trackingNumber: `TRK${randomBytes(6).toString('hex').toUpperCase()}`,
                estimatedDelivery: null,
                shippedAt: this.now(),
              }),
            ),
          );
        } else {
          steps.push(cancel(true, true));
        }
      } else if (after < 0.72) {
        steps.push(cancel(true, false));
      }
    }
    return steps;
  }

  /**
   * Writes commands until the log holds at least `target` events, `chunk` events per
   * transaction (each ends at a command's end).
   */
  async fill(
    client: pg.PoolClient,
    target: number,
    chunk: number,
    progress?: (events: number) => void,
  ): Promise<FillResult> {
    const t0 = performance.now();
    const before = { events: this.events, commands: this.commandCount };
    // Orders still in their lives may have been appended to meanwhile (the benchmark's
    // appends to existing streams): carry on from their versions as stored.
    const live = [...this.orderVersions.keys()];
    if (live.length) {
      const r = await client.query<{ stream_id: string; version: number }>(
        'SELECT stream_id, version FROM streams WHERE stream_id = ANY($1::text[])',
        [live],
      );
      for (const row of r.rows) this.orderVersions.set(row.stream_id, row.version);
    }
    let transactions = 0;
    while (this.events < target) {
      await this.writeChunk(client, Math.min(chunk, target - this.events));
      transactions++;
      progress?.(this.events);
    }
    return {
      events: this.events - before.events,
      commands: this.commandCount - before.commands,
      transactions,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  private readonly orderVersions = new Map<string, number>();
  private readonly customerById = new Map<string, Customer>();
  private readonly productById = new Map<string, Product>();

  /** One transaction: at least `n` events (whole commands), with their rows elsewhere. */
  private async writeChunk(client: pg.PoolClient, n: number): Promise<void> {
    await client.query('BEGIN');
    try {
      // Nothing else may draw positions meanwhile (the results above name them): appends
      // wait for this transaction; readers do not.
      await client.query('LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE');
      const head = (
        await client.query<{ xid: string; last: string | null }>(
          `SELECT pg_current_xact_id()::text AS xid,
                  pg_sequence_last_value(pg_get_serial_sequence('events', 'global_position'))::text AS last`,
        )
      ).rows[0]!;
      let position = Number(head.last ?? 0);
      const events: string[] = [];
      const commands: string[] = [];
      const snapshots: string[] = [];
      const touched = new Map<string, StreamRow>();
      let written = 0;
      const tg = performance.now();
      while (written < n) {
        const command = this.commands.next().value as Command;
        this.clock += this.stepMs;
        const at = this.now();
        const commandId = randomUUID();
        const metadata = {
          userId: command.userId,
          role: command.role,
          commandId,
          correlationId: randomUUID(),
          causationId: commandId,
          mutation: command.mutation,
        };
        const meta = esc(JSON.stringify(metadata));
        const result: {
          transactionId: string;
          streams: { streamId: string; version: number }[];
          events: [string, number, number][][];
        } = { transactionId: head.xid, streams: [], events: [] };
        for (const s of command.streams) {
          const current = this.streamVersion(s.streamId, s.streamType, touched);
          const triples: [string, number, number][] = [];
          s.events.forEach((e, i) => {
            const version = current + i + 1;
            const eventId = randomUUID();
            position++;
            triples.push([eventId, version, position]);
            events.push(
              `${eventId}\t${s.streamId}\t${s.streamType}\t${e.type}\t${this.upcasters.currentVersion(e.type)}\t${version}\t${esc(JSON.stringify(e.data))}\t${meta}\t${metadata.correlationId}\t${metadata.causationId}\t${at}\n`,
            );
            this.byType.set(e.type, (this.byType.get(e.type) ?? 0) + 1);
            if (s.streamType === PRODUCT_STREAM_TYPE && version % SNAPSHOT_EVERY === 0) {
              const p = this.productById.get(s.streamId)!;
              const state = {
                status: 'REGISTERED',
                productId: p.id,
                name: p.name,
                imageUrl: p.imageUrl,
                price: { amount: p.price, currency: 'EUR' },
                available: p.available,
                reservations: p.reservations,
                registeredAt: p.registeredAt,
                updatedAt: p.updatedAt,
              };
              snapshots.push(
                `${s.streamId}\t${version}\t${productDecider.snapshotVersion}\t${esc(JSON.stringify(state))}\t${at}\n`,
              );
            }
          });
          const version = current + s.events.length;
          this.setStreamVersion(s.streamId, s.streamType, version, at, touched);
          result.streams.push({ streamId: s.streamId, version });
          result.events.push(triples);
          written += s.events.length;
        }
        const requestHash = fingerprint({
          operation: command.mutation,
          userId: command.userId,
          input: command.streams.map((s) => s.events.map((e) => e.data)),
        });
        commands.push(`${commandId}\t${requestHash}\t${esc(JSON.stringify(result))}\t${at}\n`);
        this.commandCount++;
      }
      this.events += written;
      const tw = performance.now();
      this.generateSeconds += (tw - tg) / 1000;
      await copyLines(client, EVENT_COPY, events);
      await copyLines(
        client,
        'COPY processed_commands (command_id, request_hash, result, recorded_at) FROM STDIN',
        commands,
      );
      if (snapshots.length)
        await copyLines(
          client,
          'COPY snapshots (stream_id, version, schema_version, state, recorded_at) FROM STDIN',
          snapshots,
        );
      // The streams rows: new ones inserted, others moved to their version, as appends do.
      await client.query(
        `CREATE TEMP TABLE IF NOT EXISTS scale_streams_in
           (stream_id text, stream_type text, version integer, created_at timestamptz, updated_at timestamptz)`,
      );
      await client.query('TRUNCATE scale_streams_in');
      await copyLines(
        client,
        'COPY scale_streams_in FROM STDIN',
        [...touched].map(
          ([id, r]) => `${id}\t${r.type}\t${r.version}\t${r.createdAt}\t${r.updatedAt}\n`,
        ),
      );
      await client.query(
        `INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at)
         SELECT stream_id, stream_type, version, created_at, updated_at FROM scale_streams_in
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
      );
      // Check the prediction of positions the commands' results name.
      const last = (
        await client.query<{ last: string }>(
          `SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'global_position'))::text AS last`,
        )
      ).rows[0]!.last;
      if (Number(last) !== position)
        throw new Error(`global positions: expected to end at ${position}, ended at ${last}`);
      await client.query('COMMIT');
      this.writeSeconds += (performance.now() - tw) / 1000;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private streamVersion(id: string, type: string, touched: Map<string, StreamRow>): number {
    const t = touched.get(id);
    if (t) return t.version;
    if (type === ORDER_STREAM_TYPE) return this.orderVersions.get(id) ?? 0;
    if (type === PRODUCT_STREAM_TYPE) return this.product(id).version;
    return this.customer(id).version;
  }

  private setStreamVersion(
    id: string,
    type: string,
    version: number,
    at: string,
    touched: Map<string, StreamRow>,
  ) {
    // created_at counts only for a stream new in this transaction (others keep theirs).
    touched.set(id, { type, version, updatedAt: at, createdAt: touched.get(id)?.createdAt ?? at });
    if (type === ORDER_STREAM_TYPE) {
      // An order's life ends within its cohort; its version is only needed until then.
      this.orderVersions.set(id, version);
      if (this.orderVersions.size > 4 * COHORT) {
        const oldest = this.orderVersions.keys().next().value!;
        this.orderVersions.delete(oldest);
      }
    } else if (type === PRODUCT_STREAM_TYPE) {
      this.product(id).version = version;
    } else {
      this.customer(id).version = version;
    }
  }

  private product(streamId: string): Product {
    return this.productById.get(streamId)!;
  }

  private customer(streamId: string): Customer {
    return this.customerById.get(streamId)!;
  }
}

interface StreamRow {
  type: string;
  version: number;
  updatedAt: string;
  /** Used only when the stream began in this transaction (else the row keeps its own). */
  createdAt: string;
}

/** COPY of text lines, in pieces of 2,000 rows. */
async function copyLines(client: pg.PoolClient, sql: string, lines: string[]): Promise<void> {
  async function* pieces() {
    for (let i = 0; i < lines.length; i += 2_000) yield lines.slice(i, i + 2_000).join('');
  }
  await pipeline(Readable.from(pieces()), client.query(copyFrom(sql)));
}
