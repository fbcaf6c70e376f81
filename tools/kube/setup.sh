#!/usr/bin/env bash
# Builds/installs the real Kubernetes test binaries from pinned Go module versions into a
# cache directory outside the repository, and reuses them on later runs.
#
#   tools/kube/setup.sh            build what is missing, print the bin directory (last line)
#   tools/kube/setup.sh --print-bin   only print the bin directory (no build)
#   tools/kube/setup.sh --force       rebuild everything
#
# Env: HYBRIDNET_CACHE (default /var/cache/hybridnet). GOCACHE/GOMODCACHE stay at Go's
# defaults (outside the repository) so later builds are incremental.
# Versions: k8s.io/kubernetes from tools/kube/go.mod, etcd from tools/kube/etcd/go.mod,
# cnitool/helm/cri-api below. See tools/kube/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

CNITOOL_VERSION=v1.3.1
HELM_VERSION=v3.22.0
CRI_API_VERSION="v0.${KUBE_VERSION#v1.}"

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
hn_tool_init kube:setup --print-bin "$HN_KUBE_BIN" "$@"

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.25 (it builds kube-apiserver etc. from the Go module proxy)"

mkdir -p "$HN_KUBE_BIN" || die "cannot create $HN_KUBE_BIN (set HYBRIDNET_CACHE to a writable directory)"
STATE="$HN_KUBE_DIR/state"
mkdir -p "$STATE"

# One setup at a time per cache directory (npm run kube:setup and .ci/run may overlap).
exec 9>"$HN_KUBE_DIR/.lock"
if ! flock -n 9; then
  log "another setup holds $HN_KUBE_DIR/.lock; waiting"
  flock 9
fi

# step NAME STAMP BIN... -- CMD...: run CMD unless every BIN exists and state/NAME equals STAMP.
step() {
  local name=$1 stamp=$2; shift 2
  local bins=()
  while [ "$1" != "--" ]; do bins+=("$1"); shift; done
  shift
  local ok=1 b
  for b in "${bins[@]}"; do [ -x "$HN_KUBE_BIN/$b" ] || ok=0; done
  if [ "$MODE" != force ] && [ $ok = 1 ] && [ "$(cat "$STATE/$name" 2>/dev/null)" = "$stamp" ]; then
    log "$name: up to date (${bins[*]})"
    return 0
  fi
  rm -f "$STATE/$name"
  local s; s=$(date +%s)
  log "$name: building ${bins[*]} ..."
  hn_heartbeat_start "$name: still building"
  local rc=0
  "$@" || rc=$?
  hn_heartbeat_stop
  [ $rc = 0 ] || die "$name: build failed (exit $rc) after $(($(date +%s) - s))s (command: $*)"
  for b in "${bins[@]}"; do [ -x "$HN_KUBE_BIN/$b" ] || die "$name: $b missing in $HN_KUBE_BIN after build"; done
  echo "$stamp" >"$STATE/$name"
  log "$name: done in $(($(date +%s) - s))s"
}

sumof() { cat "$@" | sha256sum | cut -c1-16; }

# --- control plane: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl -------------
KUBE_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
  KUBE_LDFLAGS+=" -X $p.gitTreeState=clean"
done
build_kube() {
  (
    cd "$HERE"
    local s; s=$(date +%s)
    log "kube: go mod download (k8s.io/kubernetes $KUBE_VERSION and deps)"
    GOFLAGS=-mod=mod go mod download || return 1
    log "kube: modules ready after $(($(date +%s) - s))s; go build (cold: about 8 min on 2 cores)"
    # One go build call so the shared packages compile once.
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$HN_KUBE_BIN" -ldflags "$KUBE_LDFLAGS" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl
  )
}
step kube "$KUBE_VERSION $(sumof "$HERE/go.mod" "$HERE/go.sum")" \
  kube-apiserver kube-controller-manager kube-scheduler kubectl -- build_kube

# --- etcd (see README: Debian's 3.4.23 is older than what Kubernetes 1.34 is tested with) ---------
build_etcd() {
  (
    cd "$HERE/etcd"
    log "etcd: go mod download ($ETCD_VERSION)"
    GOFLAGS=-mod=mod go mod download || return 1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$HN_KUBE_BIN/etcd" -ldflags "-s -w" \
      go.etcd.io/etcd/server/v3
  )
}
step etcd "$ETCD_VERSION $(sumof "$HERE/etcd/go.mod" "$HERE/etcd/go.sum")" etcd -- build_etcd

# --- cnitool and helm: plain go install of released modules ------------------------------------
install_tool() { CGO_ENABLED=0 GOBIN="$HN_KUBE_BIN" go install -trimpath -ldflags "-s -w" "$1"; }
step cnitool "$CNITOOL_VERSION" cnitool -- install_tool "github.com/containernetworking/cni/cnitool@$CNITOOL_VERSION"
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
install_helm() { CGO_ENABLED=0 GOBIN="$HN_KUBE_BIN" go install -trimpath -ldflags "$HELM_LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; }
step helm "$HELM_VERSION" helm -- install_helm

# --- k8s.io/cri-api: only downloaded; the proto is read from the module cache --------------------
s=$(date +%s)
CRI_DIR=$(go mod download -json "k8s.io/cri-api@$CRI_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
CRI_PROTO="$CRI_DIR/pkg/apis/runtime/v1/api.proto"
[ -f "$CRI_PROTO" ] || die "cri-api: $CRI_PROTO not found after go mod download k8s.io/cri-api@$CRI_API_VERSION"
echo "$CRI_PROTO" >"$HN_KUBE_DIR/cri-api.proto.path"
log "cri-api $CRI_API_VERSION: $CRI_PROTO ($(($(date +%s) - s))s)"

# Final stamp: everything above is present for this version.
echo "$KUBE_VERSION etcd=$ETCD_VERSION cnitool=$CNITOOL_VERSION helm=$HELM_VERSION" >"$HN_KUBE_DIR/version"
log "all done in $(($(date +%s) - T0))s; bin dir:"
echo "$HN_KUBE_BIN"
