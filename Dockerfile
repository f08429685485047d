# syntax=docker/dockerfile:1
#
# scorestream container image: a build stage compiles TypeScript to dist/, a runtime stage
# installs only the production dependencies and runs dist/ as a non-root user.
#
#   docker build -t scorestream .
#   docker run --rm -e KAFKA_BROKERS=broker:9092 -e REDIS_URL=redis://redis:6379 -p 9464:9464 scorestream
#
# NOT BUILT HERE: the machines this project is developed and tested on have no Docker engine.
# test/ops/production-install.test.ts runs this file's stages instead: it reads this Dockerfile
# and performs its WORKDIR/COPY/RUN/ENV steps in temporary directories (a clean copy of the
# repository as build context), then starts the engine from the runtime stage's files and
# runs `scorestream --help`. What that test cannot check: the base image itself, the USER and
# HEALTHCHECK instructions, and image size.
#
# glibc base (Debian slim), not Alpine: onnxruntime-node ships glibc binaries only.
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: all dependencies, tsc → dist/ -------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc skips onnxruntime-node's CUDA download (the CPU binaries ship in the package).
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build

# --- runtime: production dependencies, dist/, the model ------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No dev dependencies (tsx, typescript, vega): nothing at run time needs them. The cache mount
# keeps npm's cache out of the layer. onnxruntime-node carries macOS and Windows binaries too;
# only Linux's are loaded.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY models ./models
# Inside a container the metrics/health server must listen on all interfaces (the default,
# 127.0.0.1, is unreachable from the kubelet and Prometheus). The image's default is the
# embedded demo (no KAFKA_BROKERS); set KAFKA_BROKERS and REDIS_URL to consume Kafka.
ENV NODE_ENV=production \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464 \
    PATH=/app/bin:$PATH
# The `node` user (uid 1000) comes with the official Node images; it owns nothing in /app,
# so the code and model are read-only to the process.
USER node
EXPOSE 9464
# Liveness: /healthz answers 200 while the event loop is not blocked. Node's fetch: no curl
# in a slim image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, which drains in-flight events (up to
# SHUTDOWN_TIMEOUT_MS) and commits before exiting. Node installs handlers for SIGTERM/SIGINT,
# so PID 1's default-ignore does not apply; `docker run --init` (tini) is still worthwhile to
# reap zombies, and the orchestrator's grace period must exceed SHUTDOWN_TIMEOUT_MS
# (docker stop -t 20; Kubernetes terminationGracePeriodSeconds, set by the Helm chart).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
