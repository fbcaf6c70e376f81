#!/bin/sh
# The daemon set's install-cni init container: `hybridnet install-cni` copies the plugin (a standalone executable
# compiled by Bun: the host needs no JavaScript runtime, glibc only), the community plugins and the conflist.
set -eu

home=${HYBRIDNET_HOME:-/opt/hybridnet}

exec node "$home/bin/hybridnet.mjs" install-cni --plugin="$home/dist/cni/hybridnet" "$@"
