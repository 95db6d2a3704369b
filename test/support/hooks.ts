import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/** `test`: a fresh one for every test; `file` (default): one for the whole file. */
export type Per = 'file' | 'test';

/**
 * Registers the hooks that open something before the file's tests (or each test) and
 * close it after them; returns a getter for the current one, usable inside tests and
 * later hooks only. Vitest runs after-hooks in reverse order, so hooks a file registers
 * afterwards run after the opening and before the closing.
 */
export function useHooks<T>(
  what: string,
  per: Per | undefined,
  open: () => Promise<T>,
  close: (x: T) => Promise<void>,
): () => T {
  let current: T | undefined;
  const each = per === 'test';
  (each ? beforeEach : beforeAll)(async () => {
    current = await open();
  });
  (each ? afterEach : afterAll)(async () => {
    const x = current;
    current = undefined;
    if (x !== undefined) await close(x);
  });
  return () => {
    if (current === undefined) throw new Error(`No ${what} here: use it in a test or hook`);
    return current;
  };
}
