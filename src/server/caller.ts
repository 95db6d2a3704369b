import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { decodeJwt } from 'jose';
import type { Principal } from '../auth/principal.js';
import { AuthError, bearerToken, type TokenService } from '../auth/tokens.js';
import { rootFieldCounts } from './root-fields.js';

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
  return [...rootFieldCounts(document, operation, values.coerced).keys()].every(
    (name) => name.startsWith('__') || fields[name]?.extensions.public === true,
  );
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
