import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { readFile } from 'node:fs/promises';

/** What a newcomer sees after `npm start` on the embedded engine. */
describe('npm start in development mode', () => {
  it('prints the GraphiQL URL and working admin and customer tokens, and GraphiQL carries the admin token', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'strata-start-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        STRATA_DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'warn',
        DATABASE_URL: '',
        STRATA_AUTH_SECRET: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!/Mint more/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`no start banner:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = /GraphiQL:\s+(http:\/\/localhost:\d+)\/graphql/.exec(out)![1]!;
      const admin = /Admin token:\s+(\S+)/.exec(out)![1]!;
      const customer = /Customer token \(customer [0-9a-f-]+\):\s+(\S+)/.exec(out)![1]!;
      const secret = (await readFile(path.join(dataDir, 'dev-secret'), 'utf8')).trim();
      const tokens = createTokenService({ secret });
      expect(await tokens.verify(admin)).toMatchObject({ role: 'admin' });
      expect(await tokens.verify(customer)).toMatchObject({ role: 'customer' });
      const page = await (
        await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })
      ).text();
      expect(page).toContain(admin);
      const r = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: '{ projections { name } }' }),
      });
      expect(((await r.json()) as any).data.projections.length).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
