#!/bin/sh
# Entry point of the Hybridnet image: `entrypoint.sh <subcommand> [flags]` runs `hybridnet <subcommand> …`.
# For the daemon (which programs iptables) it first selects the iptables backend the host already uses, like the
# Kubernetes iptables-wrapper: mixing iptables-legacy and iptables-nft rules on one host breaks kube-proxy's and our
# chains, so whichever backend holds more rules wins (nft when neither has any).
set -eu

# Where the image keeps the program (build.sh's output); tests point it elsewhere.
home=${HYBRIDNET_HOME:-/opt/hybridnet}

select_iptables_mode() {
  # HYBRIDNET_IPTABLES_MODE=legacy|nft forces a backend.
  if [ -n "${HYBRIDNET_IPTABLES_MODE:-}" ]; then
    mode=$HYBRIDNET_IPTABLES_MODE
  else
    legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
    nft=$( (iptables-nft-save || true; ip6tables-nft-save || true) 2>/dev/null | grep -c '^-' || true)
    if [ "${legacy:-0}" -gt "${nft:-0}" ]; then mode=legacy; else mode=nft; fi
  fi
  case "$mode" in
    legacy | nft) ;;
    *)
      echo "entrypoint: HYBRIDNET_IPTABLES_MODE=$mode: must be legacy or nft" >&2
      exit 2
      ;;
  esac
  # Debian's alternatives: "iptables" and "ip6tables" carry their -save/-restore as slaves.
  update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
  update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
  echo "entrypoint: iptables backend: $mode (legacy rules: ${legacy:-?}, nft rules: ${nft:-?})" >&2
}

if [ "${1:-}" = "daemon" ]; then
  select_iptables_mode
fi

exec node "$home/bin/hybridnet.mjs" "$@"
