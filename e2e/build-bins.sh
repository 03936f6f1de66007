#!/usr/bin/env bash
# Builds the control-plane binaries serin's e2e tests run against, once, into a
# cache outside the repository keyed by version. Re-running is free when the
# binaries already exist. See ../shared/reference/local-cluster.md for why the
# Kubernetes build needs a generated wrapper module.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--mod=mod}"

log() { printf '[build-bins %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

build_k8s() {
  local bin="$K8S_BIN" src="$CACHE/src-k8s-$K8S_VERSION"
  if [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager && -x $bin/kube-scheduler && -x $bin/kubectl ]]; then
    log "kubernetes v$K8S_VERSION cached in $bin"; return
  fi
  log "building kubernetes v$K8S_VERSION into $bin"
  rm -rf "$src"; mkdir -p "$src" "$bin"; cd "$src"
  go mod init e2e.local/kubebins >/dev/null 2>&1
  local mod
  mod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [[ -f $mod ]] || { log "could not download k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
  go mod edit -go="$(awk '/^go /{print $2}' "$mod")" -godebug="$(awk '/^godebug /{print $2}' "$mod")"
  # Every staging module is required at the fake v0.0.0; point each at its real tag.
  local staging="v0.${K8S_VERSION#1.}"
  for m in $(grep -E '^\s+k8s\.io/\S+ v0\.0\.0( //.*)?$' "$mod" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$staging"
  done
  go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
  write_main kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver/app 'app.NewAPIServerCommand()'
  write_main kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager/app 'app.NewControllerManagerCommand()'
  write_main kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler/app 'app.NewSchedulerCommand()'
  mkdir -p cmd/kubectl
  cat > cmd/kubectl/main.go <<'GO'
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
GO
  go mod tidy
  local v="v$K8S_VERSION" minor="${K8S_VERSION#1.}"; minor="${minor%%.*}"
  local ldf="-s -w" k
  for k in "gitVersion=$v" gitMajor=1 "gitMinor=$minor" gitTreeState=clean "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    ldf="$ldf -X k8s.io/component-base/version.$k -X k8s.io/client-go/pkg/version.$k"
  done
  go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ldf" -o "$bin/" ./cmd/...
  "$bin/kube-apiserver" --version
}

write_main() {
  local name=$1 pkg=$2 ctor=$3
  mkdir -p "cmd/$name"
  cat > "cmd/$name/main.go" <<GO
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"$pkg"
)

func main() {
	os.Exit(cli.Run($ctor))
}
GO
}

build_etcd() {
  local bin="$ETCD_BIN" src="$CACHE/src-etcd-$ETCD_VERSION"
  if [[ -x $bin/etcd ]]; then log "etcd v$ETCD_VERSION cached in $bin"; return; fi
  log "building etcd v$ETCD_VERSION into $bin"
  rm -rf "$src"; mkdir -p "$src" "$bin"; cd "$src"
  go mod init e2e.local/etcdbin >/dev/null 2>&1
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
GO
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .
  "$bin/etcd" --version
}

build_kwok() {
  local bin="$KWOK_BIN"
  if [[ -x $bin/kwok && -x $bin/kwokctl && -d $KWOK_STAGES ]]; then log "kwok v$KWOK_VERSION cached in $bin"; return; fi
  log "building kwok v$KWOK_VERSION into $bin"
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS= go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
  # The stage files that make fake nodes Ready and pods Running ship in kwok's module source.
  local modsrc
  modsrc=$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$KWOK_STAGES"; mkdir -p "$KWOK_STAGES"
  cp -r "$modsrc/kustomize/stage/." "$KWOK_STAGES/"
  chmod -R u+w "$KWOK_STAGES"
}

start=$(date +%s)
build_k8s
build_etcd
build_kwok
log "done in $(( $(date +%s) - start ))s; cache $CACHE uses $(du -sh "$CACHE" | cut -f1)"
