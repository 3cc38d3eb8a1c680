#!/usr/bin/env bash
# Makes and enters the build roots and arm64 sysroots of the four platforms
# (scripts/lib/roots.sh), from Debian's package mirror only. Needs root.
#
#   scripts/roots.sh buildroot trixie        Debian 13 amd64 build root (mmdebstrap, ~5 min)
#   scripts/roots.sh sysroot bookworm|trixie arm64 sysroot (mmdebstrap --variant=extract)
#   scripts/roots.sh run trixie CMD ARGS...  run CMD inside the build root, in the checkout
#   scripts/roots.sh path trixie-amd64       print where a root lives
#   scripts/roots.sh clean                   remove every root
#
# Roots are made once and kept under $LOOKOUT_ROOTS_DIR (default
# ~/.cache/lookout/roots); delete one to remake it.
set -euo pipefail
. "$(dirname "$0")/lib/roots.sh"

case ${1:-} in
  buildroot) roots_buildroot "${2:?release}" ;;
  sysroot) roots_sysroot "${2:?release}" ;;
  run) shift; release=${1:?release}; shift; roots_run "$release" "$@" ;;
  path) echo "$LOOKOUT_ROOTS_DIR/${2:?platform}" ;;
  clean) rm -rf "$LOOKOUT_ROOTS_DIR" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
