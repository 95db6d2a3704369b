import { randomUUID } from 'node:crypto';
import { openPostgres } from './src/db/postgres.js';
import { migrate } from './src/db/migrate.js';
import { EventStore } from './src/eventstore/store.js';
const db = openPostgres({ connectionString: 'postgres://postgres@127.0.0.1:5432/strata_micro', max: 2 });
await migrate(db);
const store = new EventStore(db);
const data = { orderId: randomUUID(), productId: randomUUID(), productName: 'Mug', quantity: 2, requestedAt: new Date().toISOString(), commandId: randomUUID() };
const meta = { userId: 'fulfillment', role: 'service', commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID(), mutation: 'fulfillment:observe' };
for (let round = 0; round < 30; round++) {
  const streams = Array.from({ length: 75 }, (_, k) => ({ streamId: `s-${round}-${k}`, streamType: 'thing', expected: 'noStream' as const, events: Array.from({ length: k % 3 === 0 ? 10 : 1 }, () => ({ type: 'Thing', data, metadata: meta })) }));
  const t = performance.now();
  await store.appendMany(streams);
  if (round >= 25) console.log('events', streams.reduce((a, s) => a + s.events.length, 0), 'ms', (performance.now() - t).toFixed(2));
}
await db.close();
