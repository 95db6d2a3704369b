import {
  getNamedType,
  getNullableType,
  getOperationAST,
  isInputObjectType,
  isListType,
  isScalarType,
  TypeInfo,
  valueFromAST,
  visit,
  visitWithTypeInfo,
  Kind,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type ValueNode,
} from 'graphql';
import { perOperation } from './per-operation.js';
import type { FieldError } from '../shared/decider.js';

/*
 * One gate for every text a client sends (docs/architecture.md, "Security"): each String
 * and ID argument and input field, in every operation and transport, is checked before
 * anything runs. PostgreSQL refuses NUL in text and unpaired surrogates in JSON, so such
 * input would otherwise fail deep inside a read or an append as an unexpected error; and
 * bidirectional controls let a name display as something it is not. Refused:
 *
 * - NUL and the other C0 controls, DEL and the C1 controls; a String may hold tab, line
 *   feed and carriage return (free text such as a cancellation reason), an ID none;
 * - an unpaired UTF-16 surrogate (not text at all);
 * - the bidirectional controls (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069).
 */

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const CONTROL_IN_STRING = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_IN_ID = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const hex = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** What is wrong with a String (or ID) value, or null when it may pass. */
export function textProblem(value: string, kind: 'String' | 'ID'): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode: it has an unpaired surrogate';
  const bidi = BIDI.exec(value);
  if (bidi) return `must not contain the bidirectional control ${hex(bidi[0])}`;
  const control = (kind === 'ID' ? CONTROL_IN_ID : CONTROL_IN_STRING).exec(value);
  if (control) return `must not contain the control character ${hex(control[0])}`;
  return null;
}

/** Problems of a coerced input value of `type`, with their paths below `path`. */
export function inputProblems(type: GraphQLInputType, value: unknown, path: string): FieldError[] {
  const out: FieldError[] = [];
  const walk = (t: GraphQLInputType, v: unknown, p: string) => {
    if (v === null || v === undefined) return;
    const nullable = getNullableType(t);
    if (isListType(nullable)) {
      if (Array.isArray(v)) v.forEach((item, i) => walk(nullable.ofType, item, `${p}.${i}`));
      else walk(nullable.ofType, v, p); // a single value given for a list
      return;
    }
    if (isInputObjectType(nullable)) {
      if (typeof v !== 'object') return;
      const fields = nullable.getFields();
      for (const [name, field] of Object.entries(fields)) {
        walk(field.type, (v as Record<string, unknown>)[name], p ? `${p}.${name}` : name);
      }
      return;
    }
    if (isScalarType(nullable) && (nullable.name === 'String' || nullable.name === 'ID')) {
      if (typeof v !== 'string') return;
      const problem = textProblem(v, nullable.name);
      if (problem) out.push({ path: p, message: problem });
    }
  };
  walk(type, value, path);
  return out;
}

export interface ArgumentProblem extends FieldError {
  /** The root field (response key) whose arguments hold the problem. */
  rootField: string;
  /** That field's name in the schema. */
  rootFieldName: string;
}

interface ArgumentSite {
  rootField: string;
  rootFieldName: string;
  name: string;
  type: GraphQLInputType;
  value: ValueNode;
}

/**
 * The arguments that can hold text, per operation of a parsed document: found on its first
 * request, checked on each.
 */
const argumentSites = perOperation((schema, document, operationName): ArgumentSite[] => {
  const sites: ArgumentSite[] = [];
  const operation = getOperationAST(document, operationName);
  if (!operation) return sites;
  const typeInfo = new TypeInfo(schema);
  const roots = new Map(
    operation.selectionSet.selections.flatMap((sel) =>
      sel.kind === Kind.FIELD ? [[sel, sel.alias?.value ?? sel.name.value] as const] : [],
    ),
  );
  let root = { key: '', name: '' };
  const scan = (node: DocumentNode['definitions'][number]) =>
    visit(
      node,
      visitWithTypeInfo(typeInfo, {
        Field: {
          enter(field) {
            const rootKey = roots.get(field);
            if (rootKey !== undefined) root = { key: rootKey, name: field.name.value };
          },
        },
        Argument(arg) {
          const def = typeInfo.getArgument();
          if (def && holdsText(def.type)) {
            sites.push({
              rootField: root.key,
              rootFieldName: root.name,
              name: arg.name.value,
              type: def.type,
              value: arg.value,
            });
          }
        },
      }),
    );
  scan(operation);
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) scan(d);
  return sites;
});

/** Whether a value of `type` can contain a String or ID anywhere. */
function holdsText(type: GraphQLInputType, seen: Set<string> = new Set()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return named.name === 'String' || named.name === 'ID';
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((f) => holdsText(f.type, seen));
}

/**
 * Problems in the arguments of the fields the operation would run (the operation's own
 * selection and the fragments it spreads), variables and defaults applied. Values that do
 * not coerce are left to GraphQL's own checks.
 */
export function argumentProblems(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): ArgumentProblem[] {
  const out: ArgumentProblem[] = [];
  const vars = variables ?? {};
  for (const site of argumentSites(schema, document, operationName)) {
    let value: unknown;
    try {
      value = valueFromAST(site.value, site.type, vars);
    } catch {
      continue;
    }
    for (const p of inputProblems(site.type, value, site.name)) {
      out.push({ ...p, rootField: site.rootField, rootFieldName: site.rootFieldName });
    }
  }
  return out;
}
