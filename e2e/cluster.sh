#!/usr/bin/env bash
# A real local Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok with fake nodes) and a real
# Prometheus, on loopback, with no container runtime.
#
#   e2e/cluster.sh up       build the binaries if needed, start everything, wait for Ready nodes
#   e2e/cluster.sh down     stop what `up` started (by recorded PID) and remove its directory
#   e2e/cluster.sh status   say what runs
#   e2e/cluster.sh env      print the exports tests need (eval "$(e2e/cluster.sh env)")
#   e2e/cluster.sh stop C   stop one component of a running cluster (chaos tests)
#   e2e/cluster.sh start C  start it again with the same flags
#
# Settings (environment): SERIN_E2E_DIR (working directory), SERIN_E2E_CACHE
# (binary cache), SERIN_E2E_NODES (fake nodes, default 2), SERIN_E2E_NODE_PODS
# (pods per node, default 110), the ports below, and extra flags for scale
# runs: SERIN_E2E_APISERVER_ARGS, SERIN_E2E_CONTROLLER_MANAGER_ARGS,
# SERIN_E2E_SCHEDULER_ARGS (split on spaces; `up` records them for `start`).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/versions.sh"

DIR=${SERIN_E2E_DIR:-${TMPDIR:-/tmp}/serin-e2e-$(id -u)}
ETCD_PORT=${SERIN_E2E_ETCD_PORT:-23790}
ETCD_PEER_PORT=${SERIN_E2E_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${SERIN_E2E_APISERVER_PORT:-16443}
KWOK_PORT=${SERIN_E2E_KWOK_PORT:-10247}
PROMETHEUS_PORT=${SERIN_E2E_PROMETHEUS_PORT:-19090}
NODES=${SERIN_E2E_NODES:-2}
NODE_PODS=${SERIN_E2E_NODE_PODS:-110}
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok prometheus)
KUBECTL=$K8S_BIN/kubectl

