// lookoutd's log: spdlog's default logger, written to standard error with
// journald priorities, identical lines rate-limited, and the chatter that
// libraries print on standard error themselves (libpng, libjpeg, OpenCV,
// FFmpeg, GStreamer, libcamera) routed through the same filter.
//
// Levels and journald: trace and debug are priority 7 (debug), info 6, warn 4
// (warning), error 3, critical 2. When standard error is the journal
// (systemd's JOURNAL_STREAM names it), each line starts with the priority as
// sd-daemon(3)'s "<N>" prefix, which journald reads and strips.
//
// Repeats: of identical lines (the same text at any level), the first
// `repeats_per_minute` in a minute are printed, the rest are counted, and
// once the minute is over (or at exit) one line gives the count:
//   "info: 5515 repeats not shown: libpng warning: iCCP: known incorrect sRGB profile"
//
// Libraries' standard error: SetUpLogging() makes file descriptor 2 a pipe
// read by a child process (fork(), no exec) that classifies each line
// (ClassifyLibraryLine()), filters it by level and repeats, and writes it to
// the original standard error. A child, not a thread, so that what a
// crashing lookoutd prints last (a sanitizer report, std::terminate's
// message) still comes out: the child reads the pipe to its end. The child
// ignores SIGINT, SIGTERM and SIGHUP and exits when the pipe's last writer
// (lookoutd) is gone.
#ifndef LOOKOUT_DAEMON_LOG_LOG_H_
#define LOOKOUT_DAEMON_LOG_LOG_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <spdlog/common.h>

namespace lookout::daemon {

/// Lets the first `per_window` lines of each key through per window and
/// counts the rest. Not thread-safe.
class RepeatLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// `per_window` >= 1 (smaller counts as 1). At most `max_keys` keys are
  /// tracked; lines with further keys pass unlimited until old windows end.
  explicit RepeatLimiter(int per_window, Clock::duration window = std::chrono::minutes(1),
                         size_t max_keys = 4096);

  struct Decision {
    bool print = false;           ///< Print this line.
    uint64_t suppressed = 0;      ///< Lines of this key counted in its window that just ended:
                                  ///< report them before this one.
  };
  /// One line with `key` at `now` (non-decreasing across calls).
  Decision Allow(const std::string& key, Clock::time_point now);

  struct Expired {
    std::string key;
    uint64_t suppressed = 0;
  };
  /// The keys whose window has ended at `now` with lines counted, with their
  /// counts; those keys start afresh. Call about once a second.
  std::vector<Expired> TakeExpired(Clock::time_point now);

  void set_per_window(int per_window) { per_window_ = per_window < 1 ? 1 : per_window; }
  Clock::duration window() const { return window_; }

 private:
  struct Entry {
    Clock::time_point start;
    uint64_t printed = 0;
    uint64_t suppressed = 0;
  };
  int per_window_;
  Clock::duration window_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> entries_;
};

/// A line a library printed on standard error, as lookoutd logs it.
struct LibraryLine {
  spdlog::level::level_enum level = spdlog::level::info;
  std::string source;  ///< "libpng", "libjpeg", "OpenCV", "FFmpeg", "GStreamer", "libcamera" or "stderr".
  /// The line without its trailing newline or colour codes, and without the
  /// time (and thread) libcamera, OpenCV and GLib put in it, so that the
  /// repeat limit sees repeats as alike (journald adds its own time).
  std::string text;
};

/// Guesses a line's source and severity from the shapes those libraries
/// print: library errors become warnings (lookoutd reports its own
/// failures), warnings become info, libcamera's and GStreamer's INFO and
/// DEBUG lines become debug; anything unrecognised is info.
LibraryLine ClassifyLibraryLine(std::string_view line);

/// sd-daemon(3)'s "<N>" priority prefix for `level`.
const char* JournalPrefix(spdlog::level::level_enum level);

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  int repeats_per_minute = 5;
  /// Route file descriptor 2 through the child described above. Off: only
  /// lookoutd's own lines are formatted and limited.
  bool capture_library_output = true;
};

/// Makes spdlog's default logger lookoutd's (see above). Call once, early,
/// while the process has a single thread (it may fork). Throws
/// std::system_error (errno text) when the pipe or the child cannot be made.
void SetUpLogging(const LogOptions& options);

/// Flushes, gives file descriptor 2 back its original standard error and
/// waits (at most ~5 s) for the child to write what it still holds, so that
/// lookoutd's last lines come out before it exits. Idempotent; lines
/// logged afterwards are written directly.
void FinishLogging();

/// Changes the level and repeat limit, in lookoutd and its child (reload).
void SetLogLevel(spdlog::level::level_enum level, int repeats_per_minute);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_LOG_LOG_H_
