import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Tokens and authorization headers never reach the output, even
 * when a caller logs a whole request by mistake.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'strata' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        'token',
        '*.authorization',
        '*.token',
        'headers.authorization',
        'req.headers.authorization',
        'connectionParams.authorization',
        'secret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  });
}
