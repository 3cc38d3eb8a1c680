# Locates Lookout's dependencies, all Debian / Raspberry Pi OS packages
# (scripts/setup.sh installs them), on Debian 12 "bookworm" and 13 "trixie",
# natively or from an arm64 sysroot (cmake/toolchains/aarch64-linux-gnu.cmake).
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

find_package(Threads REQUIRED)
find_package(FlatBuffers CONFIG REQUIRED)
find_program(FLATC_EXECUTABLE flatc REQUIRED)
# flatc's generated code checks at compile time that it matches the headers.
execute_process(COMMAND ${FLATC_EXECUTABLE} --version OUTPUT_VARIABLE LOOKOUT_FLATC_VERSION
                OUTPUT_STRIP_TRAILING_WHITESPACE)
message(STATUS "flatbuffers ${FlatBuffers_VERSION}, ${LOOKOUT_FLATC_VERSION}")

# XNNPACK and its thread pool, pthreadpool (LOOKOUT_WITH_XNNPACK). The
# lookout_xnnpack target carries LOOKOUT_HAVE_XNNPACK (0 or 1) for the
# runtime and for the tests that reach its private headers.
add_library(lookout_xnnpack INTERFACE)
if(LOOKOUT_WITH_XNNPACK)
  # Debian's libxnnpack-dev ships neither a CMake config nor a pkg-config file.
  find_path(XNNPACK_INCLUDE_DIR xnnpack.h REQUIRED)
  find_library(XNNPACK_LIBRARY XNNPACK REQUIRED)
  find_library(PTHREADPOOL_LIBRARY pthreadpool REQUIRED)
  # Its operator API changed between Debian 12's snapshot (2022) and Debian
  # 13's (2024): runtime/kernels/xnnpack/api.h hides which one is here.
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_INCLUDES ${XNNPACK_INCLUDE_DIR})
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([=[
  #include <xnnpack.h>
  int main() { return xnn_reshape_convolution2d_nhwc_qu8 != nullptr ? 0 : 1; }
  ]=] LOOKOUT_XNNPACK_HAS_RESHAPE)
  check_cxx_source_compiles([=[
  #include <xnnpack.h>
  int main() { return xnn_setup_convolution2d_nhwc_qc8 != nullptr ? 0 : 1; }
  ]=] LOOKOUT_XNNPACK_HAS_QC8)
  cmake_pop_check_state()
  if(LOOKOUT_XNNPACK_HAS_RESHAPE)
    set(LOOKOUT_XNNPACK_API 2024)
  elseif(LOOKOUT_XNNPACK_HAS_QC8)
    set(LOOKOUT_XNNPACK_API 2022)
  else()
    message(FATAL_ERROR "${XNNPACK_INCLUDE_DIR}/xnnpack.h has neither the 2022 nor the 2024 operator API")
  endif()
  message(STATUS "XNNPACK operator API ${LOOKOUT_XNNPACK_API} (${XNNPACK_LIBRARY})")
  target_include_directories(lookout_xnnpack SYSTEM INTERFACE ${XNNPACK_INCLUDE_DIR})
  target_link_libraries(lookout_xnnpack INTERFACE ${XNNPACK_LIBRARY} ${PTHREADPOOL_LIBRARY})
  target_compile_definitions(lookout_xnnpack INTERFACE LOOKOUT_XNNPACK_API=${LOOKOUT_XNNPACK_API})
  target_compile_definitions(lookout_xnnpack INTERFACE LOOKOUT_HAVE_XNNPACK=1)
else()
  message(STATUS "XNNPACK and pthreadpool: off (LOOKOUT_WITH_XNNPACK=OFF); the interpreter runs on one thread")
  target_compile_definitions(lookout_xnnpack INTERFACE LOOKOUT_HAVE_XNNPACK=0)
endif()

# The daemon's libraries; LOOKOUT_RUNTIME_ONLY builds the interpreter without them.
if(NOT LOOKOUT_RUNTIME_ONLY)
  # Only the four OpenCV modules Lookout uses, from their own -dev packages:
  # OpenCVConfig.cmake ships in libopencv-dev, which depends on every module
  # (VTK, Qt, MPI, ...). Headers and libraries are found one by one instead.
  find_path(OpenCV_INCLUDE_DIRS opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
  set(OpenCV_LIBS)
  foreach(module core imgproc imgcodecs videoio)
    find_library(LOOKOUT_OPENCV_${module} opencv_${module} REQUIRED)
    add_library(lookout_opencv_${module} UNKNOWN IMPORTED)
    set_target_properties(lookout_opencv_${module} PROPERTIES
      IMPORTED_LOCATION ${LOOKOUT_OPENCV_${module}}
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${OpenCV_INCLUDE_DIRS}
      INTERFACE_INCLUDE_DIRECTORIES ${OpenCV_INCLUDE_DIRS})
    list(APPEND OpenCV_LIBS lookout_opencv_${module})
  endforeach()
  file(STRINGS ${OpenCV_INCLUDE_DIRS}/opencv2/core/version.hpp LOOKOUT_OPENCV_VERSION_LINES
       REGEX "#define CV_VERSION_(MAJOR|MINOR|REVISION) ")
  string(REGEX REPLACE ".*MAJOR +([0-9]+).*MINOR +([0-9]+).*REVISION +([0-9]+).*" "\\1.\\2.\\3"
         OpenCV_VERSION "${LOOKOUT_OPENCV_VERSION_LINES}")
  message(STATUS "OpenCV ${OpenCV_VERSION}: core imgproc imgcodecs videoio")

  find_package(nlohmann_json 3 REQUIRED)
  # Boost's own CMake config (CMake 3.30+ dropped FindBoost); Asio is headers only.
  find_package(Boost 1.74 CONFIG REQUIRED)
  find_package(CLI11 CONFIG REQUIRED)
  find_package(spdlog CONFIG REQUIRED)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
  pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

  set(LOOKOUT_HAVE_LIBCAMERA OFF)
  if(LOOKOUT_WITH_LIBCAMERA)
    pkg_check_modules(LIBCAMERA IMPORTED_TARGET libcamera)
    if(LIBCAMERA_FOUND)
      set(LOOKOUT_HAVE_LIBCAMERA ON)
      message(STATUS "libcamera ${LIBCAMERA_VERSION}: building the libcamera source")
    else()
      message(STATUS "libcamera not found: building without the libcamera source")
    endif()
  endif()
endif()

if(LOOKOUT_BUILD_TESTS)
  # Catch2 2 (Debian 12) or 3 (Debian 13): tests/support/catch_compat.h hides which.
  find_package(Catch2 3 QUIET)
  if(Catch2_FOUND)
    set(LOOKOUT_CATCH2_MAJOR 3)
  else()
    find_package(Catch2 2 REQUIRED)
    set(LOOKOUT_CATCH2_MAJOR 2)
  endif()
  message(STATUS "Catch2 ${Catch2_VERSION}")
endif()
