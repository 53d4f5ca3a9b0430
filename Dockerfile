# syntax=docker/dockerfile:1
# The mlp image: the release `mlpc` and `mlp-serve`, libtorch from the torch wheel (in the
# venv that training steps also run in), and the prebuilt libduckdb. `mlpc k8s` and
# `mlpc suggest --k8s` write manifests that run it as `mlp-serve:latest` with the applied
# project at /project (docs/container.md says how to build both images).
#
# Build: docker build -t mlp-serve:latest .

# The build: the same bootstrap and cargo build as scripts/demo.sh, at the paths the
# binaries' rpaths will point at in the final image (/opt/mlp/.venv, /opt/mlp/.deps).
FROM rust:1.89-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/mlp
COPY . .
ENV MLP_VENV=/opt/mlp/.venv \
    CARGO_TARGET_DIR=/opt/mlp/target \
    CI=true
RUN bash scripts/bootstrap.sh \
 && bash -c 'source scripts/env.sh && cargo build --release --locked -p mlpc --bin mlpc --bin mlp-serve'

# The image: Debian's Python 3.11 (the venv's), the venv with torch, libduckdb, the binaries.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 mlp
COPY --from=build /opt/mlp/.venv /opt/mlp/.venv
COPY --from=build /opt/mlp/.deps/duckdb/libduckdb.so /opt/mlp/.deps/duckdb/libduckdb.so
COPY --from=build /opt/mlp/target/release/mlpc /opt/mlp/target/release/mlp-serve /usr/local/bin/
ENV MLP_VENV=/opt/mlp/.venv \
    PATH=/opt/mlp/.venv/bin:$PATH
USER mlp
WORKDIR /project
EXPOSE 8080
ENTRYPOINT ["mlpc"]
# A non-loopback address needs MLP_TOKEN (from a Secret in the manifests).
CMD ["serve", "/project", "--bind", "0.0.0.0:8080"]
