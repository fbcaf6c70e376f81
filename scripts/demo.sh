#!/usr/bin/env bash
# The main job. Until `hybridnet sandbox demo` exists, this runs the IPAM engine's demo benchmark:
# it fills an IPv4 /16 and an IPv6 /64, churns and rebuilds, and prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
HYBRIDNET_SKIP_KUBE=1 bash scripts/setup.sh
node --expose-gc --import tsx bench/ipam/index.ts
