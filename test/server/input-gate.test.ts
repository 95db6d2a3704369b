import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/eventstore/cursor.js';
import { COMMAND_MUTATIONS } from '../../src/graphql/command-mutation.js';
import { textProblem } from '../../src/graphql/input-gate.js';
import { getSchema } from '../../src/server/schema.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { collect, sse, wsClient, type WsSession } from '../support/live.js';

/*
 * The input gate, probed from the schema itself: every String and ID argument and input
 * field of every query, mutation and subscription gets each kind of forbidden text in turn,
 * everything else a valid value. A field added later is probed without anyone listing it.
 * Reads answer BAD_USER_INPUT naming the argument, commands their ValidationError naming
 * the input field; nothing is written.
 */

const BAD = {
  NUL: 'a\u0000b',
  'unpaired surrogate': 'a\ud800b',
  'right-to-left override': 'evil\u202etxt.exe',
};

const schema = getSchema();

/** A valid value of `type` with only its required parts. */
function valid(type: GraphQLInputType, seen = new Set<string>()): unknown {
  const t = getNullableType(type);
  if (isListType(t)) return [valid(t.ofType, seen)];
  if (isEnumType(t)) return t.getValues()[0]!.value;
  if (isInputObjectType(t)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(t.getFields())) {
      if (isNonNullType(f.type) && f.defaultValue === undefined && !seen.has(t.name)) {
        out[f.name] = valid(f.type, new Set([...seen, t.name]));
      }
    }
    return out;
  }
  if (isScalarType(t)) {
    switch (t.name) {
      case 'ID':
        return randomUUID();
      case 'String':
        return 'x';
      case 'Int':
      case 'SafeInt':
      case 'Float':
        return 1;
      case 'Boolean':
        return false;
      case 'Cursor':
        return encodeCursor({ transactionId: '1', globalPosition: 1 });
      case 'DateTime':
        return new Date().toISOString();
      case 'JSON':
        return {};
    }
  }
  throw new Error(`no valid value for ${String(type)}: teach the probe this type`);
}

/** Every path to text inside an argument: [] for the argument itself, ['a', 'b'] for fields. */
function textPaths(type: GraphQLInputType, seen: Set<string> = new Set()): string[][] {
  const named = getNamedType(type);
  if (isScalarType(named)) return named.name === 'String' || named.name === 'ID' ? [[]] : [];
  if (!isInputObjectType(named) || seen.has(named.name)) return [];
  return Object.values(named.getFields()).flatMap((f) =>
    textPaths(f.type, new Set([...seen, named.name])).map((p) => [f.name, ...p]),
  );
}

/** `value` with the text at `path` (below a list: in its first element) set to `text`. */
function withText(type: GraphQLInputType, value: unknown, path: string[], text: string): unknown {
  const t = getNullableType(type);
  if (isListType(t)) {
    const list = Array.isArray(value) && value.length ? value : [valid(t.ofType)];
    return [withText(t.ofType, list[0], path, text), ...list.slice(1)];
  }
  if (path.length === 0) return text;
  if (!isInputObjectType(t)) throw new Error(`no field ${path[0]} in ${String(type)}`);
  const field = t.getFields()[path[0]!]!;
  const base = (value ?? valid(t)) as Record<string, unknown>;
  return {
    ...base,
    [field.name]: withText(field.type, base[field.name] ?? valid(field.type), path.slice(1), text),
  };
}

/** The path as the error names it: list elements by index 0. */
function errorPath(type: GraphQLInputType, path: string[]): string {
  const out: string[] = [];
  let t: GraphQLInputType = type;
  for (let i = 0; ; i++) {
    const n = getNullableType(t);
    if (isListType(n)) {
      out.push('0');
      t = n.ofType;
      i--;
      continue;
    }
    if (i >= path.length) break;
    out.push(path[i]!);
    t = (n as { getFields(): Record<string, { type: GraphQLInputType }> }).getFields()[path[i]!]!
      .type;
  }
  return out.join('.');
}

interface Probe {
  kind: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
  arg: GraphQLArgument;
  path: string[];
}

function probes(): Probe[] {
  const out: Probe[] = [];
  const roots: [Probe['kind'], GraphQLObjectType | null | undefined][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  for (const [kind, type] of roots) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      for (const arg of field.args) {
        for (const path of textPaths(arg.type)) out.push({ kind, field, arg, path });
      }
    }
  }
  return out;
}

