# shellcheck shell=bash
# Shared by the scripts that build tools into the cache outside the repository (tools/kube/setup.sh,
# tools/felix/build.sh): their progress lines and their common command line.
#
#   hn_tool_init TAG PRINT_FLAG PRINT_VALUE [ARG]
#     log/die print `[TAG +Ns] …` / `[TAG] ERROR: …` on stderr (N: seconds since the init); MODE=build, or
#     MODE=force for `--force`; PRINT_FLAG prints PRINT_VALUE and exits; any other argument dies.

# shellcheck disable=SC2034 # MODE is read by the caller
hn_tool_init() {
  HN_TOOL_TAG=$1
  T0=$(date +%s)
  MODE=build
  case "${4:-}" in
    "$2") echo "$3"; exit 0 ;;
    --force) MODE=force ;;
    "") ;;
    *) die "unknown argument '$4' (use $2 or --force)" ;;
  esac
}

log() { printf '[%s +%ss] %s\n' "$HN_TOOL_TAG" "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$HN_TOOL_TAG" "$*" >&2; exit 1; }

# hn_heartbeat_start TEXT: logs `TEXT (Ns)` every minute in the background, so that a long cold build does not look
# stuck in CI logs. The heartbeat closes fd 9 (the caller's lock) and takes its sleep with it when stopped, so neither
# the lock nor the output stays open after the build. hn_heartbeat_stop ends it (safe to call twice, or from a trap).
hn_heartbeat_start() {
  local text=$1 since
  since=$(date +%s)
  (
    exec 9>&-
    nap=
    trap '[ -n "$nap" ] && kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep 60 &
      nap=$!
      wait "$nap"
      log "$text ($(($(date +%s) - since))s)"
    done
  ) &
  HN_HEARTBEAT=$!
}
hn_heartbeat_stop() {
  [ -n "${HN_HEARTBEAT:-}" ] || return 0
  kill "$HN_HEARTBEAT" 2>/dev/null || true
  wait "$HN_HEARTBEAT" 2>/dev/null || true
  HN_HEARTBEAT=
}
