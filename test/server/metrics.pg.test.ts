import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';

describe('the "readers held back" metric (PostgreSQL)', () => {
  const { t, s } = useTestApp();

  it('names the open writing transaction that holds log readers back, and its age', async () => {
    const writer = new pg.Client({ connectionString: t.url! });
    await writer.connect();
    try {
      const { rows } = await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await writer.query('BEGIN');
      await writer.query('SELECT pg_current_xact_id()'); // now it holds a transaction id
      await new Promise((r) => setTimeout(r, 1100));
      const text = await (await fetch(`${s.url}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^strata_readers_held_back_by_pid ${rows[0]!.pid}$`, 'm'));
      const seconds = Number(/^strata_readers_held_back_seconds (\S+)$/m.exec(text)![1]);
      expect(seconds).toBeGreaterThanOrEqual(1);
      await writer.query('COMMIT');
      await new Promise((r) => setTimeout(r, 150)); // the scrape result is cached for 100 ms
      const after = await (await fetch(`${s.url}/metrics`)).text();
      // (the app's own short transactions may show up here; the ended one must not)
      expect(after).not.toMatch(
        new RegExp(`^strata_readers_held_back_by_pid ${rows[0]!.pid}$`, 'm'),
      );
    } finally {
      await writer.end();
    }
  });

  it('counts reconnects of the LISTEN bridge', async () => {
    const reconnects = async () =>
      Number(
        /^strata_listen_reconnects_total (\S+)$/m.exec(
          await (await fetch(`${s.url}/metrics`)).text(),
        )![1],
      );
    expect(await reconnects()).toBe(0);
    const pid = s.app.notifier.backendPid();
    await t.db.query('SELECT pg_terminate_backend($1)', [pid]);
    const deadline = Date.now() + 15_000;
    while ((await reconnects()) < 1) {
      if (Date.now() > deadline) throw new Error('the reconnect was not counted');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await reconnects()).toBe(1);
    expect(s.app.notifier.backendPid()).not.toBe(pid);
  });
});
