# syntax=docker/dockerfile:1
#
# cph-exporter image. Three stages:
#   build      npm ci (with dev dependencies) and tsc -> dist/
#   prod-deps  npm ci --omit=dev -> node_modules with production dependencies only
#   runtime    node + dist/ + production node_modules + package files; no sources, no npm
#
# Base: the official Node.js image, current LTS line (26, "lithium"), Debian 13 slim, pinned by
# full version. Pin the digest too (node:26.12.0-trixie-slim@sha256:...) once a registry bot keeps it fresh.
# Build: docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) -t cph-exporter:0.1.0 .
# Run:   docker run --read-only -p 9877:9877 -v $PWD/config.yml:/etc/cph-exporter/config.yml:ro cph-exporter:0.1.0

FROM node:26.12.0-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: tsc needs none, and they are the usual way a compromised package runs code.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:26.12.0-trixie-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

FROM node:26.12.0-trixie-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="cph-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Huawei Cloud CPH encode servers" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="docker.io/library/node:26.12.0-trixie-slim"
# CPH_EXPORTER_REVISION feeds cph_build_info{revision}.
ENV NODE_ENV=production \
    CPH_EXPORTER_REVISION=${REVISION} \
    CPH_HEALTHCHECK_URL=http://127.0.0.1:9877/healthz
# The exporter never runs a package manager: drop npm, npx, corepack and yarn with their own
# dependency trees (and CVEs). Nothing else is written, so the root file system can be read-only.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
# Owned by root and not writable by the runtime user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
# uid/gid 1000 is the image's "node" user; numeric so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9877
# No curl in the image: node itself probes /healthz. Set CPH_HEALTHCHECK_URL when the exporter listens
# elsewhere (--web.listen-address) or serves TLS (https://127.0.0.1:9877/healthz; this local liveness check
# does not verify the certificate). Kubernetes ignores HEALTHCHECK and uses the chart's probes.
# No --start-period: dockerfilelint 1.8.0 misreads that option (its /--\w+/ stops at the hyphen), and
# the first probe comes only after one interval anyway, long after the server listens.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["node", "-e", "const u = new URL(process.env.CPH_HEALTHCHECK_URL); require(u.protocol.slice(0, -1)).get(u, { rejectUnauthorized: false }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--config.file=/etc/cph-exporter/config.yml"]
