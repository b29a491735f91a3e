# One image recipe for every service: SERVICE names its workspace folder under
# services/. Build from the repository root (npm needs the root lockfile and
# the shared packages), for example:
#   docker build --build-arg SERVICE=bank-service \
#     --build-arg READY_PORT_VARIABLE=BANK_OPS_PORT --build-arg READY_PORT=9101 \
#     -t e-wallet/bank-service .
# docker-compose.yml passes these arguments for each service (x-build-args),
# and `npm test` checks them against each service's config schema.
# scripts/replay-docker-build.mjs replays these steps natively in `npm test`,
# so keep RUN lines to portable shell with paths relative to WORKDIR.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- workspace-manifests: every workspace's package.json (the root's `workspaces`
# list), picked out of the sources. A new workspace needs no edit here, and as
# the copy below is cached by content, a source change does not re-run `npm ci`.
FROM ${NODE_IMAGE} AS workspace-manifests
WORKDIR /src
COPY package.json ./
COPY packages packages
COPY services services
# apps/web: its sources are in the context too; only the web stage below reads them.
COPY apps apps
RUN ["node", "-e", "const fs = require('fs'), path = require('path'); for (const w of require('./package.json').workspaces) { fs.mkdirSync(path.join('../manifests', w), { recursive: true }); fs.copyFileSync(path.join(w, 'package.json'), path.join('../manifests', w, 'package.json')); }"]

# --- manifests: everything npm needs to resolve the workspace, nothing else
FROM ${NODE_IMAGE} AS manifests
# Pinned npm, the same as on developer machines and CI, so the lockfile is read
# (and workspace filtering behaves) the same way everywhere.
ARG NPM_VERSION=11.19.1
RUN npm install --global --no-audit --no-fund npm@${NPM_VERSION}
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=workspace-manifests /manifests ./

# --- web: the browser app (apps/web: Vite + Preact), built once and shared by every image build;
# only the api-gateway's image carries its dist/ (it serves /app and /console from it).
FROM manifests AS web
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund --include-workspace-root --workspace apps/web
COPY apps/web apps/web
RUN npm run build --workspace apps/web

# --- workspace: the one service this image is for (stages above are shared by all)
FROM manifests AS workspace
ARG SERVICE
ARG READY_PORT_VARIABLE
ARG READY_PORT
# Fail at once, with the fix, rather than half-build an unnamed or unknown workspace
# or ship an image whose HEALTHCHECK cannot find its port.
RUN if [ -z "$SERVICE" ] || [ ! -f "services/$SERVICE/package.json" ]; then \
      echo "build with --build-arg SERVICE=<a workspace folder under services/>, got '$SERVICE'" >&2; exit 1; \
    fi \
    && if [ -z "$READY_PORT_VARIABLE" ] || [ -z "$READY_PORT" ]; then \
      echo "build with --build-arg READY_PORT_VARIABLE=<variable of the readiness port> --build-arg READY_PORT=<its default>" >&2; exit 1; \
    fi

# --- build: this workspace, its local packages and the root's code generators
FROM workspace AS build
ARG SERVICE
# Install scripts off: code generation runs explicitly below and nothing we
# compile needs a dependency's install script.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund --include-workspace-root --workspace "services/$SERVICE"
COPY tsconfig.base.json ./
COPY scripts/generate.mjs scripts/
COPY services/common services/common
COPY packages/contracts packages/contracts
COPY packages/platform packages/platform
COPY services/${SERVICE} services/${SERVICE}
COPY --from=web /app/apps/web/dist web-dist
# What the runtime needs of the service, gathered in one folder: the build and,
# for services with PostgreSQL, their SQL migrations; for the api-gateway, the
# web app it serves (image-apps/ stays empty for every other service).
RUN node scripts/generate.mjs && npx tsc -b "services/$SERVICE" \
    && mkdir -p "image/$SERVICE" image-apps \
    && if [ "$SERVICE" = "api-gateway" ]; then mkdir -p image-apps/web && cp -R web-dist image-apps/web/dist; fi \
    && cp -R "services/$SERVICE/dist" "image/$SERVICE/dist" \
    && rm -f "image/$SERVICE/dist/.tsbuildinfo" \
    && if [ -d "services/$SERVICE/migrations" ]; then cp -R "services/$SERVICE/migrations" "image/$SERVICE/migrations"; fi

# --- production dependencies only, in a clean tree
FROM workspace AS prod-deps
ARG SERVICE
# npm treats every workspace as a production dependency of the root, so a
# dev-only workspace (testkit) and its dependencies would survive --omit=dev;
# dropping this service's devDependencies first keeps its production closure
# only. Dropping its own optionalDependencies keeps embedded engines out (chDB:
# the analytics image talks to a ClickHouse server) while the optional
# platform binaries of its dependencies stay (@node-rs/argon2's native build:
# --omit=optional would drop those too, and the identity service could not start).
RUN --mount=type=cache,target=/root/.npm \
    npm pkg delete devDependencies optionalDependencies --workspace "services/$SERVICE" \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "services/$SERVICE"

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# The variable holding the port that answers GET /readyz, and its default.
ARG READY_PORT_VARIABLE
ARG READY_PORT
ENV NODE_ENV=production \
    WALLET_SERVICE=${SERVICE} \
    WALLET_READY_PORT_VARIABLE=${READY_PORT_VARIABLE} \
    WALLET_READY_PORT=${READY_PORT}
WORKDIR /app
COPY --from=prod-deps /app ./
COPY services/common services/common
COPY --from=build /app/packages/contracts/dist packages/contracts/dist
COPY --from=build /app/packages/platform/dist packages/platform/dist
COPY --from=build /app/image/${SERVICE} services/${SERVICE}
# apps/web/dist in the api-gateway's image (services/api-gateway/src/plugins/web-app.ts looks there); empty elsewhere.
COPY --from=build /app/image-apps apps
# The service's own folder, so the entry point is the same path in every image.
WORKDIR /app/services/${SERVICE}
USER node
# Ready = the service's own readiness (database migrated, brokers and peers reachable).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const e=process.env,p=e[e.WALLET_READY_PORT_VARIABLE]||e.WALLET_READY_PORT;fetch('http://127.0.0.1:'+p+'/readyz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
