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
