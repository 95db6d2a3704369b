import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  getNamedType,
  getOperationAST,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config/config.js';
import { COMMAND_MUTATIONS } from '../graphql/command-mutation.js';
import { argumentProblems } from '../graphql/input-gate.js';
import { copyError, mapResultErrors } from './result-errors.js';

/**
 * Abuse limits: bounds on what one GraphQL document may ask, checked before anything
 * runs. Each has a stable `extensions.code` and names the variable that sets it, so a
 * client that hits one knows what it was and an operator knows what to raise.
 */
export type LimitCode =
  | 'DOCUMENT_TOO_LARGE'
  | 'TOO_MANY_TOKENS'
  | 'QUERY_TOO_DEEP'
  | 'TOO_MANY_ALIASES'
  | 'TOO_MANY_DIRECTIVES'
  | 'QUERY_TOO_COMPLEX';

const LIMITS: Record<LimitCode, { what: string; unit: string; env: string }> = {
  DOCUMENT_TOO_LARGE: {
    what: 'The query document is too large',
    unit: 'bytes',
    env: 'STRATA_MAX_DOCUMENT_BYTES',
  },
  TOO_MANY_TOKENS: {
    what: 'The query document has too many tokens',
    unit: 'tokens',
    env: 'STRATA_MAX_TOKENS',
  },
  QUERY_TOO_DEEP: {
    what: 'The query is nested too deeply',
    unit: 'levels',
    env: 'STRATA_MAX_DEPTH',
  },
  TOO_MANY_ALIASES: {
    what: 'The query uses too many aliases',
    unit: 'aliases',
    env: 'STRATA_MAX_ALIASES',
  },
  TOO_MANY_DIRECTIVES: {
    what: 'The query uses too many directives',
    unit: 'directives',
    env: 'STRATA_MAX_DIRECTIVES',
  },
  QUERY_TOO_COMPLEX: {
    what: 'The query is too complex',
    unit: 'cost points',
    env: 'STRATA_MAX_COST',
  },
};

/** The error of an exceeded abuse limit: nothing of the operation ran. */
export function limitError(code: LimitCode, max: number, found?: number): GraphQLError {
  const l = LIMITS[code];
  const counted = found === undefined ? `more than ${max}` : `${found}`;
  return new GraphQLError(
    `${l.what}: ${counted} ${l.unit}, the limit is ${max} (${l.env}). Nothing was executed.`,
    {
      extensions: {
        code,
        limit: l.env,
        max,
        ...(found === undefined ? {} : { found }),
        // Answered like a syntax or validation error: 400 for graphql-response+json.
        http: { status: 400, spec: true },
      },
    },
  );
}

/** The count an armor rule found, taken from its own message ("…, found 12."). */
function foundIn(err: GraphQLError): number | undefined {
  const m = /found (\d+)/.exec(err.message);
  return m ? Number(m[1]) : undefined;
}

/**
 * An armor validation rule's rejection, reported as our typed error instead of the rule's
 * own (which it would throw out of `validate` and so past graphql-ws's error handling).
 */
const reportAs =
  (code: LimitCode, max: number) => (ctx: ValidationContext | null, err: GraphQLError) =>
    ctx?.reportError(limitError(code, max, foundIn(err)));

function bodyTooLarge(maxBytes: number, declared?: number): GraphQLError {
  return new GraphQLError(
    `The request body is ${declared === undefined ? '' : `${declared} bytes, `}over the limit of ${maxBytes} bytes (STRATA_MAX_BODY_BYTES). Nothing was executed.`,
    {
      extensions: {
        code: 'REQUEST_ENTITY_TOO_LARGE',
        limit: 'STRATA_MAX_BODY_BYTES',
        max: maxBytes,
        // The rest of the body is never read, so the connection cannot carry another request.
        http: { status: 413, headers: { connection: 'close' } },
      },
    },
  );
}

