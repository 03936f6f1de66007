#!/usr/bin/env bash
# `make demo`: brings up the local environment and shows serin connecting to
# it. The full canary walk-through lands with the Canary controller.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

e2e/cluster.sh up
eval "$(e2e/cluster.sh env)"
cargo build -p serin --quiet
echo
echo "== fake nodes of the local control plane"
kubectl get nodes
echo
echo "== serin connecting to it"
"$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/serin" controller --check
cat <<TXT

The environment keeps running. To explore it:
  eval "\$(e2e/cluster.sh env)"       # KUBECONFIG, Prometheus URL, kubectl on PATH
  kubectl get nodes,pods -A
  open $SERIN_PROMETHEUS_URL in a browser on this machine
  e2e/cluster.sh status
To stop it: make cluster-down
TXT
