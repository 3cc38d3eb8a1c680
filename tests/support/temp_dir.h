// A scratch directory for one test, removed with its contents at scope exit.
#ifndef LOOKOUT_TESTS_SUPPORT_TEMP_DIR_H_
#define LOOKOUT_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace lookout::testing {

/// A fresh, empty directory /tmp/lookout-test-XXXXXX (mkdtemp: unique across
/// the test processes CTest runs in parallel; short, so that Unix socket
/// paths inside it fit in sockaddr_un), removed with its contents on
/// destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/lookout-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_TEMP_DIR_H_
