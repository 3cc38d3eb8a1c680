#!/usr/bin/env bash
# Installs the runtime's development files from BUILD_DIR into a temporary
# prefix (cmake --install --component runtime-dev), then builds the program
# in SOURCE_DIR against them twice, with CMake's find_package and with
# pkg-config, and runs both builds on MODEL: they must print the same line.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR MODEL CXX
set -euo pipefail
build_dir=$1 source_dir=$2 model=$3 cxx=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" --component runtime-dev >/dev/null
echo "installed: $(cd "$work/prefix" && find . -type f | sort | tr '\n' ' ')"

cmake -S "$source_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
with_cmake=$("$work/build/classify_raw" "$model")
echo "find_package: $with_cmake"

pc_dir=$(dirname "$(find "$work/prefix" -name lookout-runtime.pc)")
# shellcheck disable=SC2046  # pkg-config's flags are words
"$cxx" -std=c++20 -o "$work/classify_raw_pc" "$source_dir/main.cc" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs lookout-runtime)
with_pc=$("$work/classify_raw_pc" "$model")
echo "pkg-config: $with_pc"

case "$with_cmake" in
  "nodes "*", outputs 1001, top class "*) ;;
  *) echo "unexpected output: $with_cmake" >&2; exit 1 ;;
esac
[ "$with_cmake" = "$with_pc" ] || { echo "the two builds disagree" >&2; exit 1; }
