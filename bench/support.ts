import pg from 'pg';

/** Helpers every benchmark shares: number formats, percentiles, scratch databases, payloads. */

/** A number as a person reads it: thousands separated, `digits` decimals. */
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The `q` quantile (0–1) of ascending `sorted` samples; NaN for none. */
export const pct = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Runs one statement on its own connection (CREATE/DROP DATABASE cannot share a pool). */
export async function admin(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** About 300 bytes of JSON, like an order's first event: the payload of raw appends. */
export function orderPayload(i: number) {
  return {
    orderId: `ord-${i.toString().padStart(10, '0')}`,
    customerId: 'cus-000000042',
    currency: 'EUR',
    lines: [
      { sku: 'SKU-RED-SHIRT-M', quantity: 2, unitPrice: 1999 },
      { sku: 'SKU-BLUE-JEANS-32', quantity: 1, unitPrice: 5999 },
      { sku: 'SKU-SOCKS-3PK', quantity: 3, unitPrice: 899 },
    ],
    shippingAddress: {
      line1: '12 Example Street',
      city: 'Springfield',
      postcode: '12345',
      country: 'DE',
    },
    total: 12694,
  };
}

/** The metadata of raw appends. */
export const BENCH_METADATA = {
  userId: 'usr-000000042',
  role: 'customer',
  correlationId: 'corr-bench',
};
