# Debian package lists, one place for setup.sh, the build roots and sysroots.
# Sourced, not run. The names are the same on Debian 12 and 13 / Raspberry
# Pi OS bookworm and trixie.

# Libraries Lookout links (their -dev packages). Only the four OpenCV
# modules it uses: libopencv-dev would pull in VTK, MPI, Qt and more.
LOOKOUT_LIB_DEV_PACKAGES=(
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libcamera-dev
  libboost-dev
  nlohmann-json3-dev
  libxnnpack-dev libpthreadpool-dev
  libflatbuffers-dev
  libcli11-dev
  libspdlog-dev
  libmosquitto-dev
  libsystemd-dev
)

# Programs the build runs.
LOOKOUT_BUILD_TOOLS=(build-essential cmake pkg-config flatbuffers-compiler)

# The test suite: Catch2, a real MQTT broker and client, openssl to make the
# certificates of the MQTT-over-TLS tests, and systemd for systemd-analyze
# (tests/install/check_install.sh checks the installed units' sandbox).
LOOKOUT_TEST_PACKAGES=(catch2 mosquitto mosquitto-clients openssl systemd)
