import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Field paths that never reach the output, whatever a caller logs. */
const REDACTED_PATHS = [
  'authorization',
  'Authorization',
  'token',
  'secret',
  'password',
  'cookie',
  'databaseUrl',
  'connectionString',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.cookie',
  '*.databaseUrl',
  '*.connectionString',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'connectionParams.authorization',
  'connectionParams.Authorization',
  'config.authSecret',
  'config.databaseUrl',
];

/**
 * Credentials that can hide inside free text (an error message quoting a connection
 * string or a header): the password of a URL, and a bearer token.
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@/?#\s]+@/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;

/** Strips credentials out of a string (see URL_PASSWORD and BEARER). */
export function scrubSecrets(text: string): string {
  return text.replace(URL_PASSWORD, '$1[redacted]@').replace(BEARER, '$1[redacted]');
}

const errSerializer = (err: Error) => {
  const out = pino.stdSerializers.err(err);
  if (typeof out.message === 'string') out.message = scrubSecrets(out.message);
  if (typeof out.stack === 'string') out.stack = scrubSecrets(out.stack);
  return out;
};

/**
 * Structured JSON logs. Tokens, authorization headers, secrets and connection-string
 * passwords never reach the output, even when a caller logs a whole request or an error
 * quoting them by mistake: known fields are redacted by path, and messages and error
 * texts are scrubbed of URL passwords and bearer tokens.
 *
 * `destination` defaults to stdout; tests pass an in-memory stream.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'strata' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: errSerializer, error: errSerializer },
    hooks: {
      logMethod(args, method) {
        // The message (a string argument) is free text: scrub it.
        const scrubbed = args.map((a: unknown) => (typeof a === 'string' ? scrubSecrets(a) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