log() { printf '[cluster %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

pidfile() { echo "$DIR/pids/$1.pid"; }

# A recorded PID counts as ours only while it still runs the binary we started,
# so a recycled PID is never killed.
running() {
  local f pid
  f=$(pidfile "$1"); [[ -f $f ]] || return 1
  pid=$(<"$f"); [[ -n $pid && -d /proc/$pid ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$DIR" || return 1
  echo "$pid"
}

# start NAME BINARY ARGS...: runs a component detached, logs to $DIR/logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pidfile "$name")"
  log "started $name (pid $!)"
}

# wait_until WHAT SECONDS CMD...: polls CMD every 0.5 s, bounded.
wait_until() {
  local what=$1 seconds=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      die "$what not ready after ${seconds}s; logs in $DIR/logs"
    fi
    sleep 0.5
  done
}

api_ready() {
  curl -sf --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

all_running() {
  local c; for c in "${COMPONENTS[@]}"; do running "$c" >/dev/null || return 1; done
}

pki() {
  local p=$DIR/pki; mkdir -p "$p"
  ( cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=serin-e2e-ca -keyout ca.key -out ca.crt
    # sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
    sign() {
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt"
    }
    sign apiserver /CN=kube-apiserver "$(printf '%s\n' \
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' \
      'extendedKeyUsage=serverAuth' 'keyUsage=digitalSignature,keyEncipherment')"
    sign admin '/O=system:masters/CN=serin-e2e-admin' \
      "$(printf '%s\n' 'extendedKeyUsage=clientAuth' 'keyUsage=digitalSignature,keyEncipherment')"
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >"$DIR/logs/pki.log" 2>&1 || die "certificate generation failed; see $DIR/logs/pki.log"
  kubeconfig >"$DIR/kubeconfig"
}

kubeconfig() {
  local b64="base64 -w0"
  cat <<YAML
apiVersion: v1
kind: Config
clusters:
- name: serin-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$DIR/pki/ca.crt")
users:
- name: serin-e2e-admin
  user:
    client-certificate-data: $($b64 <"$DIR/pki/admin.crt")
    client-key-data: $($b64 <"$DIR/pki/admin.key")
contexts:
- name: serin-e2e
  context: {cluster: serin-e2e, user: serin-e2e-admin}
current-context: serin-e2e
YAML
}

prometheus_config() {
  mkdir -p "$DIR/prometheus/sd"
  cat >"$DIR/prometheus/prometheus.yml" <<YAML
# Tests add scrape targets at run time by dropping JSON files into sd/
# (Prometheus file-based service discovery); labels in them are kept.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: e2e
    honor_labels: true
    file_sd_configs:
      - files: ['$DIR/prometheus/sd/*.json']
        refresh_interval: 1s
YAML
}

nodes_manifest() {
  local i
  for (( i = 0; i < NODES; i++ )); do
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "$NODE_PODS"}
  capacity: {cpu: "32", memory: 256Gi, pods: "$NODE_PODS"}
YAML
  done
}

nodes_ready() {
  local n
  n=$("$KUBECTL" --kubeconfig "$DIR/kubeconfig" get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  (( n >= NODES ))
}

default_sa() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" -n default get serviceaccount default; }

# Extra flags of scale runs; `up` records them in $DIR/settings.sh.
read -r -a APISERVER_ARGS <<<"${SERIN_E2E_APISERVER_ARGS:-}"
read -r -a CONTROLLER_MANAGER_ARGS <<<"${SERIN_E2E_CONTROLLER_MANAGER_ARGS:-}"
read -r -a SCHEDULER_ARGS <<<"${SERIN_E2E_SCHEDULER_ARGS:-}"

# start_component NAME: starts one component with its flags and waits for it
# where later components depend on it.
start_component() {
  local kc=$DIR/kubeconfig
  local common=(--kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc"
    --leader-elect=false --bind-address=127.0.0.1)
  case $1 in
    etcd)
      start etcd "$ETCD_BIN/etcd" --name=serin-e2e --data-dir="$DIR/etcd" --unsafe-no-fsync=true \
        --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster="serin-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls="" --log-level=warn
      wait_until etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"
      ;;
    kube-apiserver)
      start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
        --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
        --client-ca-file="$DIR/pki/ca.crt" --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
        --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=Node,RBAC --allow-privileged=true \
        --enable-priority-and-fairness=false --event-ttl=1h "${APISERVER_ARGS[@]}"
      wait_until kube-apiserver 90 api_ready
      ;;
    kube-controller-manager)
      start kube-controller-manager "$K8S_BIN/kube-controller-manager" "${common[@]}" --secure-port=0 \
        --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
        --use-service-account-credentials=false --controllers='*,-nodeipam' --node-monitor-grace-period=60s \
        "${CONTROLLER_MANAGER_ARGS[@]}"
      ;;
    kube-scheduler)
      start kube-scheduler "$K8S_BIN/kube-scheduler" "${common[@]}" --secure-port=0 "${SCHEDULER_ARGS[@]}"
      ;;
    kwok)
      # Pods labelled serin.dev/e2e-unready never become ready: tests use them
      # for workloads that miss their progress deadline. Pods labelled
      # serin.dev/e2e-slow become ready after 3 s: chaos tests use them to
      # hold a rollout in a phase long enough to kill serin there.
      mkdir -p "$DIR/stages"
      local base=$KWOK_STAGES/pod/fast/pod-ready.yaml
      sed "/^    matchExpressions:/a\\    - key: '.metadata.labels.\"serin.dev/e2e-unready\"'\\n      operator: 'DoesNotExist'\\n    - key: '.metadata.labels.\"serin.dev/e2e-slow\"'\\n      operator: 'DoesNotExist'" \
        "$base" >"$DIR/stages/pod-ready.yaml"
      sed -e "/^    matchExpressions:/a\\    - key: '.metadata.labels.\"serin.dev/e2e-unready\"'\\n      operator: 'DoesNotExist'\\n    - key: '.metadata.labels.\"serin.dev/e2e-slow\"'\\n      operator: 'Exists'" \
        -e "s/^  name: pod-ready$/  name: pod-ready-slow/" -e "/^spec:/a\\  delay:\\n    durationMilliseconds: 3000" \
        "$base" >"$DIR/stages/pod-ready-slow.yaml"
      grep -q 'serin.dev/e2e-unready' "$DIR/stages/pod-ready.yaml" || die "could not write the unready pod stage"
      grep -q 'durationMilliseconds' "$DIR/stages/pod-ready-slow.yaml" || die "could not write the slow pod stage"
      local stages=(-c "$DIR/stages/pod-ready.yaml" -c "$DIR/stages/pod-ready-slow.yaml") s
      for s in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
        pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
        [[ -f $KWOK_STAGES/$s ]] || die "kwok stage $s missing from $KWOK_STAGES"
        stages+=(-c "$KWOK_STAGES/$s")
      done
      start kwok "$KWOK_BIN/kwok" --kubeconfig="$kc" --manage-all-nodes=true --node-lease-duration-seconds=40 \
        --cidr=10.244.0.0/16 --node-ip=127.0.0.1 --server-address="127.0.0.1:$KWOK_PORT" "${stages[@]}"
      ;;
    prometheus)
      start prometheus prometheus --config.file="$DIR/prometheus/prometheus.yml" \
        --storage.tsdb.path="$DIR/prometheus/data" --storage.tsdb.retention.time=1d \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle --web.enable-remote-write-receiver
      ;;
    *) die "unknown component $1 (one of: ${COMPONENTS[*]})" ;;
  esac
}

