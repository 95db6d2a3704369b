# The Strata server, for docker-compose.yml (PostgreSQL + app). Two stages: the first
# compiles src/ to dist/ with the dev dependencies (TypeScript); the image itself holds
# the production dependencies and dist/ only, and runs it with plain node (no tsx).
# Checked without Docker by test/server/image.test.ts; with Docker, see the README.
FROM node:24-slim AS build

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM node:24-slim

WORKDIR /app
ENV NODE_ENV=production \
    PORT=4000
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The CLIs' npm scripts (`npm run -s token`, `npm run seed`, …) first run
# `scripts/build.mjs --if-src`, which does nothing here: there is no src/ to build.
COPY scripts/build.mjs ./scripts/
COPY --from=build /app/dist ./dist
# The embedded engine's default data folder, writable by the unprivileged user (unused
# with DATABASE_URL, which compose sets).
RUN mkdir -p /app/.strata && chown node:node /app/.strata

USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1 (not npm), so SIGTERM from `docker stop` reaches the server's
# graceful shutdown.
CMD ["node", "dist/main.js"]
