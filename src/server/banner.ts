import type { Config } from '../config/config.js';
import { graphiqlOff } from './graphiql.js';

/**
 * What `npm start` prints once the server listens: its URLs, each as it is in this mode.
 * GraphiQL and /metrics may be off (production mode turns both off by default): then the
 * line says so and names the setting, instead of a URL that would refuse the browser.
 */
export function startBanner(
  config: Pick<
    Config,
    | 'engine'
    | 'dataDir'
    | 'production'
    | 'databaseUrl'
    | 'graphiql'
    | 'introspection'
    | 'metricsToken'
    | 'authSecret'
  >,
  url: string,
  options: { devTokens: boolean },
): string {
  const engine = config.engine === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL';
  const mode = config.production
    ? `, in production mode (${config.databaseUrl ? 'DATABASE_URL is set' : 'NODE_ENV=production'})`
    : '';
  const lines = [`Strata is up (${engine})${mode}.`];
  if (config.graphiql) {
    lines.push(`  GraphiQL:  ${url}/graphql`);
    // In development mode the Headers tab carries the admin token (printed below).
    if (!options.devTokens)
      lines.push(
        config.authSecret
          ? '             put a token in its Headers tab: npm run -s token -- --role admin'
          : '             put a token from your identity provider in its Headers tab',
      );
    if (!config.introspection)
      lines.push('             its docs and completion need STRATA_INTROSPECTION=true');
  } else {
    lines.push(`  GraphQL:   ${url}/graphql`, `  GraphiQL:  ${graphiqlOff(config)}`);
  }
  lines.push(`  Health:    ${url}/health`);
  if (config.metricsToken) {
    lines.push(`  Metrics:   ${url}/metrics (Authorization: Bearer <STRATA_METRICS_TOKEN>)`);
  } else if (config.production) {
    lines.push('  Metrics:   off in production mode until STRATA_METRICS_TOKEN is set');
  } else {
    lines.push(`  Metrics:   ${url}/metrics`);
  }
  return `\n${lines.join('\n')}\n\n`;
}
