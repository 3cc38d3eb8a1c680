# Locates Lookout's dependencies, all from Debian 12 / Raspberry Pi OS packages
# (scripts/setup.sh installs them).

find_package(Threads REQUIRED)
find_package(FlatBuffers CONFIG REQUIRED)
find_program(FLATC_EXECUTABLE flatc REQUIRED)

# Debian's libxnnpack-dev ships neither a CMake config nor a pkg-config file.
find_path(XNNPACK_INCLUDE_DIR xnnpack.h REQUIRED)
find_library(XNNPACK_LIBRARY XNNPACK REQUIRED)
find_library(PTHREADPOOL_LIBRARY pthreadpool REQUIRED)
add_library(lookout_xnnpack INTERFACE)
target_include_directories(lookout_xnnpack SYSTEM INTERFACE ${XNNPACK_INCLUDE_DIR})
target_link_libraries(lookout_xnnpack INTERFACE ${XNNPACK_LIBRARY} ${PTHREADPOOL_LIBRARY})

find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio)
find_package(nlohmann_json 3 REQUIRED)
find_package(Boost 1.74 REQUIRED)
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

if(LOOKOUT_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
