# One image per service: its static release binary as /service in an empty
# filesystem, run as a non-root user. BIN picks the service, PORT what it
# EXPOSEs (ingress: 8080).
#
#   docker build --build-arg BIN=name -t name .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BIN=name .
#   docker build --target prebuilt --build-arg BIN=name .
#
# The default target compiles from source and needs BuildKit (cache mounts,
# TARGETARCH). `prebuilt` packs the binary `scripts/build-prebuilt` compiles
# into target/ and needs no registry nor BuildKit. The classic builder walks
# every stage before its target, so the stages `prebuilt` needs come before
# any stage that pulls an image.

ARG RUST_VERSION=1.95

# Only the classic builder (no BuildKit) runs this stage: it walks every
# stage before its target, while BuildKit builds only what the target needs,
# and no target needs this. docker-compose.yml passes IMAGE_TARGET, empty
# unless set, so `docker compose up --build` without BuildKit stops here
# with the two ways out, before any other stage fails less clearly.
FROM scratch AS classic-builder
ARG IMAGE_TARGET=prebuilt
LABEL greeter-mesh.image-target="${IMAGE_TARGET:?this build compiles from source, which needs BuildKit (Docker 23+ or buildx). Without it: ./scripts/build-prebuilt, then IMAGE_TARGET=prebuilt docker compose up --build}"

# Everything an image holds besides its binary (the steps every service
# shares first, so they are built once).
FROM scratch AS base
USER 65532:65532
ENTRYPOINT ["/service"]
ARG PORT=3000
EXPOSE ${PORT}
ARG BIN REVISION=unknown
LABEL org.opencontainers.image.title="${BIN}" \
      org.opencontainers.image.source="https://github.com/example/greeter-mesh-rs" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT-0"

FROM base AS prebuilt
ARG BIN PREBUILT=target/x86_64-unknown-linux-gnu/release
COPY ${PREBUILT}/${BIN} /service

# The compose stack's Lambda (BIN=lambda-emulator): the emulator as
# /service, and greeter-lambda's binary where Lambda finds a custom
# runtime's bootstrap, in /var/task.
FROM base AS lambda-prebuilt
ARG PREBUILT=target/x86_64-unknown-linux-gnu/release
COPY ${PREBUILT}/lambda-emulator /service
COPY ${PREBUILT}/greeter-lambda /var/task/bootstrap

# The split image, which runs the migration controller too: the binary,
# and the directory of the controller's file store
# (CONTROLLER_STORE=file:/var/lib/migration) owned by the user that writes
# it. Docker copies a directory's owner into an empty named volume mounted
# on it, so both replicas may write the volume they share. An image FROM
# scratch has no mkdir: the directory is an empty stage's root, copied.
FROM scratch AS empty

FROM base AS split-prebuilt
ARG PREBUILT=target/x86_64-unknown-linux-gnu/release
COPY ${PREBUILT}/split /service
COPY --from=empty --chown=65532:65532 / /var/lib/migration/

# Runs on the build machine's architecture and cross-compiles to the
# target's, rather than compiling under emulation. It does not depend on
# BIN, so one build serves every service's image.
# BuildKit sets BUILDPLATFORM; the classic builder would stop on an empty one.
FROM --platform="${BUILDPLATFORM:?this build needs BuildKit (Docker 23+ or buildx). Without it: ./scripts/build-prebuilt, then IMAGE_TARGET=prebuilt docker compose up --build}" rust:${RUST_VERSION}-slim-trixie AS build
ARG BUILDARCH TARGETARCH
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu; gnu=x86-64-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu ;; \
      *) echo "no Rust target for TARGETARCH=$TARGETARCH" >&2; exit 1 ;; \
    esac; \
    if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      apt-get update -qq; \
      apt-get install -y -qq --no-install-recommends "gcc-$gnu" "libc6-dev-$TARGETARCH-cross"; \
      rm -rf /var/lib/apt/lists/*; \
      rustup target add "$triple"; \
      printf '[target.%s]\nlinker = "%s-gcc"\n' "$triple" "$gnu" >> "$CARGO_HOME/config.toml"; \
    fi; \
    echo "$triple" > /rust-target
WORKDIR /src
COPY . .
# The cache mounts keep the registry and compiled dependencies between
# builds: a code change recompiles the workspace crates only. Every binary
# of the workspace is built at once, whichever BIN asked (not the benchmark
# reference bench/bare-chain, which is not shipped).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; \
    triple=$(cat /rust-target); \
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --release --locked --target "$triple" --workspace --exclude bare-chain --bins; \
    mkdir /out; \
    find "target/$triple/release" -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \;

FROM base AS lambda-runtime
COPY --from=build /out/lambda-emulator /service
COPY --from=build /out/greeter-lambda /var/task/bootstrap

FROM base AS split-runtime
COPY --from=build /out/split /service
COPY --from=empty --chown=65532:65532 / /var/lib/migration/

# Last, so that a build naming no target builds a service's image.
FROM base AS runtime
ARG BIN
COPY --from=build /out/${BIN} /service
