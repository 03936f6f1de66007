#!/usr/bin/env bash
# Checks cluster.sh itself on its own directory and ports, beside any
# environment already running: `up` twice leaves one cluster, `status` sees
# it, and `down` leaves no process of ours and no directory behind.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

export SERIN_E2E_DIR=${TMPDIR:-/tmp}/serin-e2e-lifecycle-$$
export SERIN_E2E_ETCD_PORT=43790 SERIN_E2E_ETCD_PEER_PORT=43800 SERIN_E2E_APISERVER_PORT=46443
export SERIN_E2E_KWOK_PORT=40247 SERIN_E2E_PROMETHEUS_PORT=49090
cluster=$HERE/cluster.sh
passed=0 failed=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
quiet() { "$@" >/dev/null 2>&1; }
ours() { pgrep -f -- "$SERIN_E2E_DIR" || true; }
trap '"$cluster" down >/dev/null 2>&1 || true; rm -f "$SERIN_E2E_DIR.lock"' EXIT

"$cluster" up 2>/dev/null
first=$(ours | sort | tr '\n' ' ')
check "up starts six processes" test "$(wc -w <<<"$first")" -eq 6
check "status reports them running" quiet "$cluster" status
"$cluster" up 2>/dev/null
second=$(ours | sort | tr '\n' ' ')
check "a second up keeps the same processes" test "$first" = "$second"
check "env names the kubeconfig" grep -q "KUBECONFIG=$SERIN_E2E_DIR/kubeconfig" <("$cluster" env)
"$cluster" down 2>/dev/null
check "down leaves no process of ours" test -z "$(ours)"
check "down removes the working directory" test ! -e "$SERIN_E2E_DIR"
check "status reports a stopped cluster" bash -c "! '$cluster' status >/dev/null 2>&1"

echo "cluster.sh: $passed passed, $failed failed"
(( failed == 0 ))
