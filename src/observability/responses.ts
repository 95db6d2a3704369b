import type { ServerResponse } from 'node:http';

/** Long-lived responses (SSE, multipart subscriptions), as their content type says. */
const STREAMING = /text\/event-stream|multipart\/mixed/;

/**
 * Calls `onHead(stream)` once the response's head is written, with whether it is a
 * stream. Clients such as urql accept text/event-stream on every query and mutation, so
 * the request's Accept header cannot tell; the response's content type can. It may be
 * set with setHeader, or passed to writeHead as an object (as yoga's server adapter does).
 */
export function onResponseHead(res: ServerResponse, onHead: (stream: boolean) => void): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const out = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    onHead(isStream(this, args));
    return out;
  } as ServerResponse['writeHead'];
}

function isStream(res: ServerResponse, writeHeadArgs: unknown[]): boolean {
  const set = res.getHeader('content-type');
  if (set !== undefined) return STREAMING.test(String(set));
  for (const arg of writeHeadArgs) {
    if (arg && typeof arg === 'object' && !Array.isArray(arg)) {
      for (const [key, value] of Object.entries(arg))
        if (key.toLowerCase() === 'content-type') return STREAMING.test(String(value));
    }
  }
  return false;
}
