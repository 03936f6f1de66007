#!/usr/bin/env bash
# Builds the pinned helm v3 client the chart tests run, once, into the same
# version-keyed cache as the control plane. Re-running is free when cached.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[build-helm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [[ -x $HELM_BIN/helm ]]; then log "helm v$HELM_VERSION cached in $HELM_BIN"; exit 0; fi
start=$(date +%s)
log "building helm v$HELM_VERSION into $HELM_BIN"
mkdir -p "$HELM_BIN"
GOBIN="$HELM_BIN" GOFLAGS= go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
"$HELM_BIN/helm" version --short
log "done in $(( $(date +%s) - start ))s"
