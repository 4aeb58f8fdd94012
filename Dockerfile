# syntax=docker/dockerfile:1
# multus-ts thick image, multi-architecture:
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/multus-ts:0.1.0 --push .
# The TypeScript build is architecture-independent and runs once on the build platform; the
# static C shim is cross-compiled for each target architecture; the runtime stage is the target's
# own node:26 image (the project's one Node.js line: package.json `engines`).

FROM --platform=$BUILDPLATFORM node:26-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# What the image ships (src/image-app.sh): package.json, the daemon and its threads bundled
# (dependencies inside), the kube worker's and the thin plugin's bundles, and piscina.
RUN npm run build:ts && npm run build:bundles && sh src/image-app.sh /app

FROM --platform=$BUILDPLATFORM debian:bookworm AS shim
ARG TARGETARCH
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) triplet=x86-64-linux-gnu ;; \
      arm64) triplet=aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    apt-get update; \
    apt-get install -y --no-install-recommends "gcc-$triplet" "libc6-dev-$TARGETARCH-cross"; \
    rm -rf /var/lib/apt/lists/*; \
    ln -s "/usr/bin/$(echo "$triplet" | sed 's/x86-64/x86_64/')-gcc" /usr/local/bin/target-gcc
WORKDIR /src
COPY package.json ./
COPY src/shim ./src/shim
RUN CC=target-gcc sh src/shim/build.sh /out/multus-shim \
    && CC=target-gcc sh src/shim/build.sh /out/passthru src/shim/passthru.c \
    && CC=target-gcc sh src/shim/build.sh /out/multus-spawner src/shim/spawner.c

FROM node:26-bookworm-slim
# iproute2 and util-linux (nsenter) for default-route changes when chrootDir is not used;
# coreutils' chroot for delegates run in the host's root (chrootDir).
# apt's package caches go too (the official base is set not to keep them; a stand-in base may not be).
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
WORKDIR /usr/src/multus-ts
COPY --from=build /app ./
COPY --from=shim /out/multus-shim ./dist/bin/multus-shim
COPY --from=shim /out/passthru ./dist/bin/passthru
COPY --from=shim /out/multus-spawner ./dist/bin/multus-spawner
# Upstream's image layout, so upstream's manifests run with this image unchanged: the thick
# DaemonSet's /usr/src/multus-cni/bin/multus-daemon and install_multus (or a plain `cp` of
# multus-shim), the thin one's /thin_entrypoint and /install_multus.
RUN set -eu; \
    mkdir -p /usr/src/multus-cni/bin; \
    for tool in multus-daemon:'' install_multus:install thin_entrypoint:thin; do \
      name=${tool%%:*}; sub=${tool#*:}; \
      printf '#!/bin/sh\nexec node /usr/src/multus-ts/dist/supervisor/main.js %s "$@"\n' "$sub" > "/usr/src/multus-cni/bin/$name"; \
      chmod 0755 "/usr/src/multus-cni/bin/$name"; \
    done; \
    ln -s /usr/src/multus-cni/bin/install_multus /install_multus; \
    ln -s /usr/src/multus-cni/bin/thin_entrypoint /thin_entrypoint; \
    ln -s /usr/src/multus-ts/dist/bin/multus-shim /usr/src/multus-cni/bin/multus-shim; \
    ln -s /usr/src/multus-ts/dist/bin/passthru /usr/src/multus-cni/bin/passthru
ENV NODE_ENV=production
# The daemon's module compile cache (src/util/compile-cache.ts: /usr/src/multus-ts/compile-cache,
# root's, mode 0700), filled here for the modules every start of the image loads.
RUN node /usr/src/multus-ts/dist/supervisor/main.js -version
ENTRYPOINT ["node", "/usr/src/multus-ts/dist/supervisor/main.js"]
CMD ["-config", "/etc/cni/net.d/multus.d/daemon-config.json"]
