import { builder } from './builder.js';

/** About the running server; handy as a first query in GraphiQL. */
interface ServerInfo {
  version: string;
  engine: string;
}

const ServerInfoRef = builder.objectRef<ServerInfo>('ServerInfo').implement({
  description: 'The Strata server answering this request',
  fields: (t) => ({
    version: t.exposeString('version'),
    engine: t.exposeString('engine', { description: '`postgres` or `pglite` (embedded)' }),
  }),
});

builder.queryField('serverInfo', (t) =>
  t.field({
    type: ServerInfoRef,
    // Answered without a token (src/server/caller.ts): a client can check it reached Strata
    // before it has a token. Every other root field needs a caller.
    extensions: { public: true },
    resolve: (_root, _args, ctx) => ({ version: '0.1.0', engine: ctx.db.engine }),
  }),
);
