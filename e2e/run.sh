#!/usr/bin/env bash
# Runs the e2e test crate against the local environment, starting it first
# when it is not up. An environment this script started is stopped again at
# the end unless SERIN_E2E_KEEP=1; one that was already up is left running.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

started=0
if ! e2e/cluster.sh status >/dev/null 2>&1; then
  e2e/cluster.sh up
  started=1
fi
if [[ $started == 1 && ${SERIN_E2E_KEEP:-0} != 1 ]]; then
  trap 'e2e/cluster.sh down' EXIT
fi
eval "$(e2e/cluster.sh env)"
cargo build -p serin
cargo test -p serin-e2e --no-fail-fast "$@"
