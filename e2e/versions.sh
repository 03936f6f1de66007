# Pinned versions of the e2e control plane and where their builds are cached.
# Sourced by build-bins.sh and cluster.sh; a new version gets a new directory.
K8S_VERSION=${K8S_VERSION:-1.36.3}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
HELM_VERSION=${HELM_VERSION:-3.22.0}
CACHE=${SERIN_E2E_CACHE:-$HOME/.cache/serin-e2e}
K8S_BIN=$CACHE/k8s-v$K8S_VERSION/bin
ETCD_BIN=$CACHE/etcd-v$ETCD_VERSION/bin
KWOK_BIN=$CACHE/kwok-v$KWOK_VERSION/bin
KWOK_STAGES=$CACHE/kwok-v$KWOK_VERSION/stage
HELM_BIN=$CACHE/helm-v$HELM_VERSION/bin
