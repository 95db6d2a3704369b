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

/** A process's memory as a benchmark reports it (MB). */
export interface MemorySample {
  rssMb: number;
  heapMb: number;
}

/** Memory now, after a full collection when node runs with --expose-gc (the bench scripts do). */
export const memoryNow = (): MemorySample => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 };
};

/**
 * "RSS 120 → 131 MB (+9%), heap 40 → 44 MB (+10%)": memory at the start and the end of a
 * load, with the growth that the benchmarks bound at 20%.
 */
export function memoryLine(label: string, start: MemorySample, end: MemorySample): string {
  const growth = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt(((b - a) / a) * 100)}%`;
  const worst = Math.max(
    (end.rssMb - start.rssMb) / start.rssMb,
    (end.heapMb - start.heapMb) / start.heapMb,
  );
  return `${label}: RSS ${fmt(start.rssMb)} → ${fmt(end.rssMb)} MB (${growth(start.rssMb, end.rssMb)}), heap ${fmt(start.heapMb)} → ${fmt(end.heapMb)} MB (${growth(start.heapMb, end.heapMb)}) ${worst <= 0.2 ? 'ok (≤ +20%)' : 'ABOVE +20%'}`;
}
