#!/bin/sh
# The daemon set's uninstall-policy init container (chart value daemon.cleanFelixRulesWhilePolicyDisabled): removes
# what a previous Felix (Calico NetworkPolicy, run by the original Hybridnet) left in iptables: every cali-* chain and
# every rule that jumps to one or carries a "cali:" comment, in both backends and both families. Idempotent.
set -eu

clean() {
  save=$1
  restore=$2
  command -v "$save" >/dev/null 2>&1 || return 0
  rules=$("$save" 2>/dev/null) || return 0
  printf '%s\n' "$rules" | grep -q -e 'cali-' -e 'cali:' || return 0
  # Keep tables, built-in chains and every rule that is not Felix's; drop cali-* chain declarations.
  printf '%s\n' "$rules" |
    grep -v -e '^:cali-' -e '-j cali-' -e '-g cali-' -e '--comment "\{0,1\}cali:' -e '^-A cali-' |
    "$restore"
  echo "uninstall-policy: removed Felix rules with $save"
}

for mode in legacy nft; do
  clean "iptables-$mode-save" "iptables-$mode-restore"
  clean "ip6tables-$mode-save" "ip6tables-$mode-restore"
done
