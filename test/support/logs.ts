import { createLogger, type Logger } from '../../src/observability/logger.js';

/** A real logger (with the app's redaction) writing JSON lines into memory. */
export interface CapturedLogs {
  logger: Logger;
  /** Everything written so far, verbatim. */
  text(): string;
  /** The parsed lines. */
  lines(): Record<string, any>[];
  /** The lines with this message. */
  withMsg(msg: string | RegExp): Record<string, any>[];
}

export function captureLogs(level = 'trace'): CapturedLogs {
  const chunks: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void chunks.push(line) });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, any>);
  return {
    logger,
    text,
    lines,
    withMsg: (msg) =>
      lines().filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))),
  };
}
