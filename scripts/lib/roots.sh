# Build roots and sysroots for the four platforms (sourced, not run):
#
#   bookworm-amd64  this machine (Debian 12)
#   trixie-amd64    a Debian 13 build root made with mmdebstrap, entered
#                   with chroot in a private mount namespace
#   bookworm-arm64  cross-built here against an arm64 sysroot
#   trixie-arm64    cross-built inside the trixie build root (trixie's
#                   aarch64 compiler and flatc) against a trixie arm64 sysroot
#
# Everything lives under $LOOKOUT_ROOTS_DIR (default ~/.cache/lookout/roots),
# made from Debian's package mirror only. The checkout, ../shared and the
# roots folder are bind-mounted into the build root at their own absolute
# paths, so a build folder means the same inside and outside.

# shellcheck source=packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

LOOKOUT_ROOTS_DIR=${LOOKOUT_ROOTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/roots}

roots_log() { echo "roots: $*" >&2; }

# The Debian mirror apt uses here (first non-security URI), else deb.debian.org.
roots_mirror() {
  if [ -n "${LOOKOUT_DEBIAN_MIRROR:-}" ]; then
    echo "$LOOKOUT_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$( (grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
          grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}') |
         grep -E '/debian/?$' | grep -v security | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

roots_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "roots: making and entering build roots needs root (mmdebstrap, chroot, mount)" >&2
    exit 1
  fi
}

roots_host_tools() {
  local missing=()
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
  if [ ${#missing[@]} -gt 0 ]; then
    roots_log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
}

# roots_buildroot RELEASE: a native (amd64) build root with everything needed
# to build, test and package Lookout, plus the aarch64 cross compiler.
roots_buildroot() {
  local release=$1 dir="$LOOKOUT_ROOTS_DIR/$1-amd64"
  local pkgs=("${LOOKOUT_LIB_DEV_PACKAGES[@]}" "${LOOKOUT_BUILD_TOOLS[@]}" "${LOOKOUT_TEST_PACKAGES[@]}"
              g++-aarch64-linux-gnu dpkg-dev fakeroot lintian file)
  if [ -f "$dir/.lookout-root-complete" ]; then
    # A root made before a package joined the lists gets it added.
    local missing=() p
    for p in "${pkgs[@]}"; do
      chroot "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      roots_need_root
      roots_log "adding ${missing[*]} to $dir"
      cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
      { chroot "$dir" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2
    fi
    echo "$dir"
    return
  fi
  roots_need_root
  roots_host_tools
  rm -rf "$dir"
  mkdir -p "$LOOKOUT_ROOTS_DIR"
  roots_log "making the $release build root in $dir (mmdebstrap, $(roots_mirror))"
  local IFS=,
  mmdebstrap --quiet --variant=buildd --include="${pkgs[*]}" \
    --aptopt='Acquire::Retries "3"' "$release" "$dir" "$(roots_mirror)" >&2
  unset IFS
  touch "$dir/.lookout-root-complete"
  echo "$dir"
}

# roots_sysroot RELEASE: an arm64 sysroot (headers and libraries, no
# maintainer scripts run) to cross-build against and to run under qemu.
roots_sysroot() {
  local release=$1 dir="$LOOKOUT_ROOTS_DIR/$1-arm64"
  if [ -f "$dir/.lookout-root-complete" ]; then
    echo "$dir"
    return
  fi
  roots_need_root
  roots_host_tools
  rm -rf "$dir"
  mkdir -p "$LOOKOUT_ROOTS_DIR"
  local gcc_major
  case $release in
    bookworm) gcc_major=12 ;;
    trixie) gcc_major=14 ;;
    *) echo "roots: unknown release $release" >&2; exit 1 ;;
  esac
  local pkgs=(libc6-dev "libstdc++-$gcc_major-dev" "libgcc-$gcc_major-dev" "${LOOKOUT_LIB_DEV_PACKAGES[@]}" catch2)
  roots_log "making the $release arm64 sysroot in $dir (mmdebstrap --variant=extract)"
  local IFS=,
  mmdebstrap --quiet --variant=extract --arch=arm64 --include="${pkgs[*]}" \
    --aptopt='Acquire::Retries "3"' "$release" "$dir" "$(roots_mirror)" >&2
  unset IFS
  roots_fix_sysroot "$dir"
  touch "$dir/.lookout-root-complete"
  echo "$dir"
}

# An extracted tree is not an installed one: absolute symlinks would resolve
# on the host; a merged-/usr release (trixie) lacks the /lib -> usr/lib links
# that its setup makes (qemu looks for /lib/ld-linux-aarch64.so.1); and the
# update-alternatives links that maintainer scripts make (BLAS and LAPACK,
# which OpenCV's core links) are missing.
roots_fix_sysroot() {
  local dir=$1 link target top
  for top in bin sbin lib; do
    if [ ! -e "$dir/$top" ] && [ -d "$dir/usr/$top" ]; then
      ln -s "usr/$top" "$dir/$top"
    fi
  done
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    case $target in
      /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$target")" "$link" ;;
    esac
  done < <(find "$dir" -type l -print0)
  local lib="$dir/usr/lib/aarch64-linux-gnu" name sub
  for name in libblas.so.3 liblapack.so.3; do
    [ -e "$lib/$name" ] && continue
    for sub in "$lib"/blas/"$name" "$lib"/lapack/"$name" "$lib"/openblas-pthread/"$name"; do
      if [ -e "$sub" ]; then
        ln -sfn "$(realpath --relative-to="$lib" "$sub")" "$lib/$name"
        break
      fi
    done
  done
}

# roots_run RELEASE COMMAND...: runs COMMAND in the build root, as root, in
# a private mount namespace (its mounts vanish with it), with /proc, /sys,
# /dev, the checkout, ../shared (read-only) and the roots folder mounted at
# their own paths, and qemu-aarch64-static from the host.
roots_run() {
  local release=$1
  shift
  local dir
  dir=$(roots_buildroot "$release")
  local checkout shared
  checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  shared=${LOOKOUT_SHARED_DIR:-$(dirname "$checkout")/shared}
  install -m 0755 "$(command -v qemu-aarch64-static)" "$dir/usr/local/bin/qemu-aarch64-static"
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  # shellcheck disable=SC2016
  unshare --mount --propagation private -- /bin/bash -euc '
    dir=$1 checkout=$2 shared=$3 roots=$4
    shift 4
    mount -t proc proc "$dir/proc"
    mount --rbind /sys "$dir/sys"
    mount --rbind /dev "$dir/dev"
    mkdir -p "$dir$checkout" "$dir$roots"
    mount --bind "$checkout" "$dir$checkout"
    mount --bind "$roots" "$dir$roots"
    if [ -d "$shared" ]; then
      mkdir -p "$dir$shared"
      mount --bind "$shared" "$dir$shared"
      mount -o remount,bind,ro "$dir$shared"
    fi
    exec chroot "$dir" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 LOOKOUT_ROOTS_DIR="$roots" LOOKOUT_IN_BUILDROOT=1 \
      /bin/bash -c "cd \"$checkout\" && exec \"\$@\"" bash "$@"
  ' bash "$dir" "$checkout" "$shared" "$LOOKOUT_ROOTS_DIR" "$@"
}