/** The operation of a probe, its arguments all as variables. */
function operation(p: Probe, text: string) {
  const variables: Record<string, unknown> = {};
  const decl: string[] = [];
  const args: string[] = [];
  for (const a of p.field.args) {
    const given =
      a === p.arg
        ? withText(a.type, undefined, p.path, text)
        : isNonNullType(a.type) && a.defaultValue === undefined
          ? valid(a.type)
          : undefined;
    if (given === undefined) continue;
    variables[a.name] = given;
    decl.push(`$${a.name}: ${String(a.type)}`);
    args.push(`${a.name}: $${a.name}`);
  }
  const named = getNamedType(p.field.type);
  const selection =
    isScalarType(named) || isEnumType(named)
      ? ''
      : p.kind === 'mutation' && COMMAND_MUTATIONS.has(p.field.name)
        ? '{ __typename ... on ValidationError { fields { path message } } }'
        : '{ __typename }';
  const query = `${p.kind}${decl.length ? `(${decl.join(', ')})` : ''} { ${p.field.name}${
    args.length ? `(${args.join(', ')})` : ''
  } ${selection} }`;
  return { query, variables };
}

describe('the input gate rule', () => {
  it('refuses NUL, unpaired surrogates, bidi and other controls; keeps ordinary text', () => {
    for (const ok of ['Ann', 'Zoë 🙂', 'line\nbreak\tand tab', '東京', 'عربي']) {
      expect(textProblem(ok, 'String'), ok).toBeNull();
    }
    for (const bad of [...Object.values(BAD), '\u0007', '\u009b', '\u2066x', '\udc00', '\u007f']) {
      expect(textProblem(bad, 'String'), JSON.stringify(bad)).not.toBeNull();
    }
    expect(textProblem('a\nb', 'ID')).not.toBeNull();
  });
});

describe(`the input gate, probed from the schema, on ${engine}`, () => {
  const { s } = useTestApp();
  let admin: { authorization: string };
  const all = probes();
  const sessions: WsSession[] = [];

  beforeAll(async () => {
    admin = await s.auth({ role: 'admin' });
  });
  afterAll(async () => {
    for (const x of sessions) await x.dispose();
  });

  it('finds the text of every kind of operation in the schema', () => {
    const kinds = new Set(all.map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['mutation', 'query', 'subscription']);
    expect(all.length).toBeGreaterThan(40);
    // Input fields deep inside inputs are probed too.
    expect(all.some((p) => p.path.length >= 2)).toBe(true);
  });

  it('refuses each over HTTP (subscriptions: SSE) with a typed error naming the field; writes nothing', async () => {
    const before = (await s.app.store.head())?.cursor ?? null;
    const failures: string[] = [];
    for (const p of all) {
      for (const [what, text] of Object.entries(BAD)) {
        const { query, variables } = operation(p, text);
        const where = `${p.field.name}(${p.arg.name}${p.path.length ? '.' + p.path.join('.') : ''}) with ${what}`;
        const path = [p.arg.name, errorPath(p.arg.type, p.path)].filter(Boolean).join('.');
        let body: { data?: any; errors?: any[] };
        if (p.kind === 'subscription') {
          body = (await sse<typeof body>(s.url, query, variables, admin, 1))[0] ?? {};
        } else {
          body = (await s.graphql<any>(query, variables, admin)).body;
        }
        if (p.kind === 'mutation' && COMMAND_MUTATIONS.has(p.field.name)) {
          const payload = body.data?.[p.field.name];
          const fields: { path: string }[] = payload?.fields ?? [];
          if (payload?.__typename !== 'ValidationError') {
            failures.push(`${where}: ${JSON.stringify(body).slice(0, 300)}`);
          } else if (!fields.some((f) => f.path === path.replace(/^input\.?/, ''))) {
            failures.push(`${where}: ValidationError without ${path}: ${JSON.stringify(fields)}`);
          }
        } else {
          const e = body.errors?.[0];
          if (e?.extensions?.code !== 'BAD_USER_INPUT' || e.extensions.argument !== path) {
            failures.push(`${where}: ${JSON.stringify(body).slice(0, 300)}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect((await s.app.store.head())?.cursor ?? null).toBe(before);
  });

  it('the same over graphql-ws', async () => {
    const ws = wsClient(s.url, admin.authorization);
    sessions.push(ws);
    const some = [
      all.find((p) => p.kind === 'query' && p.field.name === 'orders')!,
      all.find((p) => p.kind === 'subscription')!,
    ];
    for (const p of some) {
      const { query, variables } = operation(p, BAD.NUL);
      const feed = collect(ws, query, variables, p.field.name);
      await expect(feed.waitFor(1, 2_000)).rejects.toThrow();
      expect(JSON.stringify(feed.errors), p.field.name).toMatch(/BAD_USER_INPUT/);
    }
    const command = all.find((p) => p.kind === 'mutation' && p.path.length >= 1)!;
    const { query, variables } = operation(command, BAD.NUL);
    const answer = await new Promise<any>((resolve, reject) => {
      ws.client.subscribe(
        { query, variables },
        { next: resolve, error: reject, complete: () => undefined },
      );
    });
    expect(answer.data[command.field.name].__typename).toBe('ValidationError');
  });
});
