#!/usr/bin/env bash
# Counts the arm64 instructions of one Invoke(), exactly and without noise:
# the cross-built `lookout bench` runs under qemu-aarch64-static with a pinned
# CPU model and `-d nochain,exec,in_asm`, and the instructions of every
# executed translation block are summed (scripts/lib/icount.awk). A run with
# N+1 Invokes minus a run with N removes start-up, model loading and
# preparation; the same for a whole `lookout run` (load, prepare, one Invoke)
# is printed beside it. Same binary, inputs and CPU model = same count, on
# any machine, whatever else it is doing.
#
#   scripts/arm64_icount.sh [options] [MODEL.tflite...]
#     --release bookworm|trixie  which arm64 build (default bookworm): build-RELEASE-arm64/
#     --cpu NAME                 qemu CPU model, repeatable (default cortex-a72 and cortex-a76)
#     --threads N                Invoke threads (default 1)
#     --backend NAME             xnnpack (default) or reference
#     --pi-cpuinfo               show XNNPACK a Raspberry Pi's /proc/cpuinfo (Cortex-A72 r0p3 /
#                                A76 r4p1) so it picks kernels by core type as on a board
#     --symbols N                also list the N functions with most instructions per Invoke
#                                (in shared libraries: the nearest exported function, as
#                                LIBRARY:NAME, from the guest's LD_DEBUG=files bases)
#     --json                     one JSON object per model and CPU
#
# Default models: the repository's default model and, when ../shared is
# there, every shared model. Builds with BUILD_ONLY=1 scripts/platform.sh
# when the build is missing. Needs root for --pi-cpuinfo (unshare -m).
# About 35 s per 100 M instructions counted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/lib/roots.sh

release=bookworm
cpus=()
threads=1
backend=xnnpack
pi_cpuinfo=0
symbols=0
json=0
models=()
while [ $# -gt 0 ]; do
  case $1 in
    --release) release=$2; shift 2 ;;
    --cpu) cpus+=("$2"); shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --pi-cpuinfo) pi_cpuinfo=1; shift ;;
    --symbols) symbols=$2; shift 2 ;;
    --json) json=1; shift ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "arm64_icount.sh: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#cpus[@]} -gt 0 ] || cpus=(cortex-a72 cortex-a76)
