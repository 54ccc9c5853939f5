# syntax=docker/dockerfile:1
# The etcd-operator hook server: a stateless HTTP sync hook for Metacontroller.
#   docker build -t ghcr.io/etcd-operator/etcd-operator-hook:0.1.0 .
# Listens on $PORT (8080); LOG_LEVEL and ETCD_REQUEST_TIMEOUT_MS as in the README.

# Node 24 (LTS); the project supports Node 22 and 24.
ARG NODE_IMAGE=node:24-bookworm-slim
# Backup Jobs check snapshots with etcd's own etcdutl (hooks/runner): taken
# from the etcd image at build time, so the runner needs no shell. It
# follows the default version (3.6.14): etcdutl 3.6 `snapshot status` opens
# the bbolt file read-only and reads 3.4 and 3.5 snapshots as well (their
# meta bucket has no storage version: it reports none), while 3.5's cannot
# report the storage version of 3.6 and 3.7 snapshots
# (etcdutl/snapshot/v3_snapshot.go, server/storage/schema/version.go, v3.6.14).
ARG ETCD_IMAGE=quay.io/coreos/etcd:v3.6.14

FROM ${ETCD_IMAGE} AS etcd

# Compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY hooks ./hooks
RUN npm run build

# Production dependencies only, without lifecycle scripts of our own.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Runtime: dist/ and production node_modules, nothing else.
FROM ${NODE_IMAGE}
# Memory (README, "Performance"): a smaller young generation (15-25 MB less
# for a few percent of throughput) and two malloc arenas instead of one per
# thread (5 MB less). npm run bench runs its servers with these two.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    MALLOC_ARENA_MAX=2 \
    PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=etcd /usr/local/bin/etcdutl /usr/local/bin/etcdutl
# package.json says "type": "module": dist/*.js are ES modules.
COPY package.json ./
USER 65532:65532
EXPOSE 8080
# Not `npm start`: its prestart hook would try to compile, and npm would sit
# between the kubelet's SIGTERM and the server's graceful shutdown.
CMD ["node", "dist/server/main.js"]
