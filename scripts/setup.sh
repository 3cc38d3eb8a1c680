#!/usr/bin/env bash
# Installs what building and testing Lookout needs, from Debian 12 / 13 or
# Raspberry Pi OS (bookworm / trixie) packages (scripts/lib/packages.sh):
# the libraries' -dev packages, the build tools, Catch2, mosquitto and openssl.
# `--fuzz` adds clang and its sanitizer runtimes (scripts/fuzz.sh).
# Idempotent: nothing is installed when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/packages.sh

PACKAGES=("${LOOKOUT_BUILD_TOOLS[@]}" "${LOOKOUT_LIB_DEV_PACKAGES[@]}" "${LOOKOUT_TEST_PACKAGES[@]}")
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
