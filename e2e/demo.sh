#!/usr/bin/env bash
# `make demo`: starts the local control plane and Prometheus, then shows a
# canary rollout and an automatic rollback live (e2e/src/bin/serin-demo.rs).
# The control plane is left running (`make cluster-down` stops it). The same
# demo runs unattended in `make test`: e2e/tests/demo.rs, SERIN_DEMO_CHECK=1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

e2e/build-bins.sh
e2e/cluster.sh up
eval "$(e2e/cluster.sh env)"
echo "building serin, kubectl-serin and the demo (the first build takes a few minutes)"
cargo build --quiet --workspace --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
SERIN_BIN="$target_dir/debug/serin" "$target_dir/debug/serin-demo"
