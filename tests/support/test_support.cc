#include "support/test_support.h"

#include <elf.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "test_config.h"

namespace lookout::testing {

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("LOOKOUT_SHARED_DIR"); env && *env) return env;
  return LOOKOUT_SHARED_DIR;
}

bool HaveShared(const std::string& subdir, std::string* why) {
  const std::filesystem::path path = SharedDir() / subdir;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return true;
  if (why != nullptr) {
    *why = "needs the shared data " + subdir + "/ (not found at " + path.string() +
           "; set LOOKOUT_SHARED_DIR)";
  }
  return false;
}

std::filesystem::path SourceDir() { return LOOKOUT_SOURCE_DIR; }

std::filesystem::path BinaryDir() { return LOOKOUT_BINARY_DIR; }

namespace {

// The ELF machine type this test binary was built for.
#if defined(__aarch64__)
constexpr uint16_t kOwnMachine = EM_AARCH64;
#elif defined(__x86_64__)
constexpr uint16_t kOwnMachine = EM_X86_64;
#else
constexpr uint16_t kOwnMachine = EM_NONE;
#endif

bool IsOwnMachineElf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof(header))) return false;
  return std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 && header.e_machine == kOwnMachine;
}

}  // namespace

std::vector<std::string> Emulator() { return LOOKOUT_TEST_EMULATOR; }

std::vector<std::string> HostCommand(std::vector<std::string> argv) {
  const std::vector<std::string> emulator = Emulator();
  if (emulator.empty() || argv.empty() || !IsOwnMachineElf(argv[0])) return argv;
  argv.insert(argv.begin(), emulator.begin(), emulator.end());
  return argv;
}

std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace lookout::testing
