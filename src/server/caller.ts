import {
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { decodeJwt } from 'jose';
import type { Principal } from '../auth/principal.js';
import { AuthError, bearerToken, type TokenService } from '../auth/tokens.js';

/*
 * Who calls, over HTTP and SSE (graphql-ws checks its token at connection_init, ws.ts).
 * One rule for a missing and a bad token (README, "Tokens"): an operation that needs a
 * caller is refused whole with 401, `WWW-Authenticate: Bearer` and a JSON body whose
 * error is UNAUTHENTICATED (TOKEN_EXPIRED for an expired token), before anything runs.
 * What needs no caller stays public: the root query fields marked `public` in the schema
 * (`serverInfo`), `__typename`, and introspection where it is on.
 */

/** What {@link useCaller} leaves on yoga's initial context for the context factory. */
export interface Caller {
  /** Null for a request without a token. */
  principal: Principal | null;
  /** The token's `exp`, in ms since the epoch. */
  tokenExpiresAt?: number;
}

const WWW_AUTHENTICATE = { 'WWW-Authenticate': 'Bearer' };

function unauthenticated(message: string, code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED') {
  return new GraphQLError(message, {
    extensions: { code, http: { status: 401, headers: WWW_AUTHENTICATE } },
  });
}

/** The refusal of an operation that needs a caller and came without a token. */
export function authenticationRequired(): GraphQLError {
  return unauthenticated(
    'Authentication required: send "Authorization: Bearer <token>" (only serverInfo is public)',
    'UNAUTHENTICATED',
  );
}

/** The caller of an `Authorization` header; throws AuthError for one that is not valid. */
async function callerOf(tokens: TokenService, header: string | null): Promise<Caller> {
  const token = bearerToken(header);
  if (token === undefined) return { principal: null };
  const principal = await tokens.verify(token);
  const exp = decodeJwt(token).exp;
  return typeof exp === 'number' ? { principal, tokenExpiresAt: exp * 1000 } : { principal };
}

/** The root fields an operation would run, @skip and @include applied. */
function rootFields(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): string[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const included = (node: Parameters<typeof getDirectiveValues>[1]) =>
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
  const names: string[] = [];
  const spread = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) names.push(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet);
      else if (!spread.has(sel.name.value)) {
        spread.add(sel.name.value);
        const f = fragments.get(sel.name.value);
        if (f) walk(f.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return names;
}

/**
 * Whether an operation may run without a caller: a query of public root fields only. One
 * whose variables do not coerce is not (without a caller it is refused as such, before
 * what is wrong with it is said).
 */
export function isPublicOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): boolean {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'query') return false;
  const values = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (values.errors) return false;
  const fields = schema.getQueryType()?.getFields() ?? {};
  try {
    return rootFields(document, operation, values.coerced).every(
      (name) => name.startsWith('__') || fields[name]?.extensions.public === true,
    );
  } catch {
    // A directive argument that does not resolve: execution refuses it anyway.
    return false;
  }
}

/** On the context of a request whose token was refused: the refusal, answered at execution. */
const REFUSED = Symbol('refused token');

/**
 * Resolves the caller of each HTTP request once, before its document is parsed, so that
 * the request log names the caller of a request that fails validation. A bad token, like
 * a missing one, is answered where execution would start (after the document is parsed
 * and validated, as before any operation runs): the operation is refused whole, and the
 * log still names it. Goes first among the plugins that act before execution: an
 * operation refused here spends no rate-limit points.
 */
export function useCaller(tokens: TokenService): Plugin {
  const refusal = (args: RunArgs): GraphQLError | undefined => {
    const context = args.contextValue as Partial<Caller> & { [REFUSED]?: GraphQLError };
    if (context[REFUSED]) return context[REFUSED];
    if (context.principal) return undefined;
    return isPublicOperation(args.schema, args.document, args.operationName, args.variableValues)
      ? undefined
      : authenticationRequired();
  };
  return {
    async onParams({ request, context }) {
      try {
        Object.assign(context, await callerOf(tokens, request.headers.get('authorization')));
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        Object.assign(context, {
          principal: null,
          [REFUSED]: unauthenticated(
            err.message,
            err.reason === 'expired' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED',
          ),
        });
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}

interface RunArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  contextValue: unknown;
}
