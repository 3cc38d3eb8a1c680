#!/usr/bin/env bash
# Builds the Debian package lookout_<version>-1+deb<N>_<arch>.deb (CPack,
# cmake/Packaging.cmake) for Debian 12 / 13 and Raspberry Pi OS bookworm /
# trixie, amd64 and arm64, into build-pkg/:
#
#   scripts/package.sh                  all four platforms
#   scripts/package.sh trixie-arm64 ... the platforms named
#   scripts/package.sh --check [PLATFORM...]
#                                       the platforms named (default all four), then
#                                       lintian on each (the release's own; fails on
#                                       errors); arm64 programs run under qemu; the
#                                       trixie amd64 package installed with apt-get in
#                                       the Debian 13 build root, its configuration
#                                       checked, photos classified, purged, and nothing
#                                       of it left (CI: --check trixie-amd64)
#
# Each platform builds in build-pkg-PLATFORM/ (prefix /usr, no tests, warnings
# are errors, Debian's hardening flags) where scripts/platform.sh builds it:
# natively or in the trixie build root, arm64 cross-built against the
# release's sysroot (scripts/lib/roots.sh). Dependencies are dpkg-shlibdeps'
# over the binaries, in the release's own dpkg database. The arm64 sysroots
# have no dpkg database, so an arm64 package takes the Depends of the amd64
# package of the same release (built first): a Debian release builds every
# library package with the same name and version on every architecture.
# That holds only if both link the same libraries, so the arm64 binaries
# must need exactly the sonames the amd64 ones need, each present in the
# sysroot; otherwise the package is refused.
# Needs root (chroot). JOBS=N sets build parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/roots.sh

ALL_PLATFORMS=(bookworm-amd64 bookworm-arm64 trixie-amd64 trixie-arm64)
OUT_DIR=build-pkg
BINARIES=(lookoutd lookout lookout-classify)
host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

log() { echo "package: $*" >&2; }
die() { echo "package: $*" >&2; exit 1; }

# Runs a command for a release: here when this machine is that release, else
# in its build root (as scripts/platform.sh does).
in_release() {
  local release=$1
  shift
  if [ "$release" = "$host_release" ] && [ "${LOOKOUT_IN_BUILDROOT:-}" != 1 ]; then
    "$@"
  else
    roots_run "$release" "$@"
  fi
}

deb_of() {  # deb_of PLATFORM: the package file in build-pkg/ (may not exist)
  local release=${1%-*} arch=${1#*-} version number
  version=$(sed -n 's/^project(lookout VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
  case $release in bookworm) number=12 ;; trixie) number=13 ;; esac
  echo "$OUT_DIR/lookout_${version}-1+deb${number}_${arch}.deb"
}

# needed DIR: "binary soname" lines, sorted; without the dynamic loader
# (libc6's, named per architecture and needed explicitly on arm64 only).
needed() {
  local b
  for b in "${BINARIES[@]}"; do
    readelf -d "$1/bin/$b" | sed -n "s/.*(NEEDED).*\[\(.*\)\]/$b \1/p" | grep -v ' ld-linux'
  done | sort
}

# --- run in the release's environment ----------------------------------------

# inner_build PLATFORM [DEPENDS]: configure, build and cpack one platform.
inner_build() {
  local platform=$1 depends=${2:-} release=${1%-*} arch=${1#*-}
  local dir=build-pkg-$platform
  export DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_HOST_ARCH=$arch
  local cppflags
  cppflags=$(dpkg-buildflags --get CPPFLAGS)
  local args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOKOUT_WERROR=ON -DLOOKOUT_BUILD_TESTS=OFF
              -DCMAKE_INSTALL_PREFIX=/usr -DLOOKOUT_DEB=ON -DLOOKOUT_DEB_DISTRIBUTION="$release"
              -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $cppflags"
              -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CXXFLAGS) $cppflags"
              -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
              -DLOOKOUT_DEB_DEPENDS="$depends")
  if [ "$arch" = arm64 ]; then
    args+=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
           -DLOOKOUT_SYSROOT="$(roots_sysroot "$release")")
  fi
  cmake -S . -B "$dir" "${args[@]}" >/dev/null
  cmake --build "$dir" -j"${JOBS:-2}"
  rm -rf "$dir/deb"
  (cd "$dir" && cpack -G DEB >/dev/null)
}

