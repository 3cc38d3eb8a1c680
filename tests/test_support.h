// Helpers shared by the test binaries: where the real data lives.
#ifndef LOOKOUT_TESTS_TEST_SUPPORT_H_
#define LOOKOUT_TESTS_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lookout::testing {

/// ../shared beside the checkout (models/, images/, golden/); the
/// LOOKOUT_SHARED_DIR environment variable overrides.
std::filesystem::path SharedDir();
/// The repository root.
std::filesystem::path SourceDir();
/// The build directory (build/bin holds lookoutd and lookout).
std::filesystem::path BinaryDir();
/// Whole file as bytes; throws std::runtime_error when unreadable.
std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path);

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_TEST_SUPPORT_H_
