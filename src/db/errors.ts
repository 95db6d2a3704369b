/**
 * Failures of the database that say nothing about the request: the connection was lost
 * (a restart, a failover, a terminated session), the server is shutting down or full, or a
 * transaction lost a serialisation or deadlock race. The same request, sent again, may
 * well succeed; a command sent again with the same commandId takes effect at most once
 * (its idempotency record commits with its events), so the API tells the client to retry
 * (UNAVAILABLE) instead of masking these as unexpected.
 */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
]);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** node-pg's own messages for a connection that broke or could not be had. */
const PG_CLIENT_MESSAGES =
  /Connection terminated|connection error|is not queryable|timeout exceeded when trying to connect|Client was closed/i;

export function isTransientDatabaseError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code))
        return true;
    }
    if (typeof message === 'string' && PG_CLIENT_MESSAGES.test(message)) return true;
    e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return false;
}
