# The Debian package `lookout` (scripts/package.sh makes it for Debian 12 /
# 13 and Raspberry Pi OS bookworm / trixie, amd64 and arm64). Configure
# with -DLOOKOUT_DEB=ON -DCMAKE_INSTALL_PREFIX=/usr, build, then run
# `cpack -G DEB` in the build folder. On top of the install rules it adds
# the files only the package has: the default configuration as a conffile
# (LOOKOUT_CONFIG_FILE), the copyright file and changelog.Debian.gz, and the
# maintainer scripts of packaging/ (the lookout group, lookoutd.service
# enabled and started where systemd runs; the template lookoutd@.service is
# shipped but never enabled or started: its instances are the user's).
#
# Dependencies come from dpkg-shlibdeps over the installed binaries (CPack's
# CPACK_DEBIAN_PACKAGE_SHLIBDEPS), which needs the target release's dpkg
# database: a native build. Cross builds pass them in LOOKOUT_DEB_DEPENDS.
option(LOOKOUT_DEB "Install the Debian package's own files and set up cpack -G DEB" OFF)
if(NOT LOOKOUT_DEB)
  return()
endif()

set(LOOKOUT_DEB_DISTRIBUTION "" CACHE STRING
    "Debian release the package is for (bookworm, trixie); empty = the target's /etc/os-release")
set(LOOKOUT_DEB_REVISION "" CACHE STRING
    "Debian revision, e.g. 1+deb13; empty = 1+deb<Debian version of LOOKOUT_DEB_DISTRIBUTION>")
set(LOOKOUT_DEB_ARCH "" CACHE STRING "Debian architecture; empty = from CMAKE_SYSTEM_PROCESSOR")
set(LOOKOUT_DEB_DEPENDS "" CACHE STRING
    "Depends field, for cross builds; empty = dpkg-shlibdeps over the binaries")
set(LOOKOUT_DEB_MAINTAINER "Lookout maintainers <maintainers@users.noreply.b-seed-49a95c07.example>"
    CACHE STRING "Maintainer field and changelog signature")

if(NOT LOOKOUT_DEB_DISTRIBUTION)
  set(os_release "${CMAKE_SYSROOT}/etc/os-release")
  if(NOT EXISTS "${os_release}")
    message(FATAL_ERROR "LOOKOUT_DEB: no ${os_release}; set LOOKOUT_DEB_DISTRIBUTION (bookworm, trixie)")
  endif()
  file(STRINGS "${os_release}" codename REGEX "^VERSION_CODENAME=")
  string(REGEX REPLACE "^VERSION_CODENAME=\"?([a-z]+)\"?$" "\\1" codename "${codename}")
  set(LOOKOUT_DEB_DISTRIBUTION "${codename}" CACHE STRING "" FORCE)
endif()
set(debian_versions bookworm 12 trixie 13)
list(FIND debian_versions "${LOOKOUT_DEB_DISTRIBUTION}" index)
if(index LESS 0)
  message(FATAL_ERROR "LOOKOUT_DEB: unknown release '${LOOKOUT_DEB_DISTRIBUTION}' (bookworm, trixie)")
endif()
math(EXPR index "${index} + 1")
list(GET debian_versions ${index} LOOKOUT_DEB_DEBIAN_VERSION)
if(NOT LOOKOUT_DEB_REVISION)
  # +deb12 < +deb13: upgrading bookworm to trixie upgrades the package too.
  set(LOOKOUT_DEB_REVISION "1+deb${LOOKOUT_DEB_DEBIAN_VERSION}")
endif()
set(LOOKOUT_DEB_VERSION "${PROJECT_VERSION}-${LOOKOUT_DEB_REVISION}")

if(NOT LOOKOUT_DEB_ARCH)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(LOOKOUT_DEB_ARCH amd64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    set(LOOKOUT_DEB_ARCH arm64)
  else()
    message(FATAL_ERROR "LOOKOUT_DEB: set LOOKOUT_DEB_ARCH for processor ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
endif()
message(STATUS "Debian package lookout ${LOOKOUT_DEB_VERSION} ${LOOKOUT_DEB_ARCH} (${LOOKOUT_DEB_DISTRIBUTION})")

# Packaged directories are 0755 whatever the umask of the build.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# The default configuration, a conffile: the Pi camera (libcamera), the
# installed model and labels, the socket for the lookout group, MQTT off
# until a broker is configured.
set(deb_dir ${CMAKE_BINARY_DIR}/packaging)
configure_file(packaging/lookoutd.json.in ${deb_dir}/lookoutd.json @ONLY)
get_filename_component(config_dir "${LOOKOUT_CONFIG_FILE}" DIRECTORY)
get_filename_component(config_name "${LOOKOUT_CONFIG_FILE}" NAME)
install(FILES ${deb_dir}/lookoutd.json DESTINATION ${config_dir} RENAME ${config_name})
file(WRITE ${deb_dir}/conffiles "${LOOKOUT_CONFIG_FILE}\n")

# copyright and changelog.Debian.gz (gzip -n: no name or time stamp inside).
string(TIMESTAMP LOOKOUT_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)  # honours SOURCE_DATE_EPOCH
configure_file(packaging/changelog.in ${deb_dir}/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${deb_dir}/changelog.Debian.gz
  COMMAND gzip -9nc ${deb_dir}/changelog.Debian > ${deb_dir}/changelog.Debian.gz
  DEPENDS ${deb_dir}/changelog.Debian VERBATIM)
add_custom_target(lookout_deb_changelog ALL DEPENDS ${deb_dir}/changelog.Debian.gz)
install(FILES packaging/copyright ${deb_dir}/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lookout)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # lookout_VERSION-REVISION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${LOOKOUT_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${LOOKOUT_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LOOKOUT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "camera inference daemon: live image labels on a socket and MQTT
Lookout turns a camera into live image labels for Home Assistant and local
apps, on a Raspberry Pi. lookoutd captures frames (Pi camera through
libcamera, USB webcams, video files, RTSP streams, image folders), runs a
quantized MobileNet-class TensorFlow Lite model on its own int8/uint8
interpreter (XNNPACK), and publishes the top-k labels on a local Unix socket
(JSON lines) and over MQTT with Home Assistant discovery. It runs as a
systemd service (Type=notify, watchdog).

The lookout command classifies images, runs raw tensors, benchmarks and
inspects models, and queries the daemon. A quantized MobileNet V2 with its
ImageNet labels is included.")
if(LOOKOUT_DEB_DEPENDS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${LOOKOUT_DEB_DEPENDS}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${deb_dir}/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/deb)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
