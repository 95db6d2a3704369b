import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/*
 * The direction rule of docs/architecture.md is checked by `npm run lint` (dependency-
 * cruiser over src/). These tests show that the check bites: a file that breaks the rule
 * is reported, by the rule's name. The probes live in src/ only while a test runs.
 */

const run = promisify(execFile);

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function violationsOf(path: string, source: string): Promise<Violation[]> {
  writeFileSync(path, source);
  try {
    const { stdout } = await run(
      'npx',
      ['depcruise', path, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
      { maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    rmSync(path, { force: true });
  }
}

// `*.probe.ts`: tsconfig.json leaves them out, so a build running meanwhile (npm start's
// tests) neither compiles a probe nor trips over one that was just removed.
const probeName = () => `${randomUUID().slice(0, 8)}.probe`;

describe('the direction rule', () => {
  it('refuses infrastructure importing a feature, even for a type', async () => {
    const file = `src/eventstore/${probeName()}.ts`;
    const v = await violationsOf(
      file,
      "import type { OrderEvent } from '../orders/index.js';\nexport type X = OrderEvent;\n",
    );
    expect(v.map((x) => [x.from, x.rule.name])).toContainEqual([
      file,
      'infrastructure-stays-below',
    ]);
  });

  it('refuses the GraphQL kernel importing the server', async () => {
    const file = `src/graphql/${probeName()}.ts`;
    const v = await violationsOf(
      file,
      "import { createLoaders } from '../server/loaders.js';\nexport const x = createLoaders;\n",
    );
    expect(v.map((x) => x.rule.name)).toContain('graphql-kernel-below-features');
  });

  it("refuses a feature reaching into another feature's internals", async () => {
    const file = `src/fulfillment/${probeName()}.ts`;
    const v = await violationsOf(
      file,
      "import { ordersPage } from '../orders/projections.js';\nexport const x = ordersPage;\n",
    );
    expect(v.map((x) => x.rule.name)).toContain('features-through-public-surface');
  });

  it('refuses an import circle made of type imports', async () => {
    const a = `src/shared/${probeName()}`;
    const b = `src/shared/${probeName()}`;
    writeFileSync(
      `${b}.ts`,
      `import type { A } from './${a.split('/').pop()}.js';\nexport type B = A[];\n`,
    );
    try {
      const v = await violationsOf(
        `${a}.ts`,
        `import type { B } from './${b.split('/').pop()}.js';\nexport type A = { b?: B };\n`,
      );
      expect(v.map((x) => x.rule.name)).toContain('no-circular');
    } finally {
      rmSync(`${b}.ts`, { force: true });
    }
  });

  it('accepts what the rule allows: a feature using the kernel and another feature’s public API', async () => {
    const file = `src/fulfillment/${probeName()}.ts`;
    const v = await violationsOf(
      file,
      "import { orderStreamId } from '../orders/index.js';\nimport { builder } from '../graphql/builder.js';\nexport const x = [orderStreamId, builder];\n",
    );
    expect(v.filter((x) => x.from === file)).toEqual([]);
  });
});

describe('the repository stands alone', () => {
  it('cites no design document outside it', async () => {
    const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard']);
    const files = stdout
      .split('\n')
      .filter((f) => f && !f.endsWith('package-lock.json') && !f.startsWith('test/architecture/'));
    const outside = /\.\.\/shared\/[A-Z]|\bDESIGN\.md\b|\bAPI\.md\b/;
    const offenders = files.filter((f) => {
      try {
        return outside.test(readFileSync(f, 'utf8'));
      } catch {
        return false; // deleted in the work tree
      }
    });
    expect(offenders).toEqual([]);
  });
});
