# Cross-building Lookout for 64-bit Raspberry Pi OS (arm64) on an amd64
# Debian machine: Debian's aarch64-linux-gnu compiler against an arm64
# sysroot (scripts/roots.sh sysroot bookworm|trixie), test binaries run
# under qemu-aarch64-static (no binfmt_misc needed).
#
#   cmake -S . -B build-arm64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#     -DLOOKOUT_SYSROOT=/path/to/sysroot
#
# Libraries, headers and CMake packages come only from the sysroot; programs
# (flatc, which must match the sysroot's flatbuffers) only from the host.
# qemu picks its CPU from QEMU_CPU (e.g. cortex-a72, cortex-a76) when set.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT LOOKOUT_SYSROOT)
  set(LOOKOUT_SYSROOT "$ENV{LOOKOUT_SYSROOT}")
endif()
if(NOT LOOKOUT_SYSROOT OR NOT EXISTS "${LOOKOUT_SYSROOT}/usr/include")
  message(FATAL_ERROR "set LOOKOUT_SYSROOT to an arm64 sysroot (scripts/roots.sh sysroot RELEASE)")
endif()
# try_compile projects re-read this file: hand them the sysroot too.
set(ENV{LOOKOUT_SYSROOT} "${LOOKOUT_SYSROOT}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LOOKOUT_SYSROOT)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_SYSROOT "${LOOKOUT_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH "${LOOKOUT_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${LOOKOUT_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${LOOKOUT_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${LOOKOUT_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(LOOKOUT_QEMU_AARCH64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${LOOKOUT_QEMU_AARCH64};-L;${LOOKOUT_SYSROOT}")
