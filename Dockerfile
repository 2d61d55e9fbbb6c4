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

# Runs on the build machine's architecture and cross-compiles to the
# target's, rather than compiling under emulation. It does not depend on
# BIN, so one build serves every service's image.
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-slim-trixie AS build
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

FROM base AS runtime
ARG BIN
COPY --from=build /out/${BIN} /service
