/**
 * The direction rule of docs/architecture.md ("Layers and the direction rule"), checked by
 * `npm run lint`: entry points → server → admin and features → GraphQL kernel →
 * infrastructure → shared. Type-only imports count like any other.
 */
const INFRA = '^src/(db|eventstore|commands|projections|live|shared|config|auth|observability)/';
const FEATURES = '^src/(catalog|customers|orders|fulfillment)/';
const ENTRY = '^src/(main\\.ts|cli/|demo/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles, type imports included: a circle has no layer to live in.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'infrastructure-stays-below',
      severity: 'error',
      comment:
        'Infrastructure imports no feature and nothing of the GraphQL layer, admin API, server or entry points.',
      from: { path: INFRA },
      to: { path: `${FEATURES.slice(0, -1)}|^src/(graphql|admin|server|cli|demo)/|^src/main\\.ts` },
    },
    {
      name: 'shared-is-pure',
      severity: 'error',
      comment: 'shared/ holds pure helpers: it imports nothing else of Strata.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'graphql-kernel-below-features',
      severity: 'error',
      comment:
        'The GraphQL kernel is what features build on: it imports no feature, admin or server.',
      from: { path: '^src/graphql/' },
      to: { path: `${FEATURES.slice(0, -1)}|^src/(admin|server|cli|demo)/|^src/main\\.ts` },
    },
    {
      name: 'features-below-server',
      severity: 'error',
      comment: 'Features and the admin API never import the server or an entry point.',
      from: { path: `${FEATURES.slice(0, -1)}|^src/admin/` },
      to: { path: `^src/(server|cli|demo)/|^src/main\\.ts` },
    },
    {
      name: 'admin-is-not-a-feature',
      severity: 'error',
      comment: 'Features do not import the admin API.',
      from: { path: FEATURES },
      to: { path: '^src/admin/' },
    },
    {
      name: 'features-through-public-surface',
      severity: 'error',
      comment:
        'A feature reaches another only through its public surface: index.ts (domain API), events.ts and timeline.ts (its published events and how they read) or graphql.ts (its GraphQL types, to link to or extend).',
      from: { path: '^src/(catalog|customers|orders|fulfillment)/' },
      to: {
        path: '^src/(catalog|customers|orders|fulfillment)/',
        pathNot: ['^src/$1/', '^src/[a-z]+/(index|events|graphql|timeline)\\.ts$'],
      },
    },
    {
      name: 'feature-order',
      severity: 'error',
      comment:
        'Features depend downwards only: catalog and customers, then orders, then fulfillment (events.ts excepted: a published vocabulary).',
      from: { path: '^src/(catalog|customers)/' },
      to: { path: '^src/(orders|fulfillment)/', pathNot: '^src/[a-z]+/events\\.ts$' },
    },
    {
      name: 'orders-below-fulfillment',
      severity: 'error',
      comment:
        'Orders may read fulfillment events and how they read on a timeline (an order timeline shows them), not its workflow.',
      from: { path: '^src/orders/' },
      to: { path: '^src/fulfillment/', pathNot: '^src/fulfillment/(events|timeline)\\.ts$' },
    },
    {
      name: 'entry-points-only-at-the-top',
      severity: 'error',
      comment: 'Nothing imports an entry point.',
      from: { pathNot: ENTRY },
      to: { path: ENTRY },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
