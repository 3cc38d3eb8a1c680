#!/usr/bin/env bash
# Builds Lookout (warnings are errors) and runs its whole test suite on one
# of the four platforms, from this Debian 12 amd64 machine:
#
#   scripts/platform.sh bookworm-amd64            natively (what scripts/test.sh does)
#   scripts/platform.sh trixie-amd64              in a Debian 13 build root (chroot)
#   scripts/platform.sh bookworm-arm64 [CPU...]   cross-built, tests under qemu-aarch64-static
#   scripts/platform.sh trixie-arm64 [CPU...]     cross-built in the Debian 13 build root
#
# CPU is a qemu CPU model, default "cortex-a72 cortex-a76" (Raspberry Pi 4
# and 5): the arm64 suite runs once per CPU (the reference kernels' golden
# test over every shared model, which no CPU feature changes, with the
# first only). The build goes to
# build-PLATFORM/. Roots and sysroots are made on first use
# (scripts/roots.sh, ~5 min for the build root, ~1 min per sysroot) and kept.
# BUILD_ONLY=1 builds without testing. Needs root (mmdebstrap, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/roots.sh

platform=${1:?platform: bookworm-amd64, trixie-amd64, bookworm-arm64 or trixie-arm64}
shift
cpus=("$@")
[ ${#cpus[@]} -gt 0 ] || cpus=(cortex-a72 cortex-a76)
release=${platform%-*}
arch=${platform#*-}
build_dir=build-$platform
host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

case $release in bookworm | trixie) ;; *) echo "platform.sh: unknown release in $platform" >&2; exit 2 ;; esac
case $arch in amd64 | arm64) ;; *) echo "platform.sh: unknown architecture in $platform" >&2; exit 2 ;; esac

# Runs a command for $release: here when this machine is that release, else
# in its build root.
in_release() {
  if [ "$release" = "$host_release" ] && [ "${LOOKOUT_IN_BUILDROOT:-}" != 1 ]; then
    "$@"
  else
    roots_run "$release" "$@"
  fi
}

configure_args=(-DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DLOOKOUT_WERROR=ON)
if [ "$arch" = arm64 ]; then
  sysroot=$(roots_sysroot "$release")
  configure_args+=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
                   -DLOOKOUT_SYSROOT="$sysroot")
elif [ "$release" = "$host_release" ]; then
  ./scripts/setup.sh
fi

start=$(date +%s)
in_release cmake -S . -B "$build_dir" "${configure_args[@]}" >/dev/null
in_release cmake --build "$build_dir" -j"$(nproc)"
echo "platform.sh: $platform built in $(( $(date +%s) - start )) s" >&2
[ "${BUILD_ONLY:-}" = 1 ] && exit 0

run_suite() {  # run_suite LABEL [VAR=VALUE...] [-- CTEST-ARGS...]
  local label=$1
  shift
  local t0 vars=() extra=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; extra=("$@"); }
  t0=$(date +%s)
  in_release env "${vars[@]}" ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" \
    --output-junit "junit-$label.xml" "${extra[@]}"
  echo "platform.sh: $label suite passed in $(( $(date +%s) - t0 )) s" >&2
}

# Under qemu the first CPU runs the whole suite; the others run what has
# CPU-dependent paths, the runtime's kernels (XNNPACK's and ours choose by
# CPU features), except the reference kernels' check, which has none. The
# daemon and integration tests run the same kernels on top of them.
CPU_INDEPENDENT="reference kernels give TFLite's reference outputs on every shared model"
# The 2-minute soak (tests/integration/faults_test.cc) runs in the native
# suite (scripts/test.sh); elsewhere it is skipped by name.
SOAK=LOOKOUT_SOAK_SECONDS=${LOOKOUT_SOAK_SECONDS:-0}
# The socket and bad-file fault tests exercise no CPU-dependent code and take
# minutes under qemu: natively (Debian 12 and 13, and under ASan) only.
NATIVE_ONLY="100 socket clients at once|bad frames in an image folder are counted"

if [ "$arch" = arm64 ]; then
  first=1
  for cpu in "${cpus[@]}"; do
    if [ "$first" = 1 ]; then
      echo "platform.sh: $platform-$cpu: not under qemu (run natively): $NATIVE_ONLY" >&2
      exclude=(-E "$NATIVE_ONLY")
      if [ -n "${LOOKOUT_QEMU_EXCLUDE_LABEL:-}" ]; then
        echo "platform.sh: $platform-$cpu: not the tests labelled $LOOKOUT_QEMU_EXCLUDE_LABEL (LOOKOUT_QEMU_EXCLUDE_LABEL)" >&2
        exclude+=(-LE "$LOOKOUT_QEMU_EXCLUDE_LABEL")
      fi
      run_suite "$platform-$cpu" QEMU_CPU="$cpu" "$SOAK" -- "${exclude[@]}"
    else
      echo "platform.sh: $platform-$cpu: the runtime's tests only (the rest passed with ${cpus[0]}), not: $CPU_INDEPENDENT" >&2
      run_suite "$platform-$cpu" QEMU_CPU="$cpu" "$SOAK" -- -L runtime -E "$CPU_INDEPENDENT"
    fi
    first=0
  done
else
  run_suite "$platform" LOOKOUT_PLATFORM="$platform" "$SOAK"
fi
