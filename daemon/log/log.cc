#include "log/log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace lookout::daemon {
namespace {

using Clock = RepeatLimiter::Clock;

bool Contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string SummaryLine(uint64_t count, const std::string& text) {
  return std::to_string(count) + " repeats not shown: " + text;
}

// Writes all of `line`; standard error going away is not worth dying for.
void WriteAll(int fd, const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// JOURNAL_STREAM is "<device>:<inode>" of the journal stream systemd gave
// the unit's standard output and error.
bool IsJournal(int fd) {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

std::string FormatLine(bool journal, spdlog::level::level_enum level, std::string_view text) {
  std::string line;
  if (journal) line += JournalPrefix(level);
  const spdlog::string_view_t name = spdlog::level::to_string_view(level);
  line.append(name.data(), name.size());
  line += ": ";
  line.append(text);
  line += '\n';
  return line;
}

// Shared with the child (MAP_SHARED): what SetLogLevel() changes.
struct SharedSettings {
  std::atomic<int> level{spdlog::level::info};
  std::atomic<int> repeats_per_minute{5};
};
SharedSettings* shared = nullptr;

// lookoutd's own lines: formatted, limited, written to the original
// standard error.
class DaemonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  DaemonSink(int fd, bool journal, int repeats_per_minute) : fd_(fd), journal_(journal), limiter_(repeats_per_minute) {}

  void SetRepeats(int repeats_per_minute) {
    std::lock_guard lock(mutex_);
    limiter_.set_per_window(repeats_per_minute);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    const RepeatLimiter::Decision decision = limiter_.Allow(text, Clock::now());
    if (decision.suppressed > 0) {
      WriteAll(fd_, FormatLine(journal_, msg.level, SummaryLine(decision.suppressed, text)));
    }
    if (decision.print) WriteAll(fd_, FormatLine(journal_, msg.level, text));
  }

  // spdlog::flush_every() calls this once a second.
  void flush_() override {
    for (const RepeatLimiter::Expired& e : limiter_.TakeExpired(Clock::now())) {
      WriteAll(fd_, FormatLine(journal_, spdlog::level::info, SummaryLine(e.suppressed, e.key)));
    }
  }

 private:
  const int fd_;
  const bool journal_;
  RepeatLimiter limiter_;
};

std::shared_ptr<DaemonSink> daemon_sink;
int own_stderr = -1;     // The original standard error, while fd 2 is the pipe.
pid_t filter_child = -1;

// Strips ANSI colour sequences (GStreamer and OpenCV colour when they think
// they write to a terminal) and trailing white space.
std::string Clean(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
      continue;
    }
    out += line[i];
  }
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

// The child: reads the pipe to its end. Never returns.
[[noreturn]] void RunLibraryFilter(int in, int out, bool journal) {
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE}) std::signal(signo, SIG_IGN);
  ::prctl(PR_SET_NAME, "lookoutd-log");
  RepeatLimiter limiter(shared->repeats_per_minute.load());
  constexpr size_t kMaxLine = 4096;  // Longer lines are cut there.
  std::string pending;
  char buffer[8192];
  const auto emit = [&](std::string_view raw) {
    const std::string cleaned = Clean(raw);
    if (cleaned.empty()) return;
    LibraryLine line = ClassifyLibraryLine(cleaned);
    limiter.set_per_window(shared->repeats_per_minute.load());
    if (line.level < shared->level.load()) return;
    const std::string text = line.text.rfind(line.source, 0) == 0 ? line.text : line.source + ": " + line.text;
    const RepeatLimiter::Decision decision = limiter.Allow(text, Clock::now());
    if (decision.suppressed > 0) {
      WriteAll(out, FormatLine(journal, line.level, SummaryLine(decision.suppressed, text)));
    }
    if (decision.print) WriteAll(out, FormatLine(journal, line.level, text));
  };
  while (true) {
    pollfd fd{in, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 1000);
    for (const RepeatLimiter::Expired& e : limiter.TakeExpired(Clock::now())) {
      WriteAll(out, FormatLine(journal, spdlog::level::info, SummaryLine(e.suppressed, e.key)));
    }
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(in, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      emit(std::string_view(pending).substr(start, std::min(nl - start, kMaxLine)));
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) {
      emit(pending);
      pending.clear();
    }
  }
  if (!pending.empty()) emit(pending);
  for (const RepeatLimiter::Expired& e : limiter.TakeExpired(Clock::time_point::max())) {
    WriteAll(out, FormatLine(journal, spdlog::level::info, SummaryLine(e.suppressed, e.key)));
  }
  ::_exit(0);
}

}  // namespace

