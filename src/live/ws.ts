import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type execute,
  type subscribe,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { decodeJwt } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import { AuthError, bearerToken, wsCloseCodeFor, type TokenService } from '../auth/tokens.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { WebSocketInitialContext } from '../graphql/server.js';
import type { Logger } from '../observability/logger.js';

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
): { close(): Promise<void>; clients(): number } {
  const wss = new WebSocketServer({
    server,
    path: options.path ?? '/graphql',
    maxPayload: options.maxPayloadBytes ?? 64 * 1024,
  });
  const extras = new WeakMap<WebSocket, Extra>();

  const disposable = useServer<Record<string, unknown> | undefined, { state?: Extra }>(
    {
      connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? 5_000,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        try {
          const token = bearerToken(typeof header === 'string' ? header : undefined);
          if (token === undefined) throw new AuthError('missing');
          const principal = await tokens.verify(token);
          const exp = decodeJwt(token).exp;
          const state: Extra = { principal };
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
      },
      execute: (args: ExecutionArgs) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as Enveloped).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const state = extras.get(ctx.extra.socket);
        const websocket: WebSocketInitialContext['websocket'] = {
          principal: state!.principal!,
          correlationId: randomUUID(),
          socket: ctx.extra.socket,
        };
        const enveloped = yoga.getEnveloped({ websocket, params } as never);
        let document: DocumentNode;
        try {
          document = enveloped.parse(params.query);
        } catch (err) {
          // A syntax error or a limit (size, tokens) answers this operation; the socket stays.
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return errors;
        const args = {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
        return args as ExecutionArgs;
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
    async close() {
      for (const socket of wss.clients)
        socket.close(1001, 'Server shutting down; resume from your last cursor');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

interface Enveloped {
  execute: (args: ExecutionArgs) => ReturnType<typeof execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof subscribe>;
}