cmd_up() {
  if all_running && api_ready; then log "already up in $DIR"; return; fi
  if [[ -d $DIR ]]; then log "found a partial environment in $DIR; replacing it"; cmd_down; fi
  command -v prometheus >/dev/null || die "prometheus not found: apt-get install --no-install-recommends prometheus"
  command -v openssl curl >/dev/null || die "openssl and curl are needed"
  "$HERE/build-bins.sh"
  "$HERE/build-helm.sh"
  local t0; t0=$(date +%s)
  mkdir -p "$DIR"/{pids,logs,etcd}
  pki
  prometheus_config
  local kc=$DIR/kubeconfig
  # Recorded so `start` brings a component back exactly as `up` started it.
  declare -p APISERVER_ARGS CONTROLLER_MANAGER_ARGS SCHEDULER_ARGS NODES NODE_PODS >"$DIR/settings.sh"

  for c in "${COMPONENTS[@]}"; do start_component "$c"; done
  nodes_manifest | "$KUBECTL" --kubeconfig "$kc" apply -f - >/dev/null
  wait_until "$NODES Ready kwok nodes" 90 nodes_ready
  wait_until "the default ServiceAccount" 60 default_sa
  wait_until prometheus 60 curl -sf --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  log "up in $(( $(date +%s) - t0 ))s; run: eval \"\$($0 env)\""
}

# gone PID TENTHS: waits up to TENTHS/10 s for PID to exit.
# (The counter must not be `_`: bash sets $_ to the last argument, here "0.1".)
gone() {
  local n
  for (( n = 0; n < $2; n++ )); do [[ -d /proc/$1 ]] || return 0; sleep 0.1; done
  [[ ! -d /proc/$1 ]]
}

cmd_down() {
  local c pid i
  # Reverse start order, so nothing logs errors about a dependency vanishing first.
  for (( i = ${#COMPONENTS[@]} - 1; i >= 0; i-- )); do
    c=${COMPONENTS[i]}
    pid=$(running "$c") || continue
    kill -TERM "$pid" 2>/dev/null || true
    gone "$pid" 50 || { kill -KILL "$pid" 2>/dev/null || true; gone "$pid" 50 || log "warning: $c (pid $pid) survived SIGKILL"; }
    log "stopped $c (pid $pid)"
  done
  rm -rf "$DIR"
}

cmd_status() {
  local c pid rc=0
  echo "directory: $DIR"
  for c in "${COMPONENTS[@]}"; do
    if pid=$(running "$c"); then echo "  $c: running (pid $pid)"; else echo "  $c: stopped"; rc=1; fi
  done
  if (( rc == 0 )) && api_ready; then
    "$KUBECTL" --kubeconfig "$DIR/kubeconfig" get nodes -o wide | sed 's/^/  /'
  fi
  return $rc
}

cmd_env() {
  echo "export KUBECONFIG=$DIR/kubeconfig"
  echo "export SERIN_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT"
  echo "export SERIN_PROMETHEUS_SD_DIR=$DIR/prometheus/sd"
  echo "export PATH=$K8S_BIN:\$PATH"
  echo "export SERIN_E2E_HELM=$HELM_BIN/helm"
}

# stop NAME: stops one component (SIGTERM, then SIGKILL), leaving the rest running.
cmd_stop() {
  local pid
  pid=$(running "$1") || die "$1 is not running"
  kill -TERM "$pid" 2>/dev/null || true
  gone "$pid" 50 || { kill -KILL "$pid" 2>/dev/null || true; gone "$pid" 50 || die "$1 (pid $pid) survived SIGKILL"; }
  log "stopped $1 (pid $pid)"
}

cmd_start() {
  [[ -f $DIR/settings.sh ]] || die "no cluster in $DIR: run up first"
  if running "$1" >/dev/null; then log "$1 already runs"; return; fi
  start_component "$1"
  if [[ $1 == prometheus ]]; then
    wait_until prometheus 60 curl -sf --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  fi
}

# One invocation at a time per directory: `up` from two shells must still
# leave one cluster.
exec 9>"$DIR.lock"
flock 9

# Flags `up` recorded, for `start` (at top level: `declare` in a function is local).
if [[ ${1:-} == start && -f $DIR/settings.sh ]]; then source "$DIR/settings.sh"; fi

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop) cmd_stop "${2:?which component}" ;;
  start) cmd_start "${2:?which component}" ;;
  *) echo "usage: $0 up|down|status|env|stop COMPONENT|start COMPONENT" >&2; exit 2 ;;
esac
