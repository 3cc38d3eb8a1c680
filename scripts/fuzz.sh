#!/usr/bin/env bash
# Fuzzes the model loader and interpreter with libFuzzer under ASan + UBSan
# (tests/fuzz/README.md). Installs clang and its runtimes if needed, builds
# build-fuzz/bin/model_fuzzer with clang, and runs it over a working corpus in
# build-fuzz/corpus (seeded from tests/data/fuzz_corpus; new inputs land
# there, never in the source tree) and the regression fixtures in
# tests/data/fuzz_regressions. Crashes go to build-fuzz/artifacts/.
#
#   scripts/fuzz.sh                  fuzz for 60 seconds
#   scripts/fuzz.sh 600              fuzz for 600 seconds
#   scripts/fuzz.sh -runs=10000000   any libFuzzer flags (-max_total_time,
#                                    -runs, -jobs, -rss_limit_mb, -max_len ...)
#
# One job by default; -jobs=N runs N in parallel (logs in build-fuzz/fuzz-*.log).
# BUILD_JOBS sets the build's parallelism (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-fuzz}

args=()
if [ $# -eq 0 ]; then
  args=(-max_total_time=60)
elif [[ "$1" =~ ^[0-9]+$ ]]; then
  args=(-max_total_time="$1")
  shift
fi
args+=("$@")

./scripts/setup.sh --fuzz
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLOOKOUT_FUZZ=ON -DLOOKOUT_WERROR=ON >/dev/null
else
  cmake "$BUILD_DIR" >/dev/null
fi
cmake --build "$BUILD_DIR" --target model_fuzzer -j"${BUILD_JOBS:-$(nproc)}"

# The working corpus keeps what earlier runs found; the seeds are copied in
# (without overwriting) so that a regenerated seed corpus reaches it too.
mkdir -p "$BUILD_DIR/corpus" "$BUILD_DIR/artifacts"
cp -n tests/data/fuzz_corpus/* "$BUILD_DIR/corpus/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
# Defaults first: a later flag of the same name overrides them.
exec ./bin/model_fuzzer -max_len=16384 -timeout=30 -print_final_stats=1 \
  -artifact_prefix="$ROOT/$BUILD_DIR/artifacts/" "${args[@]}" \
  "$ROOT/$BUILD_DIR/corpus" "$ROOT/tests/data/fuzz_regressions"
