import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  getOperationAST,
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type execute,
  type subscribe,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { maskError, type YogaServerInstance } from 'graphql-yoga';
import { decodeJwt } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import { AuthError, bearerToken, wsCloseCodeFor, type TokenService } from '../auth/tokens.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { WebSocketInitialContext } from './yoga.js';
import type { Logger } from '../observability/logger.js';
import { codeForStatus, errorBody, withCode } from './error-codes.js';

export interface WebSocketOptions {
  path?: string;
  /**
   * Largest message a client may send. `ws` enforces it while reading the frame, before
   * the message is assembled, and closes with 1009 (Message Too Big, RFC 6455).
   */
  maxPayloadBytes?: number;
  /** Time a client has to send connection_init; then graphql-ws closes with 4408. */
  connectionInitTimeoutMs?: number;
  /**
   * Period of WebSocket pings; a peer that has not answered one by the next is
   * terminated, so dead connections do not hold subscriptions.
   */
  keepAliveMs?: number;
}

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Extra {
  principal?: Principal;
  expiry?: NodeJS.Timeout;
  /** Ids of this socket's queries and mutations that run or whose answer is being sent. */
  answering: Set<string>;
}

/** What yoga answers an unexpected error with over HTTP; the detail goes to the log only. */
const UNEXPECTED = 'Unexpected error.';

/**
 * The error of an operation refused while the server shuts down: nothing of it ran, and it
 * is safe to send again (with the same command id) once reconnected to a running server.
 */
export function shuttingDownError(): GraphQLError {
  return new GraphQLError(
    'The server is shutting down: nothing was executed. Reconnect and send it again.',
    { extensions: { code: 'SHUTTING_DOWN' } },
  );
}

/** The graphql-ws server, as the app and its shutdown see it. */
export interface WebSocketServerHandle {
  /** Open sockets. */
  clients(): number;
  /** Sockets that passed connection_init (their principal is known) and have not closed. */
  sessions(): number;
  /** Queries and mutations that run, or whose answer is being sent. */
  inFlight(): number;
  /**
   * From now on queries, mutations and new subscriptions on the open sockets are answered
   * with `SHUTTING_DOWN`; resolves once every operation already running has been answered,
   * or at `deadline` (ms since epoch); true if none was left. Subscriptions already open
   * go on until `close`.
   */
  drain(deadline: number): Promise<boolean>;
  /** Closes every socket with 1001 "resume from your last cursor". */
  close(): Promise<void>;
}

/**
 * graphql-ws on the HTTP server's `/graphql` path. The token comes in
 * `connectionParams.authorization` ("Bearer …"); a missing or invalid one closes the socket
 * with 4401, and when the token expires while the socket is open it is closed with 4403
 * so the client refreshes its token and resumes from its last cursor.
 */
