import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.js';
import { readFile } from 'node:fs/promises';
import { cleanEnv, startServerProcess } from '../support/server-process.js';

/** What a newcomer sees after `npm start` on the embedded engine. */
describe('npm start in development mode', () => {
  it('prints the GraphiQL URL and working admin and customer tokens, and GraphiQL carries the admin token', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'strata-start-'));
    const server = await startServerProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: process.cwd(),
      env: cleanEnv({ STRATA_DATA_DIR: dataDir }),
    });
    try {
      const out = server.output();
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
      server.child.kill('SIGTERM');
      await server.exited;
      server.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
