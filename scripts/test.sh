#!/usr/bin/env bash
# Runs every test of the project: type check, lint, format check, unit and property tests,
# and the integration tests against a real kube-apiserver + etcd and real network namespaces.
# Installs what it needs first (scripts/setup.sh). Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
# A smoke run of the IPAM benchmark: proves it still runs; the figures are printed, never asserted.
node --expose-gc --import tsx bench/ipam/index.ts --quick