RepeatLimiter::RepeatLimiter(int per_window, Clock::duration window, size_t max_keys)
    : per_window_(per_window < 1 ? 1 : per_window), window_(window), max_keys_(max_keys) {}

RepeatLimiter::Decision RepeatLimiter::Allow(const std::string& key, Clock::time_point now) {
  Decision decision;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) {
      // Forget the windows that have ended with nothing counted.
      for (auto e = entries_.begin(); e != entries_.end();) {
        e = (now - e->second.start >= window_ && e->second.suppressed == 0) ? entries_.erase(e) : std::next(e);
      }
      if (entries_.size() >= max_keys_) {
        decision.print = true;
        return decision;
      }
    }
    it = entries_.emplace(key, Entry{now, 0, 0}).first;
  } else if (now - it->second.start >= window_) {
    decision.suppressed = it->second.suppressed;
    it->second = Entry{now, 0, 0};
  }
  Entry& entry = it->second;
  if (entry.printed < static_cast<uint64_t>(per_window_)) {
    ++entry.printed;
    decision.print = true;
  } else {
    ++entry.suppressed;
  }
  return decision;
}

std::vector<RepeatLimiter::Expired> RepeatLimiter::TakeExpired(Clock::time_point now) {
  std::vector<Expired> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.start < window_) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0) out.push_back({it->first, it->second.suppressed});
    it = entries_.erase(it);
  }
  return out;
}

LibraryLine ClassifyLibraryLine(std::string_view line) {
  using spdlog::level::level_enum;
  LibraryLine out;
  out.text = std::string(line);
  // libcamera: "[0:01:02.123456789] [1234]  WARN RPI raspberrypi.cpp:...".
  if (line.size() > 2 && line[0] == '[' && Contains(line.substr(0, 40), "] [")) {
    const size_t tag = line.find("] [");
    const size_t after = line.find(']', tag + 3);
    if (after != std::string_view::npos) {
      std::string_view rest = line.substr(after + 1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      struct Severity {
        std::string_view word;
        level_enum level;
      };
      for (const Severity& s : {Severity{"DEBUG", level_enum::debug}, Severity{"INFO", level_enum::debug},
                                Severity{"WARN", level_enum::info}, Severity{"ERROR", level_enum::warn},
                                Severity{"FATAL", level_enum::err}}) {
        if (rest.rfind(s.word, 0) == 0) {
          out.source = "libcamera";
          out.level = s.level;
          out.text = std::string(rest);  // Without its time and thread: repeats are alike.
          return out;
        }
      }
    }
  }
  if (line.rfind("libpng ", 0) == 0) {
    out.source = "libpng";
    out.level = Contains(line, "libpng error") ? level_enum::warn : level_enum::info;
    return out;
  }
  if (Contains(line, "Corrupt JPEG data") || Contains(line, "Premature end of JPEG") ||
      Contains(line, "Invalid JPEG") || Contains(line, "JPEG datastream")) {
    out.source = "libjpeg";
    out.level = level_enum::info;
    return out;
  }
  // OpenCV: "[ WARN:0@0.123] global cap.cpp:...", "[ERROR:0@0.123] ...".
  if (line.rfind("[ WARN:", 0) == 0 || line.rfind("[ INFO:", 0) == 0 || line.rfind("[ERROR:", 0) == 0 ||
      line.rfind("[DEBUG:", 0) == 0) {
    out.source = "OpenCV";
    out.level = line[1] == 'E' ? level_enum::warn : line[2] == 'W' ? level_enum::info : level_enum::debug;
    // "[ WARN:0@0.123]" names the thread and the time: "[ WARN]".
    const size_t colon = line.find(':'), close = line.find(']');
    if (close != std::string_view::npos && colon < close) {
      out.text = std::string(line.substr(0, colon)) + std::string(line.substr(close));
    }
    return out;
  }
  // GStreamer / GLib: "(lookoutd:1234): GStreamer-WARNING **: 12:00:00.000: ...".
  if (line.rfind("(", 0) == 0 && Contains(line.substr(0, 80), "): ")) {
    out.source = "GStreamer";
    out.level = Contains(line, "-CRITICAL") || Contains(line, "-ERROR") ? level_enum::warn
                : Contains(line, "-WARNING")                            ? level_enum::info
                                                                        : level_enum::debug;
    // GLib puts the time after "**: " ("12:00:00.000: "): dropped.
    const size_t stars = line.find("**: ");
    if (stars != std::string_view::npos) {
      const std::string_view after = line.substr(stars + 4);
      const size_t end = after.find(": ");
      if (end != std::string_view::npos && end > 0 &&
          after.substr(0, end).find_first_not_of("0123456789:.") == std::string_view::npos) {
        out.text = std::string(line.substr(0, stars + 4)) + std::string(after.substr(end + 2));
      }
    }
    return out;
  }
  // FFmpeg: "[h264 @ 0x5589...] error while decoding MB 3 4".
  if (line.rfind("[", 0) == 0 && Contains(line.substr(0, 64), " @ 0x")) {
    out.source = "FFmpeg";
    out.level = level_enum::warn;
    return out;
  }
  out.source = "stderr";
  out.level = Contains(line, "rror") || Contains(line, "ERROR") || Contains(line, "fatal") ? level_enum::warn
                                                                                          : level_enum::info;
  return out;
}

const char* JournalPrefix(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return SD_DEBUG;
    case spdlog::level::info:
      return SD_INFO;
    case spdlog::level::warn:
      return SD_WARNING;
    case spdlog::level::err:
      return SD_ERR;
    default:
      return SD_CRIT;
  }
}

