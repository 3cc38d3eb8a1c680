#include "test_support.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace lookout::testing {

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("LOOKOUT_SHARED_DIR"); env && *env) return env;
  return LOOKOUT_SHARED_DIR;
}

std::filesystem::path SourceDir() { return LOOKOUT_SOURCE_DIR; }

std::filesystem::path BinaryDir() { return LOOKOUT_BINARY_DIR; }

std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace lookout::testing
