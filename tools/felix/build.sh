#!/usr/bin/env bash
# Builds stock calico-felix (Calico v3.31.0) from the Calico monorepo Go module, everything through the Go module
# proxy, into a cache directory outside the repository, and copies the Calico CRDs Felix needs beside it:
#
#   ${HYBRIDNET_CACHE:-/var/cache/hybridnet}/felix-v3.31.0/bin/calico-felix
#   ${HYBRIDNET_CACHE:-/var/cache/hybridnet}/felix-v3.31.0/crds/crd.projectcalico.org_*.yaml
#
#   tools/felix/build.sh               build what is missing (instant when the binary and CRDs are there)
#   tools/felix/build.sh --print-dir   only print the felix cache directory (no build)
#   tools/felix/build.sh --force       rebuild
#
# GOCACHE/GOMODCACHE stay at Go's defaults (outside the repository), as in tools/kube/setup.sh, so a rebuild is
# incremental (cold 10–14 min on 2 cores; with warm Go caches under a minute). The build runs in a temporary
# directory inside the cache directory and the binary is renamed into place at the end: an interrupted build leaves
# nothing half-written.
#
# Why the Go module is not built as is (tools/felix/README.md has the details):
# - The monorepo's go.mod replaces ./api, ./lib/std and ./lib/httpmachinery with local folders that a module zip does
#   not contain: each is downloaded as its own module into place (lib/httpmachinery is not served at this commit and
#   felix does not import it: a stub go.mod satisfies the replace directive).
# - The one source patch, felix-nocgo.patch: with CGO_ENABLED=0 (a static binary, no C toolchain needed) Go compiles
#   felix's libbpf stub (felix/bpf/libbpf/libbpf_stub.go, build tag !cgo), whose OpenObject panics. Felix calls it at
#   start-up even with BPF off (RemoveConnectTimeLoadBalancer opens a BPF object to clean up), so stock felix built
#   this way dies at once. The patch makes OpenObject return an error instead, which felix logs and ignores.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

FELIX_VERSION=v3.31.0
# The proxy serves the monorepo only by exact pseudo-version (tag queries are refused): v3.31.0 is commit b1f3c43f8437
# of github.com/projectcalico/calico and commit f2ab03771208 of github.com/projectcalico/api.
CALICO_MOD=github.com/projectcalico/calico@v0.0.0-20251021213802-b1f3c43f8437
API_VERSION=v0.0.0-20251022175904-f2ab03771208
# The CRDs of the original's chart (SPEC §9), which felix reads or watches.
CRDS=(bgpconfigurations clusterinformations felixconfigurations globalnetworkpolicies globalnetworksets hostendpoints
  ippools networkpolicies)

FELIX_DIR="${HYBRIDNET_CACHE:-/var/cache/hybridnet}/felix-$FELIX_VERSION"
BIN="$FELIX_DIR/bin/calico-felix"

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"
hn_tool_init felix --print-dir "$FELIX_DIR" "$@"

STAMP="$CALICO_MOD api@$API_VERSION patch=$(sha256sum "$HERE/felix-nocgo.patch" | cut -c1-16)"
crds_ok() {
  local c
  for c in "${CRDS[@]}"; do [ -s "$FELIX_DIR/crds/crd.projectcalico.org_$c.yaml" ] || return 1; done
}
up_to_date() { [ -x "$BIN" ] && crds_ok && [ "$(cat "$FELIX_DIR/stamp" 2>/dev/null)" = "$STAMP" ]; }

if [ "$MODE" != force ] && up_to_date; then
  log "calico-felix $FELIX_VERSION: up to date ($BIN)"
  echo "$FELIX_DIR"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.24 (felix is built from the Go module proxy)"
mkdir -p "$FELIX_DIR" || die "cannot create $FELIX_DIR (set HYBRIDNET_CACHE to a writable directory)"

