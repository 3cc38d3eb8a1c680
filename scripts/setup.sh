#!/usr/bin/env bash
# Installs every build, run and test dependency of Lookout from Debian 12 /
# Raspberry Pi OS (bookworm) packages. Idempotent: apt-get skips what is there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libopencv-dev
  libcamera-dev
  libboost-dev
  nlohmann-json3-dev
  libxnnpack-dev libpthreadpool-dev
  libflatbuffers-dev flatbuffers-compiler
  catch2
  libcli11-dev
  libspdlog-dev
  libmosquitto-dev mosquitto mosquitto-clients
  libsystemd-dev
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes
)

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
