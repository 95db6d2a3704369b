import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface WsSession {
  client: Client;
  /** Resolves with the close code when the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

/** A real graphql-ws client (Node's `ws`) against a started server. */
export function wsClient(baseUrl: string, authorization?: string): WsSession {
  let onClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: authorization ? { authorization } : {},
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
    onNonLazyError: () => undefined,
  });
  return { client, closed, dispose: () => client.dispose() as Promise<void> };
}

export interface Collected<T> {
  items: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves once `n` items arrived (or rejects after the timeout). */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  stop(): void;
}

/** Subscribes and collects every payload's data field. */
export function collect<T>(
  session: WsSession,
  query: string,
  variables: Record<string, unknown>,
  field: string,
): Collected<T> {
  const items: T[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const stop = session.client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors) errors.push(...r.errors);
        const item = r.data?.[field];
        if (item) items.push(item);
        poke();
      },
      error: (e) => {
        errors.push(e);
        poke();
      },
      complete: () => {
        completed = true;
        poke();
      },
    },
  );
  return {
    items,
    errors,
    get completed() {
      return completed;
    },
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (items.length < n) {
        if (completed || errors.length)
          throw new Error(`ended after ${items.length} items: ${JSON.stringify(errors)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`only ${items.length} of ${n} items arrived`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(timer);
            r();
          });
        });
      }
      return items.slice(0, n);
    },
    stop,
  };
}

/** Reads a GraphQL-over-SSE subscription (yoga's distinct-connection mode) until `n` results. */
export async function sse<T>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  n: number,
  timeoutMs = 10_000,
): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const out: T[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    while (out.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let idx;
      while ((idx = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const data = chunk
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('');
        if (data) out.push(JSON.parse(data) as T);
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return out;
}