if [ ${#models[@]} -eq 0 ]; then
  models=("$ROOT/models/mobilenet_v2_1.0_224_quant.tflite")
  shared=${LOOKOUT_SHARED_DIR:-$(dirname "$ROOT")/shared}
  if [ -d "$shared/models" ]; then
    for m in "$shared"/models/*.tflite; do
      [ "$(basename "$m")" = "$(basename "${models[0]}")" ] || models+=("$m")
    done
  fi
fi

build_dir=$ROOT/build-$release-arm64
sysroot=$LOOKOUT_ROOTS_DIR/$release-arm64
if [ ! -x "$build_dir/bin/lookout" ] || [ ! -d "$sysroot" ]; then
  BUILD_ONLY=1 scripts/platform.sh "$release-arm64" >&2
fi
lookout=$build_dir/bin/lookout
work=$(mktemp -d /tmp/lookout-icount.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A Pi-like /proc/cpuinfo: XNNPACK's cpuinfo reads the core type (MIDR) from
# it, and qemu-user shows the guest the host's own.
write_cpuinfo() {
  local cpu=$1 part variant revision
  case $cpu in
    cortex-a72) part=0xd08; variant=0x0; revision=3 ;;
    cortex-a76) part=0xd0b; variant=0x4; revision=1 ;;
    *) echo "arm64_icount.sh: no Pi cpuinfo for $cpu" >&2; exit 2 ;;
  esac
  : >"$work/cpuinfo"
  for n in 0 1 2 3; do
    cat >>"$work/cpuinfo" <<EOF
processor	: $n
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid$([ "$cpu" = cortex-a76 ] && echo " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp")
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: $variant
CPU part	: $part
CPU revision	: $revision

EOF
  done
}

# count CPU ARGS...: prints "total N" and "symbol N NAME" lines for one run.
count() {
  local cpu=$1
  shift
  local qemu=(qemu-aarch64-static -cpu "$cpu" -L "$sysroot" -d nochain,exec,in_asm -D /dev/fd/3)
  # The guest's environment only: LD_DEBUG on the host would make awk talk too.
  [ -n "${GUEST_ENV:-}" ] && qemu+=(-E "$GUEST_ENV")
  if [ "$pi_cpuinfo" = 1 ]; then
    write_cpuinfo "$cpu"
    # shellcheck disable=SC2016
    unshare --mount --propagation private -- /bin/bash -c \
      'mount --bind "$1" /proc/cpuinfo; shift; exec "$@"' bash "$work/cpuinfo" \
      "${qemu[@]}" "$@" 3>&1 >/dev/null 2>"$work/stderr" | awk -v pcs="$((symbols > 0))" -f scripts/lib/icount.awk
  else
    "${qemu[@]}" "$@" 3>&1 >/dev/null 2>"$work/stderr" | awk -v pcs="$((symbols > 0))" -f scripts/lib/icount.awk
  fi
}

bench() {  # bench CPU MODEL RUNS
  if [ "$symbols" -gt 0 ]; then
    GUEST_ENV=LD_DEBUG=files count "$1" "$lookout" bench --model "$2" --threads "$threads" --backend "$backend" \
      --warmup 0 --runs "$3" >"$work/raw"
    python3 scripts/lib/icount_symbols.py "$sysroot" "$work/stderr" <"$work/raw"
  else
    count "$1" "$lookout" bench --model "$2" --threads "$threads" --backend "$backend" --warmup 0 --runs "$3"
  fi
}

for model in "${models[@]}"; do
  name=$(basename "$model" .tflite)
  input=$work/$name.in.raw
  # lookout run wants exactly the input's bytes: bench's own input is a
  # fixed pseudo-random pattern, so run on a zero-point-free constant.
  size=$(qemu-aarch64-static -L "$sysroot" "$lookout" inspect --json "$model" |
         python3 -c 'import json, sys; print(json.load(sys.stdin)["inputs"][0]["bytes"])')
  head -c "$size" /dev/zero | tr '\0' '\200' >"$input"
  for cpu in "${cpus[@]}"; do
    bench "$cpu" "$model" 1 >"$work/one"
    bench "$cpu" "$model" 2 >"$work/two"
    count "$cpu" "$lookout" run --model "$model" --input "$input" --output /dev/null \
      --threads "$threads" --backend "$backend" >"$work/run"
    one=$(awk '$1 == "total" { print $2 }' "$work/one")
    two=$(awk '$1 == "total" { print $2 }' "$work/two")
    run=$(awk '$1 == "total" { print $2 }' "$work/run")
    invoke=$((two - one))
    if [ "$json" = 1 ]; then
      printf '{"model":"%s","cpu":"%s","release":"%s","threads":%s,"backend":"%s","pi_cpuinfo":%s,"invoke_instructions":%s,"run_instructions":%s}\n' \
        "$name" "$cpu" "$release" "$threads" "$backend" "$([ "$pi_cpuinfo" = 1 ] && echo true || echo false)" "$invoke" "$run"
    else
      printf '%-34s %-11s %-8s Invoke %8.2f M   lookout run %8.2f M\n' "$name" "$cpu" "$release" \
        "$(awk -v n="$invoke" 'BEGIN { print n / 1e6 }')" "$(awk -v n="$run" 'BEGIN { print n / 1e6 }')"
    fi
    if [ "$symbols" -gt 0 ]; then
      join -j 1 -a 2 -e 0 -o 0,1.2,2.2 \
        <(awk '$1 == "symbol" { print $3, $2 }' "$work/one" | sort) \
        <(awk '$1 == "symbol" { print $3, $2 }' "$work/two" | sort) |
        awk '{ d = $3 - $2; if (d > 0) print d, $1 }' | sort -rn | head -n "$symbols" |
        while read -r n sym; do
          printf '    %8.3f M  %s\n' "$(awk -v n="$n" 'BEGIN { print n / 1e6 }')" "$(echo "$sym" | c++filt | cut -c1-110)"
        done
    fi
  done
done
