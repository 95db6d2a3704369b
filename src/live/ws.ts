import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { ExecutionArgs, execute, subscribe } from 'graphql';
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
  /** Largest message a client may send. */
  maxPayloadBytes?: number;
  /** Time a client has to send connection_init. */
  connectionInitTimeoutMs?: number;
  keepAliveMs?: number;
}

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
            const ms = exp * 1000 - Date.now();
            state.expiry = setTimeout(
              () =>
                socket.close(4403, 'Token expired: refresh it and resume from your last cursor'),
              Math.max(0, ms),
            );
            state.expiry.unref();
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
        const args = {
          schema: enveloped.schema,
          operationName: params.operationName,
          document: enveloped.parse(params.query),
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
        const errors = enveloped.validate(args.schema, args.document);
        if (errors.length) return errors;
        return args as ExecutionArgs;
      },
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );

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