export function attachWebSocketServer(
  server: Server,
  yoga: YogaServerInstance<Record<string, never>, GraphQLContext>,
  tokens: TokenService,
  logger: Logger,
  options: WebSocketOptions = {},
): WebSocketServerHandle {
  const path = options.path ?? '/graphql';
  // The upgrade is routed here rather than by `ws` (its `server` and `path` options), so a
  // refused handshake is answered like any HTTP error: a JSON body with a code.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes ?? 64 * 1024,
  });
  let closing = false;
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (pathname !== path)
      refuseHandshake(
        socket,
        404,
        `No WebSocket endpoint at ${pathname}: GraphQL over WebSocket is at ${path}`,
      );
    else if (closing)
      refuseHandshake(
        socket,
        503,
        'The server is shutting down: reconnect and resume from your last cursor',
        {
          code: 'SHUTTING_DOWN',
        },
      );
    else wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);
  // A malformed handshake (method, Upgrade, Sec-WebSocket-* headers): `ws` hands it here
  // instead of answering it in text/html.
  wss.on('wsClientError', (err: Error, socket: Duplex) => {
    const method = err.message === 'Invalid HTTP method';
    refuseHandshake(socket, method ? 405 : 400, err.message, {
      headers: method
        ? { Allow: 'GET' }
        : /Sec-WebSocket-Version/.test(err.message)
          ? { 'Sec-WebSocket-Version': '13, 8' }
          : {},
    });
  });
  /** Entries live from an accepted connection_init to the socket's close. */
  const extras = new Map<WebSocket, Extra>();

  // Operations being answered, across sockets, for a shutdown to wait for.
  let draining = false;
  let answering = 0;
  let idle: (() => void)[] = [];
  const begin = (socket: WebSocket, id: string) => {
    const ids = extras.get(socket)?.answering;
    if (!ids || ids.has(id)) return;
    ids.add(id);
    answering++;
  };
  const answered = (n: number) => {
    answering -= n;
    if (answering > 0 || idle.length === 0) return;
    const waiters = idle;
    idle = [];
    for (const f of waiters) f();
  };

  /**
   * What a client may see of an error: a GraphQL error as it is; anything else (a bug, a
   * failing hook) logged with its detail and masked as yoga masks it over HTTP.
   */
  const answerable = (err: unknown): GraphQLError => {
    if (isOwn(err)) return err;
    logger.error(
      { err: err instanceof GraphQLError ? err.originalError : err },
      'graphql-ws operation failed',
    );
    return maskError(err, UNEXPECTED, false) as GraphQLError;
  };
  /** An error as sent: masked if unexpected, and without `extensions.http`, which only HTTP reads. */
  const formatted = (err: GraphQLError): GraphQLFormattedError => {
    const json = withCode(answerable(err)).toJSON();
    if (!json.extensions || !('http' in json.extensions)) return json;
    const { http: _http, ...extensions } = json.extensions;
    return Object.keys(extensions).length ? { ...json, extensions } : withoutExtensions(json);
  };

  const disposable = useServer<Record<string, unknown> | undefined, { state?: Extra }>(
    {
      // graphql-ws would judge by NODE_ENV alone and put an error's message in the close
      // reason; Strata's production mode has more switches. Errors are answered (masked)
      // before they reach it, so this only guards what slips through.
      isProd: true,
      connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? 5_000,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        try {
          const token = bearerToken(typeof header === 'string' ? header : undefined);
          if (token === undefined) throw new AuthError('missing');
          const principal = await tokens.verify(token);
          // Closed while the token was checked: onClose has run already, so nothing armed
          // now would ever be released (the expiry timer would hold the socket for days).
          if (socket.readyState !== socket.OPEN) return false;
          const exp = decodeJwt(token).exp;
          const state: Extra = { principal, answering: new Set() };
          if (exp) {
            // A timer holds at most 2^31-1 ms (~24.8 days; longer fires at once): a
            // longer-lived token (the 30-day development ones) re-arms on the way.
            const arm = () => {
              const ms = exp * 1000 - Date.now();
              state.expiry = setTimeout(
                () =>
                  ms > MAX_TIMER_MS
                    ? arm()
                    : socket.close(
                        4403,
                        'Token expired: refresh it and resume from your last cursor',
                      ),
                Math.min(Math.max(0, ms), MAX_TIMER_MS),
              );
              state.expiry.unref();
            };
            arm();
          }
          extras.set(socket, state);
          return true;
        } catch (err) {
          if (err instanceof AuthError) {
            socket.close(wsCloseCodeFor(err), err.message);
            return false;
          }
          logger.error({ err }, 'websocket authentication failed');
          socket.close(CloseCode.InternalServerError, 'Internal server error');
          return false;
        }
      },
      onClose: (ctx) => {
        const state = extras.get(ctx.extra.socket);
        clearTimeout(state?.expiry);
        extras.delete(ctx.extra.socket);
        // Whatever it was answering can no longer be sent.
        if (state) answered(state.answering.size);
      },
      execute: (args: ExecutionArgs) => (args.rootValue as Operation).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as Operation).subscribe(args),
      onSubscribe: async (ctx, id, params) => {
        const socket = ctx.extra.socket;
        try {
          const state = extras.get(socket);
          const websocket: WebSocketInitialContext['websocket'] = {
            principal: state!.principal!,
            correlationId: randomUUID(),
            socket,
          };
          const enveloped = yoga.getEnveloped({ websocket, params } as never);
          // A syntax error or a limit (size, tokens) is thrown: caught below, it answers
          // this operation and the socket stays.
          const document: DocumentNode = enveloped.parse(params.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length) return errors;
          // As yoga answers over HTTP (graphql-ws would say so without a code).
          if (!getOperationAST(document, params.operationName))
            return [
              new GraphQLError('Could not determine what operation to execute.', {
                extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
              }),
            ];
          // Checked where execution starts, not here: no operation may slip in between a
          // check and the start of a drain.
          const operation: Operation = {
            execute: async (args) => {
              // Counted until graphql-ws has sent its answer (onComplete), refusal included.
              begin(socket, id);
              if (draining) return { errors: [shuttingDownError()] };
              try {
                return await enveloped.execute(args);
              } catch (err) {
                return { errors: [answerable(err)] };
              }
            },
            subscribe: async (args) => {
              if (draining) {
                begin(socket, id);
                return { errors: [shuttingDownError()] };
              }
              try {
                return await enveloped.subscribe(args);
              } catch (err) {
                return { errors: [answerable(err)] };
              }
            },
          };
          const args = {
            schema: enveloped.schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue: operation,
          };
          return args as ExecutionArgs;
        } catch (err) {
          return [answerable(err)];
        }
      },
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors?.length ? { ...result, errors: result.errors.map(formatted) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map(formatted),
      onComplete: (ctx, id) => {
        if (extras.get(ctx.extra.socket)?.answering.delete(id)) answered(1);
      },
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );
  // Registered after useServer's, so this runs once graphql-ws has set up the socket. Its
  // error handler writes to the console and closes with 4500; but a client's protocol
  // error (a message over maxPayload, a bad frame) has already been answered by `ws` with
  // its close code (1009, 1002, 1007) and is no fault of the server: log it, quietly.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code?.startsWith('WS_ERR_')) {
        logger.info(
          { err: err.message, code: err.code },
          'websocket closed: client protocol error',
        );
        return;
      }
      logger.error({ err }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
  });

  return {
    clients: () => wss.clients.size,
    sessions: () => extras.size,
    inFlight: () => answering,
    drain(deadline) {
      draining = true;
      if (answering === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => resolve(answering === 0),
          Math.max(0, deadline - Date.now()),
        );
        timer.unref();
        idle.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    async close() {
      closing = true;
      for (const socket of wss.clients)
        socket.close(1001, 'Server shutting down; resume from your last cursor');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** One operation's way to run, handed to graphql-ws as its root value. */
interface Operation {
  execute: (args: ExecutionArgs) => Promise<Awaited<ReturnType<typeof execute>>>;
  subscribe: (args: ExecutionArgs) => Promise<Awaited<ReturnType<typeof subscribe>>>;
}

/** Not an unexpected error in disguise: caused by GraphQL errors only (yoga's test). */
function isOwn(err: unknown): err is GraphQLError {
  return err instanceof GraphQLError && (err.originalError == null || isOwn(err.originalError));
}

function withoutExtensions({
  extensions: _e,
  ...rest
}: GraphQLFormattedError): GraphQLFormattedError {
  return rest;
}

/** Answers a WebSocket handshake it will not accept, as HTTP errors are answered. */
function refuseHandshake(
  socket: Duplex,
  status: number,
  message: string,
  o: { code?: string; headers?: Record<string, string> } = {},
): void {
  const body = errorBody(o.code ?? codeForStatus(status), message);
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...o.headers,
  };
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n${body}`,
  );
}
