#!/usr/bin/env bash
# Configures and builds Lookout into build/ (or $BUILD_DIR). Extra arguments go
# to CMake's configure step, e.g. -DLOOKOUT_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DLOOKOUT_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