# inner_install_check DEB: install with apt (dependencies from the installed
# system only, nothing downloaded), check, purge, check nothing is left.
inner_install_check() {
  local deb=$1 models=/usr/share/lookout/models
  export DEBIAN_FRONTEND=noninteractive
  if dpkg-query -W lookout >/dev/null 2>&1; then
    log "lookout was installed already: purging it first"
    dpkg --purge lookout >/dev/null
  fi
  local files had_group=0
  files=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; /\/$/d')
  getent group lookout >/dev/null && had_group=1

  # Every dependency is installed already (the -dev packages pulled them in):
  # apt installs the package alone and downloads nothing.
  local plan
  plan=$(apt-get install -s "$PWD/$deb" | sed -n 's/^Inst \([^ ]*\).*/\1/p')
  [ "$plan" = lookout ] || die "apt would install more than lookout: $(echo "$plan" | tr '\n' ' ')"
  apt-get install -y -q "$PWD/$deb"
  dpkg-query -W -f='${Package} ${Version} ${Status}\n' lookout
  [ "$(dpkg-query -W -f='${Conffiles}' lookout | awk '{print $1}')" = /etc/lookout/lookoutd.json ] ||
    die "/etc/lookout/lookoutd.json is not the package's conffile"
  getent group lookout >/dev/null || die "no lookout group after install"
  [ -L /etc/systemd/system/multi-user.target.wants/lookoutd.service ] ||
    die "lookoutd.service was not enabled"
  # The template (one service per camera) is shipped, never enabled: its
  # instances are the user's.
  [ -f /usr/lib/systemd/system/lookoutd@.service ] || die "lookoutd@.service is not installed"
  if compgen -G '/etc/systemd/system/*/lookoutd@*' >/dev/null; then
    die "the package enabled lookoutd@.service: $(echo /etc/systemd/system/*/lookoutd@*)"
  fi
  local exe unit
  for unit in lookoutd.service lookoutd@.service; do
    while IFS= read -r exe; do
      [ -x "$exe" ] || die "$unit runs $exe, which is not installed"
    done < <(sed -n 's/^ExecStart\(Pre\)\{0,1\}=\([^ ]*\).*/\2/p' "/usr/lib/systemd/system/$unit")
  done

  log "lookoutd --check-config /etc/lookout/lookoutd.json"
  local effective
  effective=$(lookoutd --check-config /etc/lookout/lookoutd.json)
  echo "$effective"
  grep -q "\"path\": \"$models/mobilenet_v2_1.0_224_quant.tflite\"" <<<"$effective" ||
    die "the default configuration does not name the installed model"

  local image expect out
  for image in hot_dog.jpg:935 parrot.jpg:89; do
    expect=${image#*:}
    image=tests/data/images/${image%:*}
    log "lookout classify --model $models/mobilenet_v2_1.0_224_quant.tflite --labels $models/imagenet_labels.txt --top-k 1 --json $image"
    out=$(lookout classify --model "$models/mobilenet_v2_1.0_224_quant.tflite" \
          --labels "$models/imagenet_labels.txt" --top-k 1 --json "$image")
    echo "$out"
    grep -q "\"top_k\":\[{\"index\":$expect," <<<"$out" || die "$image: expected class $expect"
  done

  apt-get purge -y -q lookout
  local left=()
  if dpkg-query -W lookout >/dev/null 2>&1; then
    left+=("dpkg status: $(dpkg-query -W -f='${db:Status-Abbrev}' lookout)")
  fi
  local f
  while IFS= read -r f; do
    if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
  done <<<"$files"
  for f in /etc/lookout /usr/share/lookout /usr/share/doc/lookout /var/lib/dpkg/info/lookout.* \
           /etc/systemd/system/*/lookoutd.service /etc/systemd/system/lookoutd.service \
           /var/lib/systemd/deb-systemd-helper-enabled/lookoutd.service.dsh-also \
           /var/lib/systemd/deb-systemd-helper-enabled/*/lookoutd.service \
           /var/lib/systemd/deb-systemd-helper-masked/lookoutd.service; do
    if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
  done
  if [ ${#left[@]} -gt 0 ]; then
    printf 'package: left after purge: %s\n' "${left[@]}" >&2
    exit 1
  fi
  log "purged: no file, conffile, unit link or dpkg record of lookout left"
  # Debian keeps system groups on purge; the build root is left as it was.
  if [ "$had_group" = 0 ]; then
    groupdel lookout
    log "removed the lookout group the package made (purge keeps it, as Debian does)"
  fi
}

# --- run from the host --------------------------------------------------------

# What this machine's own release needs, installed when missing (as
# scripts/setup.sh does): dpkg-shlibdeps and dpkg-buildflags (dpkg-dev), file
# (CPack finds the programs with it), readelf and strip (binutils), lintian,
# qemu for the arm64 programs. The build roots have them already.
host_tools() {
  local p missing=()
  for p in dpkg-dev file binutils lintian qemu-user-static; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

# build PLATFORM: build-pkg/lookout_..._ARCH.deb for one platform, once per run.
declare -A BUILT=()
build() {
  local platform=$1 release=${1%-*} arch=${1#*-}
  [ -z "${BUILT[$platform]:-}" ] || return 0
  case $release in bookworm | trixie) ;; *) die "unknown release in $platform" ;; esac
  case $arch in amd64 | arm64) ;; *) die "unknown architecture in $platform" ;; esac
  local start depends=""
  start=$(date +%s)
  if [ "$arch" = arm64 ]; then
    build "$release-amd64"
    depends=$(dpkg-deb -f "$(deb_of "$release-amd64")" Depends)
  fi
  log "building $platform"
  in_release "$release" env SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
    ./scripts/package.sh --inner-build "$platform" "$depends"
  if [ "$arch" = arm64 ]; then
    local native=build-pkg-$release-amd64 cross=build-pkg-$platform lib missing=()
    if ! diff <(needed "$native") <(needed "$cross") >/dev/null; then
      diff <(needed "$native") <(needed "$cross") >&2 || true
      die "$platform links other libraries than $release-amd64: its Depends cannot be taken from there"
    fi
    local sysroot
    sysroot=$(roots_sysroot "$release")
    for lib in $(needed "$cross" | awk '{print $2}' | sort -u); do
      [ -e "$sysroot/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "$sysroot/lib/aarch64-linux-gnu/$lib" ] ||
        missing+=("$lib")
    done
    [ ${#missing[@]} -eq 0 ] || die "$platform: not in the sysroot: ${missing[*]}"
  fi
  mkdir -p "$OUT_DIR"
  local deb
  deb=$(deb_of "$platform")
  cp "build-pkg-$platform/deb/$(basename "$deb")" "$deb"
  log "$deb: $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB," \
      "built in $(( $(date +%s) - start )) s"
  log "  Depends: $(dpkg-deb -f "$deb" Depends)"
  BUILT[$platform]=1
}

# smoke_arm64 PLATFORM: the arm64 package's programs, unpacked, run under
# qemu against the release's arm64 libraries (the sysroot): the default
# configuration checks, a photo gets its label.
smoke_arm64() {
  local platform=$1 release=${1%-*} deb dir sysroot out
  deb=$(deb_of "$platform")
  sysroot=$(roots_sysroot "$release")
  dir=$(mktemp -d)
  dpkg-deb -x "$deb" "$dir"
  local run=(qemu-aarch64-static -L "$sysroot")
  "${run[@]}" "$dir/usr/bin/lookoutd" --check-config "$dir/etc/lookout/lookoutd.json" >/dev/null
  out=$("${run[@]}" "$dir/usr/bin/lookout-classify" --model "$dir/usr/share/lookout/models/mobilenet_v2_1.0_224_quant.tflite" \
        --labels "$dir/usr/share/lookout/models/imagenet_labels.txt" --top-k 1 --json tests/data/images/hot_dog.jpg)
  rm -rf "$dir"
  grep -q '"top_k":\[{"index":935,' <<<"$out" || die "$platform under qemu: $out"
  log "$platform under qemu: --check-config passes; hot_dog.jpg: $out"
}

lint() {  # lint PLATFORM: the release's lintian; fails on errors
  local platform=$1 deb
  deb=$(deb_of "$platform")
  local out status=0
  out=$(in_release "${platform%-*}" lintian --allow-root --fail-on error "$deb") || status=$?
  [ -z "$out" ] || echo "$out"
  # shellcheck disable=SC2016
  log "lintian ($platform, lintian $(in_release "${platform%-*}" dpkg-query -W -f='${Version}' lintian)):" \
      "$(grep -c '^E:' <<<"$out") errors, $(grep -c '^W:' <<<"$out") warnings"
  [ "$status" -eq 0 ] || die "lintian found errors in $deb"
}

case ${1:-} in
  --inner-build) shift; inner_build "$@" ;;
  --inner-install-check) shift; inner_install_check "$@" ;;
  --check)
    shift
    t0=$(date +%s)
    platforms=("$@")
    [ ${#platforms[@]} -gt 0 ] || platforms=("${ALL_PLATFORMS[@]}")
    host_tools
    for p in "${platforms[@]}"; do build "$p"; done
    for p in "${platforms[@]}"; do lint "$p"; done
    for p in "${platforms[@]}"; do
      case $p in
        *-arm64) smoke_arm64 "$p" ;;
        trixie-amd64) in_release trixie ./scripts/package.sh --inner-install-check "$(deb_of trixie-amd64)" ;;
      esac
    done
    log "check passed in $(( $(date +%s) - t0 )) s"
    ;;
  -h | --help) sed -n '2,28p' "$0" >&2 ;;
  -*) sed -n '2,28p' "$0" >&2; exit 2 ;;
  *)
    platforms=("$@")
    [ ${#platforms[@]} -gt 0 ] || platforms=("${ALL_PLATFORMS[@]}")
    host_tools
    for p in "${platforms[@]}"; do build "$p"; done
    ;;
esac
