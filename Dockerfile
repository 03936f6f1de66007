# The image both charts run (ghcr.io/serin-dev/serin): `serin controller` and
# `serin loadtester`. Debian slim rather than distroless because the load
# tester's `cmd` and `bash` tasks run shell commands (curl, hey, ...), as
# flagger-loadtester's do. The user matches the charts' runAsUser.
#
#   docker build -t ghcr.io/serin-dev/serin:dev .
#
# Not built by CI (the CI machine has no container runtime): see README.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY e2e e2e
COPY crds crds
RUN cargo build --release --locked -p serin --bins

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin serin
COPY --from=build /src/target/release/serin /src/target/release/kubectl-serin /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/serin"]
