#!/usr/bin/env bash
# Builds and tests the interpreter alone (-DLOOKOUT_RUNTIME_ONLY=ON), as a
# project that only wants the library would, in build-runtime/:
#
#   scripts/runtime_only.sh                 with XNNPACK (flatbuffers, XNNPACK, pthreadpool)
#   scripts/runtime_only.sh --no-xnnpack    flatbuffers alone (build-runtime-noxnnpack/)
#
# Tests that need XNNPACK or ../shared skip by name.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build-runtime
EXTRA=()
if [ "${1:-}" = "--no-xnnpack" ]; then
  BUILD_DIR=build-runtime-noxnnpack
  EXTRA=(-DLOOKOUT_WITH_XNNPACK=OFF)
fi

./scripts/setup.sh
BUILD_DIR=$BUILD_DIR ./scripts/build.sh -DLOOKOUT_RUNTIME_ONLY=ON "${EXTRA[@]}"
status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" || status=$?
./scripts/lib/skipped.sh "$BUILD_DIR"
exit $status
