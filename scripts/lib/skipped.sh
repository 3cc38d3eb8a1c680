#!/usr/bin/env bash
# Lists the tests of the last CTest run in BUILD_DIR that were skipped, with
# the reason each printed (LOOKOUT-TEST-SKIPPED lines, tests/support/catch_compat.h).
set -euo pipefail
log="${1:?build folder}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || exit 0
skipped=$(grep -h '^LOOKOUT-TEST-SKIPPED ' "$log" | sed 's/^LOOKOUT-TEST-SKIPPED /  /' | sort -u || true)
if [ -n "$skipped" ]; then
  echo "Skipped tests ($(printf '%s\n' "$skipped" | wc -l)):"
  printf '%s\n' "$skipped"
fi
