// Child process of bench/live.ts: opens one graphql-ws connection per order and reports,
// for every event received, the delay from its append (stamped in the event metadata).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, ordersJson] = process.argv.slice(2) as [string, string, string];
const orderIds = JSON.parse(ordersJson) as string[];
const now = () => performance.timeOrigin + performance.now();
const latencies: number[] = [];
let ready = 0;

const clients = orderIds.map((orderId) => {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
  let first = true;
  client.subscribe<{ orderTimeline: { event: { metadata: { sentAt?: number } } } }>(
    {
      query: `subscription($id: ID!) { orderTimeline(orderId: $id) { version event { metadata } } }`,
      variables: { id: orderId },
    },
    {
      next: (r) => {
        const sentAt = r.data?.orderTimeline.event.metadata.sentAt;
        if (first) {
          first = false;
          ready++;
          if (ready === orderIds.length)
            process.stdout.write(JSON.stringify({ ready: true }) + '\n');
          return;
        }
        if (typeof sentAt === 'number') latencies.push(now() - sentAt);
      },
      error: (e) => process.stderr.write(`subscription error: ${JSON.stringify(e)}\n`),
      complete: () => undefined,
    },
  );
  return client;
});

process.stdin.on('data', async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  process.stdout.write(JSON.stringify({ latencies }) + '\n');
  process.exit(0);
});
