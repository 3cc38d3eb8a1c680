#!/usr/bin/env bash
# Installs the runtime's development files from BUILD_DIR into a temporary
# prefix (cmake --install --component runtime-dev), then builds the program
# in SOURCE_DIR against them twice, with CMake's find_package and with
# pkg-config, and runs both builds on MODEL: they must print the same line.
# Unless BUILD_DIR is the runtime alone (LOOKOUT_RUNTIME_ONLY), then stages
# the whole install (DESTDIR, the configured prefix) and checks the systemd
# units: lookoutd.service and the template lookoutd@.service side by side,
# the template running the same lookoutd on CONFIG_DIR/%i.json (CONFIG_DIR:
# the single unit's configuration file's folder) with its own runtime
# directory, and otherwise the same service settings; then systemd-analyze
# (required): both units verify, and their sandbox rates an exposure of at
# most 2.0 (systemd-analyze security --offline=yes).
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

case $(sed -n 's/^LOOKOUT_RUNTIME_ONLY:[A-Z]*=//p' "$build_dir/CMakeCache.txt" | tr '[:lower:]' '[:upper:]') in
  ON | 1 | TRUE | YES | Y)
    echo "units: none, the runtime alone is built"
    exit 0
    ;;
esac
DESTDIR="$work/stage" cmake --install "$build_dir" >/dev/null
single=$(find "$work/stage" -name lookoutd.service)
template=$(find "$work/stage" -name 'lookoutd@.service')
if [ -z "$single" ] || [ -z "$template" ]; then
  echo "lookoutd.service or lookoutd@.service not installed" >&2
  exit 1
fi
[ "$(dirname "$single")" = "$(dirname "$template")" ] ||
  { echo "the units are not side by side: $single $template" >&2; exit 1; }
echo "units: ${single#"$work/stage"} ${template#"$work/stage"}"

# The single unit's lookoutd and configuration (ExecStart=BIN --config FILE).
read -r lookoutd _ config_file < <(sed -n 's/^ExecStart=//p' "$single")
config_dir=$(dirname "$config_file")
[ -x "$work/stage$lookoutd" ] || { echo "the units run $lookoutd, which is not installed" >&2; exit 1; }
expect() {  # expect KEY VALUE: the template's one KEY= line is VALUE
  local got
  got=$(sed -n "s/^$1=//p" "$template")
  [ "$got" = "$2" ] || { echo "lookoutd@.service: $1=$got, expected $1=$2" >&2; exit 1; }
}
expect ExecStartPre "$lookoutd --check-config $config_dir/%i.json"
expect ExecStart "$lookoutd --config $config_dir/%i.json"
expect RuntimeDirectory "lookout/%i"
expect ExecReload "/bin/kill -HUP \$MAINPID"
echo "template: ExecStart=$(sed -n 's/^ExecStart=//p' "$template")"

# Everything else (type, watchdog, restart, user, hardening, install) alike.
settings() { grep -v -e '^#' -e '^$' -e '^Description=' -e '^ExecStart' -e '^RuntimeDirectory=' "$1"; }
diff <(settings "$single") <(settings "$template") >&2 ||
  { echo "lookoutd.service and lookoutd@.service differ beyond instance settings" >&2; exit 1; }

# systemd's own checks. systemd-analyze (Debian's systemd package, which
# scripts/setup.sh installs) is required: without it this fails, not skips.
command -v systemd-analyze >/dev/null ||
  { echo "systemd-analyze not found (install the systemd package): the units are not checked" >&2; exit 1; }

# The units load: verify, on copies running the staged lookoutd (verify wants
# the ExecStart= program to exist).
mkdir "$work/units"
for unit in "$single" "$template"; do
  sed "s|$lookoutd|$work/stage$lookoutd|" "$unit" >"$work/units/$(basename "$unit")"
done
systemd-analyze verify --man=no "$work/units/lookoutd.service" "$work/units/lookoutd@doorbell.service"
echo "systemd-analyze verify: lookoutd.service lookoutd@doorbell.service pass"

# The sandbox holds: each installed unit's exposure (systemd-analyze security,
# offline: from the file alone) is at most 2.0. --threshold counts in tenths;
# above it, security exits non-zero.
max_exposure=2.0 threshold=20
units=("$single" "$(dirname "$template")/lookoutd@doorbell.service")
status=0
report=$(systemd-analyze security --offline=yes --threshold="$threshold" "${units[@]}" 2>&1) || status=$?
exposures=$(sed -n 's/.*Overall exposure level for \([^:]*\): \([0-9.]*\).*/\1 \2/p' <<<"$report")
if [ "$status" -ne 0 ] || [ "$(wc -l <<<"$exposures")" -ne ${#units[@]} ]; then
  echo "$report" >&2
  echo "systemd-analyze security: exposure above $max_exposure (or no rating): $(tr '\n' ' ' <<<"$exposures")" >&2
  echo "(systemd/lookoutd.service.in explains what the units leave open)" >&2
  exit 1
fi
echo "systemd-analyze security: exposure at most $max_exposure: $(tr '\n' ' ' <<<"$exposures")"
