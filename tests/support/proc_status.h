// A running process's resident memory and open file descriptors, read from
// /proc/<pid>/ (Linux), for the fault and soak tests.
#ifndef LOOKOUT_TESTS_SUPPORT_PROC_STATUS_H_
#define LOOKOUT_TESTS_SUPPORT_PROC_STATUS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace lookout::testing {

/// A "<field>:   N kB" line of /proc/<pid>/status (VmRSS, VmHWM, VmSize...)
/// in kB; -1 when the process or the field is not there.
inline int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      try {
        return std::stoll(line.substr(field.size() + 1));
      } catch (const std::exception&) {
        return -1;
      }
    }
  }
  return -1;
}

/// The number of open file descriptors of `pid` (entries of /proc/<pid>/fd);
/// -1 when they cannot be listed.
inline int OpenFdCount(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return -1;
    ++count;
  }
  return count;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_PROC_STATUS_H_
