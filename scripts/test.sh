#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs the whole
# test suite (CTest: unit, golden, classification, config, socket, MQTT and
# end-to-end daemon tests). `--sanitize` does the same in build-asan/ with
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
# Tests that need the real models, photos and golden outputs in ../shared
# (LOOKOUT_SHARED_DIR overrides) are reported as skipped, by name and with
# the reason, when it is absent; the rest run on the repository's own data.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build
EXTRA=()
if [ "${1:-}" = "--sanitize" ]; then
  BUILD_DIR=build-asan
  # -O1 with line tables only (-g1): reports keep their file:line, and the
  # build takes about half the time of -O2 -g.
  EXTRA=(-DLOOKOUT_SANITIZE=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
         "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # The soak's memory bounds mean nothing under ASan (its quarantine grows
  # on purpose); the plain build runs it.
  export LOOKOUT_SOAK_SECONDS=${LOOKOUT_SOAK_SECONDS:-0}
fi

./scripts/setup.sh
BUILD_DIR=$BUILD_DIR ./scripts/build.sh "${EXTRA[@]}"
status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" || status=$?
./scripts/lib/skipped.sh "$BUILD_DIR"
exit $status
