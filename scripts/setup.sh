#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian 12 machine (run as root):
# Debian packages, the npm dependencies (npm ci), and the Kubernetes test binaries and Calico Felix built
# from their Go modules into a cache outside the repository (tools/kube/setup.sh, tools/felix/build.sh).
# Safe to run again: every step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup] %s\n' "$*"; }
t0=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
  echo "[setup] error: run as root (the datapath tests and the sandbox create network namespaces)" >&2
  exit 1
fi

# Debian packages used by the tests and the sandbox. Node.js 20 and Go come with the machine.
PKGS=(iproute2 iptables ipset etcd-server iputils-ping iperf3 tcpdump conntrack
  containernetworking-plugins bird2 gobgpd netcat-openbsd openssl jq util-linux procps shellcheck socat curl arping ipv6toolkit ndisc6)
# containerd + runc + busybox: `ctr run --cni` as a real CNI client in test/datapath/ctr.test.ts
PKGS+=(containerd runc busybox-static)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages present"
fi

for tool in node npm go; do
  command -v "$tool" >/dev/null || { echo "[setup] error: $tool is not installed (this project needs Node.js >= 20.19 and Go >= 1.24)" >&2; exit 1; }
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  step "npm dependencies present"
fi

if [ -x tools/kube/setup.sh ] && [ "${HYBRIDNET_SKIP_KUBE:-0}" != 1 ]; then
  bash tools/kube/setup.sh
fi

# Calico Felix v3.31.0 for the NetworkPolicy tests (tools/felix/README.md); cold build about 14 min on 2 cores.
if [ "${HYBRIDNET_SKIP_FELIX:-0}" != 1 ]; then
  bash tools/felix/build.sh
fi

step "done in $(( $(date +%s) - t0 )) s"
