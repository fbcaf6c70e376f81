# shellcheck shell=bash
# Source this file to get the pinned versions and the cache location of the Kubernetes test
# binaries (the TypeScript fixture test/fixture/kube.ts applies the same rule):
#   HN_KUBE_DIR = ${HYBRIDNET_CACHE:-/var/cache/hybridnet}/kube-<k8s.io/kubernetes version from go.mod>
#   HN_KUBE_BIN = $HN_KUBE_DIR/bin   (override the whole path with HN_KUBE_BIN)
_hn_kube_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# _hn_modver FILE MODULE: the required version of MODULE (single-line or block require).
_hn_modver() { awk -v m="$2" '($1 == "require" && $2 == m) {print $3; exit} ($1 == m && $2 ~ /^v/) {print $2; exit}' "$1"; }
KUBE_VERSION="$(_hn_modver "$_hn_kube_here/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(_hn_modver "$_hn_kube_here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
HN_KUBE_DIR="${HYBRIDNET_CACHE:-/var/cache/hybridnet}/kube-$KUBE_VERSION"
HN_KUBE_BIN="${HN_KUBE_BIN:-$HN_KUBE_DIR/bin}"
export KUBE_VERSION ETCD_VERSION HN_KUBE_DIR HN_KUBE_BIN
unset _hn_kube_here
unset -f _hn_modver
