#!/usr/bin/env bash
# The scale benchmark (`make bench`), run on demand, never by `make test`.
#
#   e2e/bench.sh [N ...]        default: 100 1000 5000
#
# For each N: a fresh local cluster sized for it (kwok nodes, controller
# QPS raised so the cluster keeps up, an audit log of serin's requests
# only), then e2e/src/bin/serin-bench: N Deployments with a Canary each,
# all rolling out at once. Figures go to stdout and, one JSON line per N,
# to $SERIN_BENCH_RESULTS (default e2e/bench-results.jsonl).
# SERIN_BENCH_INTERVAL sets the analysis interval in seconds (default 10).
# The cluster uses its own directory and ports (SERIN_BENCH_DIR, SERIN_E2E_*_PORT).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

sizes=("$@")
(( ${#sizes[@]} )) || sizes=(100 1000 5000)
interval=${SERIN_BENCH_INTERVAL:-10}
results=${SERIN_BENCH_RESULTS:-$HERE/bench-results.jsonl}

# A cluster of its own, away from the test ports.
export SERIN_E2E_DIR=${SERIN_BENCH_DIR:-${TMPDIR:-/tmp}/serin-bench-$(id -u)}
export SERIN_E2E_ETCD_PORT=${SERIN_E2E_ETCD_PORT:-25790} SERIN_E2E_ETCD_PEER_PORT=${SERIN_E2E_ETCD_PEER_PORT:-25800}
export SERIN_E2E_APISERVER_PORT=${SERIN_E2E_APISERVER_PORT:-18443} SERIN_E2E_KWOK_PORT=${SERIN_E2E_KWOK_PORT:-12247}
export SERIN_E2E_PROMETHEUS_PORT=${SERIN_E2E_PROMETHEUS_PORT:-19190}

# SERIN_BENCH_PROFILE=debug for a quick check of the harness itself; figures need release.
profile=${SERIN_BENCH_PROFILE:-release}
echo "building serin and serin-bench ($profile)" >&2
cargo build --profile "${profile/debug/dev}" -p serin -p serin-e2e --bin serin --bin serin-bench
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
export SERIN_BIN=$target/$profile/serin
bench=$target/$profile/serin-bench

policy=$(mktemp -d)/audit-policy.yaml
cat >"$policy" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: Metadata
  users: ["system:serviceaccount:serin-e2e-system:serin-e2e"]
# The benchmark's image bumps, to time serin's reaction at the API server.
- level: Metadata
  verbs: ["patch"]
  resources: [{group: "apps", resources: ["deployments"]}]
- level: None
YAML

trap 'e2e/cluster.sh down >/dev/null 2>&1 || true' EXIT
for n in "${sizes[@]}"; do
  e2e/cluster.sh down >/dev/null 2>&1 || true
  # Room for every pod at the peak (target, primary and canary of each), 1,000 per fake node.
  export SERIN_E2E_NODE_PODS=1000 SERIN_E2E_NODES=$(( 3 * n / 1000 + 2 ))
  audit=$SERIN_E2E_DIR-audit.log
  rm -f "$audit"
  export SERIN_E2E_APISERVER_ARGS="--audit-policy-file=$policy --audit-log-path=$audit --audit-log-maxsize=0 --max-requests-inflight=1000 --max-mutating-requests-inflight=500"
  export SERIN_E2E_CONTROLLER_MANAGER_ARGS="--kube-api-qps=1000 --kube-api-burst=2000 --concurrent-deployment-syncs=20 --concurrent-replicaset-syncs=20 --concurrent-gc-syncs=20"
  export SERIN_E2E_SCHEDULER_ARGS="--kube-api-qps=1000 --kube-api-burst=2000"
  e2e/cluster.sh up
  eval "$(e2e/cluster.sh env)"
  echo "=== N=$n, interval ${interval}s ($(date -u +%FT%TZ))" >&2
  SERIN_BENCH_AUDIT_LOG=$audit "$bench" "$n" "$interval" | tee -a "$results"
  e2e/cluster.sh down
done
"$bench" table "$results"
