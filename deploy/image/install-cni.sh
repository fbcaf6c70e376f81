#!/bin/sh
# The daemon set's install-cni init container: `hybridnet install-cni` (plugin bundle, community plugins, conflist)
# and then the Node.js runtime the plugin needs on the host. The plugin is a Node.js script; hosts do not have Node.js,
# so the image's `node` is copied next to it as `hybridnet-node` and the plugin's first line is pointed at it.
set -eu

home=${HYBRIDNET_HOME:-/opt/hybridnet}

bin_dir=/opt/cni/bin
for arg in "$@"; do
  case "$arg" in
    --bin-dir=*) bin_dir=${arg#--bin-dir=} ;;
  esac
done

node "$home/bin/hybridnet.mjs" install-cni --plugin="$home/dist/cni/hybridnet" "$@"

node_bin=$(command -v node)
cp "$node_bin" "$bin_dir/hybridnet-node.tmp"
chmod 0755 "$bin_dir/hybridnet-node.tmp"
mv -f "$bin_dir/hybridnet-node.tmp" "$bin_dir/hybridnet-node"
plugin="$bin_dir/hybridnet"
sed "1s|^#!.*|#!$bin_dir/hybridnet-node|" "$plugin" >"$plugin.tmp"
chmod 0755 "$plugin.tmp"
mv -f "$plugin.tmp" "$plugin"
echo "installed $bin_dir/hybridnet-node (the plugin's Node.js runtime)"
