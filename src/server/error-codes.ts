import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { copyError, mapResultErrors, type Result } from './result-errors.js';

/*
 * Every GraphQL error a client gets carries `extensions.code`, and every HTTP error answer
 * has a JSON body of the same shape (docs/architecture.md, "GraphQL contract conventions").
 * Most errors are born with a code; graphql-js, graphql-tools and yoga leave some without
 * (a variable that does not coerce, a syntax error over graphql-ws, CSRF) and answer a few
 * HTTP errors with no body at all (404, 406, 415). This module gives them theirs.
 */

/** The code of an HTTP status the server answers without a GraphQL error of its own. */
const CODE_FOR_STATUS: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'REQUEST_ENTITY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  426: 'UPGRADE_REQUIRED',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/** The code for an HTTP status: its own where known, else by class. */
export function codeForStatus(status: number): string {
  return CODE_FOR_STATUS[status] ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
}

/**
 * A variable whose value does not coerce to its type, in graphql-js's and graphql-tools'
 * words: `Variable "$s" got invalid value …` (a wrong enum value or type, an unknown input
 * field), `… of required type "ID!" was not provided.`, `… must not be null.`, and the cap
 * on how many of those are reported.
 */
const VARIABLE_ERROR =
  /^(?:Variable "\$[_A-Za-z][_0-9A-Za-z]*" |Too many errors processing variables)/;

/** yoga's CSRF prevention (production mode) refuses without a code. */
const CSRF_ERROR = /^Required CSRF header/;

/** An error's code as the client should get it: its own, else what it is. */
function codeOf(error: GraphQLError): string {
  const own = error.extensions?.code;
  if (typeof own === 'string' && own !== '') return own;
  if (VARIABLE_ERROR.test(error.message)) return 'BAD_USER_INPUT';
  if (error.message.startsWith('Syntax Error:')) return 'GRAPHQL_PARSE_FAILED';
  if (CSRF_ERROR.test(error.message)) return 'CSRF_HEADER_REQUIRED';
  const status = (error.extensions?.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? codeForStatus(status) : 'INTERNAL_SERVER_ERROR';
}

/** The error itself when it has a code; else a copy with one (the original is left alone). */
export function withCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  if (typeof code === 'string' && code !== '') return error;
  return copyError(error, { extensions: { ...error.extensions, code: codeOf(error) } });
}

/** A result whose errors all have a code; streams are mapped as they are read. */
const coded = <R extends Result>(result: R): R => mapResultErrors(result, withCode);

/** The JSON text of an error answer: one GraphQL error with its code. */
export function errorBody(
  code: string,
  message: string,
  extensions: Record<string, unknown> = {},
): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] });
}

/** What an HTTP error answered without a body means, for the body it gets instead. */
function messageFor(status: number, request: Request, response: Response): string {
  switch (status) {
    case 404:
      return `Nothing at ${new URL(request.url, 'http://localhost').pathname}: GraphQL is at /graphql (also /health and /metrics)`;
    case 406: {
      const offered = response.headers.get('accept');
      return `None of the media types in Accept can carry this result${offered ? `: accept one of ${offered.replace(/; charset=utf-8/g, '')}` : ''}`;
    }
    case 415: {
      const type = request.headers.get('content-type');
      return `${type ? `Content-Type ${type.split(';')[0]} is not` : 'A request body without a Content-Type is not'} a GraphQL request: send application/json (or a GET with the query in the URL)`;
    }
    default:
      return response.statusText || `HTTP ${status}`;
  }
}

/**
 * The plugin, for yoga and for the graphql-ws server (which runs operations through the
 * same envelop). Over every transport: a syntax error is GRAPHQL_PARSE_FAILED, a variable
 * that does not coerce BAD_USER_INPUT (so the request log sees them too). Over HTTP and
 * SSE, every error of a result leaves with a code (ws.ts does the same for graphql-ws), and
 * an error status answered without a body gets a JSON one.
 */
export function useErrorCodes(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError) replaceParseResult(withCode(result));
      };
    },
    onExecute() {
      return { onExecuteDone: ({ result, setResult }) => setResult(coded(result)) };
    },
    onSubscribe() {
      return { onSubscribeResult: ({ result, setResult }) => setResult(coded(result)) };
    },
    onResultProcess({ result, setResult }) {
      setResult(Array.isArray(result) ? result.map((r) => coded(r)) : coded(result as Result));
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (response.status < 400 || response.headers.get('content-type') !== null) return;
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-type', 'application/json; charset=utf-8');
      headers.delete('content-length');
      const body = errorBody(
        codeForStatus(response.status),
        messageFor(response.status, request, response),
      );
      setResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : body, {
          status: response.status,
          statusText: response.statusText,
          headers,
        }),
      );
    },
  };
}
