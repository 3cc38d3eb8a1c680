// Helpers shared by the test binaries: where the real data lives.
#ifndef LOOKOUT_TESTS_SUPPORT_TEST_SUPPORT_H_
#define LOOKOUT_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lookout::testing {

/// ../shared beside the checkout (models/, images/, golden/); the
/// LOOKOUT_SHARED_DIR environment variable overrides.
std::filesystem::path SharedDir();
/// Whether SharedDir()/`subdir` exists. When it does not, `why` gets the
/// reason a test that needs it is skipped ("needs ../shared/golden (not
/// found at PATH; set LOOKOUT_SHARED_DIR)").
bool HaveShared(const std::string& subdir, std::string* why);
/// The repository root.
std::filesystem::path SourceDir();
/// The build directory (build/bin holds lookoutd and lookout).
std::filesystem::path BinaryDir();
/// The command that starts `argv` here: `argv` itself, or, when the tests
/// are cross-built and argv[0] is a program for the target (an ELF file of
/// the test binaries' own machine type), the emulator CTest uses
/// (CMAKE_CROSSCOMPILING_EMULATOR, e.g. qemu-aarch64-static -L SYSROOT)
/// followed by `argv`. No binfmt_misc needed.
std::vector<std::string> HostCommand(std::vector<std::string> argv);
/// The emulator of cross-built tests (empty when they run natively).
std::vector<std::string> Emulator();
/// Whole file as bytes; throws std::runtime_error when unreadable.
std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path);

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_TEST_SUPPORT_H_