void SetUpLogging(const LogOptions& options) {
  const bool journal = IsJournal(STDERR_FILENO);
  void* memory = ::mmap(nullptr, sizeof(SharedSettings), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "log: mmap");
  shared = new (memory) SharedSettings;
  shared->level = options.level;
  shared->repeats_per_minute = options.repeats_per_minute;
  int own_fd = STDERR_FILENO;
  if (options.capture_library_output) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "log: pipe");
    own_fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (own_fd < 0) throw std::system_error(errno, std::generic_category(), "log: dup of standard error");
    const pid_t child = ::fork();
    if (child < 0) throw std::system_error(errno, std::generic_category(), "log: fork");
    if (child == 0) {
      ::close(fds[1]);
      ::close(STDIN_FILENO);
      ::dup2(own_fd, STDERR_FILENO);  // Its own last words, if any.
      RunLibraryFilter(fds[0], own_fd, journal);
    }
    ::close(fds[0]);
    if (::dup2(fds[1], STDERR_FILENO) < 0) throw std::system_error(errno, std::generic_category(), "log: dup2");
    ::close(fds[1]);
    own_stderr = own_fd;
    filter_child = child;
  }
  daemon_sink = std::make_shared<DaemonSink>(own_fd, journal, options.repeats_per_minute);
  auto logger = std::make_shared<spdlog::logger>("lookoutd", daemon_sink);
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::off);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void FinishLogging() {
  if (daemon_sink) daemon_sink->flush();
  if (filter_child < 0) return;
  // Standard error is the original again; the pipe's last writer is gone, so
  // the child writes what it still has and exits.
  ::dup2(own_stderr, STDERR_FILENO);
  for (int i = 0; i < 50; ++i) {  // At most ~5 s.
    const pid_t r = ::waitpid(filter_child, nullptr, WNOHANG);
    if (r == filter_child || (r < 0 && errno != EINTR)) break;
    ::usleep(100000);
  }
  filter_child = -1;
}

void SetLogLevel(spdlog::level::level_enum level, int repeats_per_minute) {
  spdlog::set_level(level);
  if (shared != nullptr) {
    shared->level = level;
    shared->repeats_per_minute = repeats_per_minute;
  }
  if (daemon_sink) daemon_sink->SetRepeats(repeats_per_minute);
}

}  // namespace lookout::daemon