/**
 * The HTTP request body: refused by its declared length before it is read, and, sent
 * without one (chunked), cut off as soon as what arrived exceeds the limit.
 *
 * A body with a declared length within the limit is read as it is: Node's HTTP parser
 * reads exactly Content-Length bytes as the body (anything after them is the next
 * request) and refuses a request that declares both a length and chunked encoding, so
 * such a body cannot exceed what it declared. Only chunked bodies pay for the counting
 * stream.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        const bytes = Number(declared);
        if (bytes > maxBytes) throw bodyTooLarge(maxBytes, bytes);
        if (Number.isSafeInteger(bytes) && bytes >= 0) return;
      }
      if (!requestParser || !request.body) return;
      let read = 0;
      // The body may be Node's stream or yoga's ponyfill: pipe it through its own kind.
      const Transform =
        request.body instanceof ReadableStream ? TransformStream : fetchAPI.TransformStream;
      const limited = request.body.pipeThrough(
        new Transform<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            read += chunk.byteLength;
            if (read > maxBytes) controller.error(bodyTooLarge(maxBytes));
            else controller.enqueue(chunk);
          },
        }),
      );
      const parse = requestParser;
      setRequestParser(() =>
        parse(
          new fetchAPI.Request(request.url, {
            method: request.method,
            headers: request.headers,
            signal: request.signal,
            body: limited,
            duplex: 'half',
          } as RequestInit),
        ),
      );
    },
  };
}

/** Size of the query text in UTF-8, counted before it is parsed. */
function useDocumentSizeLimit(maxBytes: number): Plugin {
  return {
    onParse({ params }) {
      const text = typeof params.source === 'string' ? params.source : params.source.body;
      // A UTF-8 character is at most 4 bytes: only a text near the limit needs counting.
      if (text.length * 4 <= maxBytes) return;
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > maxBytes) throw limitError('DOCUMENT_TOO_LARGE', maxBytes, bytes);
    },
  };
}

/**
 * The cost of the operation `args` would run, in objects it resolves: each field that
 * returns an object (or a list of them) costs 1 each time it is resolved, and everything
 * under a paginated field is resolved once per item of the page (its `first`, as given or
 * by default). Scalars are free (they come with their object's row); plain lists count
 * once, as the domain keeps them short (an order has at most 10 lines). So a full page of
 * 100 orders with their lines, products and customer costs about 1,500, while pages
 * nested in pages multiply (100 orders × 100 orders of each one's customer: over 20,000).
 * Unlike a validation rule this sees the variables and argument defaults, so `first: $n`
 * and an omitted `first` count for the rows they fetch. Introspection is free: whether it
 * is allowed at all is its own setting.
 */
/** A page whose default the schema does not declare counts as the largest default (events: 100). */
const UNDECLARED_PAGE = 100;

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const variableDefaults = new Map(
    (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.defaultValue]),
  );

  const intOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      const given = variables?.[value.name.value];
      if (typeof given === 'number') return given;
      if (given === undefined) return intOf(variableDefaults.get(value.name.value));
    }
    return undefined;
  };

  /**
   * Cost of one resolution of each fragment, by name. The cost of a selection is linear in
   * the times it is resolved, so a fragment is walked once however often it is spread: a
   * document that spreads fragments into each other costs its size to check, not 2^n.
   */
  const fragmentCosts = new Map<string, number>();

  /** Cost of `set` on `type`, resolved `times` times. */
  const selectionCost = (type: GraphQLNamedType, set: SelectionSetNode, times: number): number => {
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        cost += selectionCost(on ?? type, sel.selectionSet, times);
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const name = sel.name.value;
        const fragment = fragments.get(name);
        if (!fragment) continue;
        let once = fragmentCosts.get(name);
        if (once === undefined) {
          // A cycle is refused by validation; the placeholder only keeps this walk finite.
          fragmentCosts.set(name, 0);
          const on = schema.getType(fragment.typeCondition.name.value) ?? type;
          once = selectionCost(on, fragment.selectionSet, 1);
          fragmentCosts.set(name, once);
        }
        cost += times * once;
      } else if (sel.selectionSet && !sel.name.value.startsWith('__')) {
        const def =
          isObjectType(type) || isInterfaceType(type)
            ? type.getFields()[sel.name.value]
            : undefined;
        // `first` as given, else the argument's default: the page the resolver will fetch.
        const firstArg = def?.args.find((a) => a.name === 'first');
        const first = firstArg
          ? (intOf(sel.arguments?.find((a) => a.name.value === 'first')?.value) ??
            (typeof firstArg.defaultValue === 'number' ? firstArg.defaultValue : UNDECLARED_PAGE))
          : undefined;
        const child = def ? getNamedType(def.type) : type;
        cost += times + selectionCost(child, sel.selectionSet, times * Math.max(1, first ?? 1));
      }
    }
    return cost;
  };

  return selectionCost(root, operation.selectionSet, 1);
}

/** The arguments of execute and subscribe that a check before running reads. */
export interface RunArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

/**
 * A plugin that checks each operation, over any transport, when it is about to run (its
 * variables known): a refusal is the whole answer, nothing runs.
 */
function refusingBeforeRun(
  check: (args: RunArgs) => { errors: GraphQLError[] } | undefined,
): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

/** Each execution's cost, worked out once for the plugins that read it (limit, read budget). */
const costs = new WeakMap<RunArgs, number>();

