# The Strata server, for docker-compose.yml (PostgreSQL + app). TypeScript runs through
# tsx, as `npm start` does; tsx is a runtime dependency, so dev dependencies stay out.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    PORT=4000
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
# The embedded engine's default data folder, writable by the unprivileged user (unused
# with DATABASE_URL, which compose sets).
RUN mkdir -p /app/.strata && chown node:node /app/.strata

USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1 (not npm), so SIGTERM from `docker stop` reaches the server's
# graceful shutdown.
CMD ["node", "--import", "tsx", "src/main.ts"]