# One build at a time per cache directory.
exec 9>"$FELIX_DIR/.lock"
if ! flock -n 9; then
  log "another build holds $FELIX_DIR/.lock; waiting"
  flock 9
  if [ "$MODE" != force ] && up_to_date; then
    log "built by the other run: $BIN"
    echo "$FELIX_DIR"
    exit 0
  fi
fi

WORK=$(mktemp -d "$FELIX_DIR/.build.XXXXXX")
cleanup() {
  hn_heartbeat_stop
  chmod -R u+w "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP  # so that an interrupted build removes its temporary directory too

# dir_of MODULE@VERSION: download it through the proxy and print its directory in the module cache ('' if not served).
dir_of() { go mod download -json "$1" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

log "downloading $CALICO_MOD"
SRC_MOD=$(dir_of "$CALICO_MOD" || true)
[ -d "${SRC_MOD:-/nonexistent}" ] || die "the Go module proxy did not serve $CALICO_MOD"
cp -r "$SRC_MOD" "$WORK/src"
chmod -R u+w "$WORK/src"
cd "$WORK/src"

# Fill every local replace target (github.com/projectcalico/... => ./x) from the proxy.
while read -r mod _ dir; do
  case "$mod" in
    github.com/projectcalico/api) v=$API_VERSION ;;
    *) v=${CALICO_MOD#*@} ;;
  esac
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  d=$(dir_of "$mod@$v" || true)
  if [ -n "$d" ]; then
    log "nested module $mod@$v -> $dir"
    cp -r "$d" "$dir"
    chmod -R u+w "$dir"
  else
    grep -rqs --include='*.go' "\"$mod" felix libcalico-go pkg && die "$mod@$v is not served and felix imports it"
    log "nested module $mod@$v is not served; felix does not import it: stub go.mod at $dir"
    mkdir -p "$dir"
    printf 'module %s\n\ngo 1.24\n' "$mod" >"$dir/go.mod"
  fi
done < <(grep -E '^[[:space:]]*github.com/projectcalico/[^ ]+ => \./' go.mod)

log "applying felix-nocgo.patch (libbpf stub: error instead of panic with CGO_ENABLED=0)"
patch -s -p1 <"$HERE/felix-nocgo.patch" || die "felix-nocgo.patch does not apply to $CALICO_MOD"

s=$(date +%s)
log "go mod download (felix's dependencies)"
go mod download || die "go mod download failed"
log "modules ready after $(($(date +%s) - s))s; go build ./felix/cmd/calico-felix (cold: about 14 min on 2 cores)"

hn_heartbeat_start "still building"
s=$(date +%s)
CGO_ENABLED=0 go build -trimpath -o "$WORK/calico-felix" \
  -ldflags "-s -w -X github.com/projectcalico/calico/pkg/buildinfo.Version=$FELIX_VERSION -X github.com/projectcalico/calico/pkg/buildinfo.GitRevision=${CALICO_MOD##*-}" \
  ./felix/cmd/calico-felix || die "go build failed after $(($(date +%s) - s))s"
hn_heartbeat_stop
log "go build took $(($(date +%s) - s))s"

# CRDs: from libcalico-go/config/crd of the same tree.
mkdir -p "$WORK/crds"
for c in "${CRDS[@]}"; do
  f="libcalico-go/config/crd/crd.projectcalico.org_$c.yaml"
  [ -s "$f" ] || die "CRD $f not found in $CALICO_MOD"
  cp "$f" "$WORK/crds/"
done

# Into place: CRDs first, the binary last (its presence means "built").
rm -rf "$FELIX_DIR/crds"
mv "$WORK/crds" "$FELIX_DIR/crds"
mkdir -p "$FELIX_DIR/bin"
mv -f "$WORK/calico-felix" "$BIN"
echo "$STAMP" >"$FELIX_DIR/stamp"
log "calico-felix $FELIX_VERSION built in $(($(date +%s) - T0))s: $BIN ($(du -m "$BIN" | cut -f1) MB), ${#CRDS[@]} CRDs in $FELIX_DIR/crds"
echo "$FELIX_DIR"