/** The operation's cost (see {@link operationCost}) for one execution, its variables applied. */
export function costOf(args: RunArgs): number {
  let cost = costs.get(args);
  if (cost === undefined) {
    cost = operationCost(args.schema, args.document, args.operationName, args.variableValues);
    costs.set(args, cost);
  }
  return cost;
}

/**
 * The cost limit, checked when the operation is about to run (the variables are known
 * then, which a cached validation rule cannot see); over it nothing executes.
 */
function useCostLimit(maxCost: number): Plugin {
  const check = (args: RunArgs) => {
    const cost = costOf(args);
    return cost > maxCost
      ? { errors: [limitError('QUERY_TOO_COMPLEX', maxCost, cost)] }
      : undefined;
  };
  return refusingBeforeRun(check);
}

/**
 * The input gate for reads (src/graphql/input-gate.ts): a query, a subscription, or a
 * mutation that is not a command, whose String or ID arguments hold text no field may
 * hold, is refused whole before it runs, BAD_USER_INPUT naming each argument path.
 * Command mutations answer their own ValidationError instead (command-mutation.ts).
 */
function useInputGate(): Plugin {
  const check = (args: RunArgs) => {
    const mutation = getOperationAST(args.document, args.operationName)?.operation === 'mutation';
    const problems = argumentProblems(
      args.schema,
      args.document,
      args.operationName,
      args.variableValues,
    ).filter((p) => !(mutation && COMMAND_MUTATIONS.has(p.rootFieldName)));
    if (problems.length === 0) return undefined;
    return {
      errors: problems.map(
        (p) =>
          new GraphQLError(`${p.rootField}(${p.path}) ${p.message}`, {
            extensions: { code: 'BAD_USER_INPUT', field: p.rootField, argument: p.path },
          }),
      ),
    };
  };
  return refusingBeforeRun(check);
}

/**
 * The abuse-limit plugins for `config.limits`, for yoga and for the graphql-ws server
 * (which runs operations through the same envelop). Field suggestions ("Did you mean …")
 * are hidden when introspection is off, as they would leak the schema piece by piece.
 */
export function limitPlugins(config: Pick<Config, 'limits' | 'introspection'>): Plugin[] {
  const l = config.limits;
  const plugins: Plugin[] = [
    useBodyLimit(l.maxBodyBytes),
    useDocumentSizeLimit(l.maxDocumentBytes),
    maxTokensPlugin({
      n: l.maxTokens,
      propagateOnRejection: false,
      // Parsing stops at the first token over the limit: the document is never built.
      onReject: [
        () => {
          throw limitError('TOO_MANY_TOKENS', l.maxTokens);
        },
      ],
    }),
    maxDepthPlugin({
      n: l.maxDepth,
      // Fragments group fields; they do not nest the data.
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reportAs('QUERY_TOO_DEEP', l.maxDepth)],
    }),
    maxAliasesPlugin({
      n: l.maxAliases,
      propagateOnRejection: false,
      onReject: [reportAs('TOO_MANY_ALIASES', l.maxAliases)],
    }),
    maxDirectivesPlugin({
      n: l.maxDirectives,
      propagateOnRejection: false,
      onReject: [reportAs('TOO_MANY_DIRECTIVES', l.maxDirectives)],
    }),
    useCostLimit(l.maxCost),
    useInputGate(),
  ];
  if (!config.introspection) plugins.push(useHiddenSuggestions());
  return plugins;
}

/** "Did you mean …?" in any of graphql-js's forms (fields, arguments, types, enum values). */
const SUGGESTION = /\s*Did you mean (?:the enum value )?"[^?]*"\?/g;

/** The error without its suggestions; itself when it has none. */
function withoutSuggestions(error: GraphQLError): GraphQLError {
  const message = error.message.replace(SUGGESTION, '');
  return message === error.message ? error : copyError(error, { message });
}

/**
 * Hides graphql-js's suggestions, which name fields, arguments and enum values of the
 * schema. graphql-armor's block-field-suggestions plugin covers validation only and not
 * the enum-value form; suggestions also come from variable coercion, at execution (and in
 * each result of a subscription).
 */
function useHiddenSuggestions(): Plugin {
  return {
    onValidate:
      () =>
      ({ valid, result, setResult }) => {
        if (!valid)
          setResult(result.map((e) => (e instanceof GraphQLError ? withoutSuggestions(e) : e)));
      },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) =>
        setResult(mapResultErrors(result, withoutSuggestions)),
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) =>
        setResult(mapResultErrors(result, withoutSuggestions)),
    }),
  };
}
