// Child processes for the end-to-end tests: started with posix_spawn, their
// stdout/stderr in files, killed (only they) if still running at the end.
#ifndef LOOKOUT_TESTS_SUPPORT_PROCESS_H_
#define LOOKOUT_TESTS_SUPPORT_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "support/wait.h"

extern char** environ;

namespace lookout::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child process started by the test, its stdout and stderr in files.
// The destructor kills it if it is still running (only this process).
class Process {
 public:
  // Programs built for the target start through the emulator when the
  // tests are cross-built (HostCommand).
  Process(const std::vector<std::string>& program, const fs::path& out, const fs::path& err)
      : out_(out), err_(err) {
    const std::vector<std::string> argv = HostCommand(program);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Only while the child is not reaped: kill(-1, ...) would signal every
  // process the test may signal.
  void Signal(int signo) {
    if (pid_ > 0) ::kill(pid_, signo);
  }
  // The child's process id while it runs (-1 once reaped): for reading its
  // /proc/<pid>/ figures. Under an emulator it is the emulator's process.
  pid_t pid() const { return pid_; }
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  // The exit status (128 + signal when killed), or -1 if still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout) {
    WaitUntil([&] { return !Running(); }, timeout);
    return pid_ > 0 ? -1 : exit_status_;
  }
  std::string Stdout() const { return ReadText(out_); }
  std::string Stderr() const { return ReadText(err_); }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  fs::path out_, err_;
};

// Runs a program to completion (bounded); returns {exit status, stdout, stderr}.
struct Result {
  int status;
  std::string out, err;
};
inline Result RunToEnd(const std::vector<std::string>& argv, const fs::path& dir,
                std::chrono::milliseconds timeout = 120s) {
  Process p(argv, dir / "run.out", dir / "run.err");
  const int status = p.Wait(timeout);
  return {status, p.Stdout(), p.Stderr()};
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_PROCESS_H_
