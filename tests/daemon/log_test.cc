// The log's repeat limiter (on a clock the test moves), the reading of
// libraries' standard error lines, and the journald priority prefixes.
#include "support/catch_compat.h"

#include <chrono>
#include <string>

#include "log/log.h"

using lookout::daemon::ClassifyLibraryLine;
using lookout::daemon::JournalPrefix;
using lookout::daemon::RepeatLimiter;
using namespace std::chrono_literals;

TEST_CASE("RepeatLimiter prints the first N lines of a key per window and counts the rest", "[daemon]") {
  const RepeatLimiter::Clock::time_point t0{};
  RepeatLimiter limiter(3, 60s);
  int printed = 0;
  for (int i = 0; i < 10; ++i) {
    const auto d = limiter.Allow("libpng warning", t0 + std::chrono::seconds(i));
    CHECK(d.suppressed == 0);
    printed += d.print ? 1 : 0;
  }
  CHECK(printed == 3);
  // Another key has its own count.
  CHECK(limiter.Allow("something else", t0 + 10s).print);
  // Nothing has expired before the window ends ...
  CHECK(limiter.TakeExpired(t0 + 59s).empty());
  // ... then the key with 7 counted lines reports them once; the one with
  // none counted reports nothing.
  const auto expired = limiter.TakeExpired(t0 + 60s);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].key == "libpng warning");
  CHECK(expired[0].suppressed == 7);
  CHECK(limiter.TakeExpired(t0 + 200s).empty());
  // A fresh window: printed again.
  CHECK(limiter.Allow("libpng warning", t0 + 61s).print);
}

TEST_CASE("RepeatLimiter reports a window's count with the next line when that comes first", "[daemon]") {
  const RepeatLimiter::Clock::time_point t0{};
  RepeatLimiter limiter(1, 10s);
  CHECK(limiter.Allow("x", t0).print);
  CHECK_FALSE(limiter.Allow("x", t0 + 1s).print);
  CHECK_FALSE(limiter.Allow("x", t0 + 2s).print);
  const auto d = limiter.Allow("x", t0 + 10s);
  CHECK(d.print);
  CHECK(d.suppressed == 2);
  CHECK(limiter.TakeExpired(t0 + 30s).empty());
}

TEST_CASE("RepeatLimiter keeps at most max_keys keys and lets further keys through", "[daemon]") {
  const RepeatLimiter::Clock::time_point t0{};
  RepeatLimiter limiter(1, 60s, 2);
  CHECK(limiter.Allow("a", t0).print);
  CHECK(limiter.Allow("b", t0).print);
  CHECK(limiter.Allow("c", t0).print);  // Untracked: unlimited.
  CHECK(limiter.Allow("c", t0).print);
  CHECK_FALSE(limiter.Allow("a", t0).print);
  // Once a and b's windows end without counts pending for b, b's slot frees.
  CHECK(limiter.Allow("d", t0 + 61s).print);
  CHECK_FALSE(limiter.Allow("d", t0 + 61s).print);
}

TEST_CASE("library lines are read by their shape: source and level", "[daemon]") {
  using spdlog::level::level_enum;
  struct Case {
    const char* line;
    const char* source;
    level_enum level;
    std::string text = "";  // As logged; "" = the line itself.
  };
  for (const Case& c : {
           Case{"libpng warning: iCCP: known incorrect sRGB profile", "libpng", level_enum::info},
           Case{"libpng error: IDAT: CRC error", "libpng", level_enum::warn},
           Case{"Corrupt JPEG data: 4 extraneous bytes before marker 0xd9", "libjpeg", level_enum::info},
           Case{"[ WARN:0@0.123] global cap_gstreamer.cpp:1405 open OpenCV | GStreamer warning", "OpenCV",
                level_enum::info, "[ WARN] global cap_gstreamer.cpp:1405 open OpenCV | GStreamer warning"},
           Case{"[ERROR:0@2.001] global cap.cpp:164 open VIDEOIO(FFMPEG): raised OpenCV exception", "OpenCV",
                level_enum::warn, "[ERROR] global cap.cpp:164 open VIDEOIO(FFMPEG): raised OpenCV exception"},
           Case{"[h264 @ 0x55d0c1a2b3c0] error while decoding MB 3 4, bytestream -5", "FFmpeg", level_enum::warn},
           Case{"(lookoutd:1234): GStreamer-WARNING **: 12:00:00.000: Failed to load plugin", "GStreamer",
                level_enum::info, "(lookoutd:1234): GStreamer-WARNING **: Failed to load plugin"},
           Case{"(lookoutd:1234): GStreamer-CRITICAL **: gst_element_link: assertion failed", "GStreamer",
                level_enum::warn},
           Case{"[0:00:01.123456789] [4321]  WARN RPI vc4.cpp:383 Mismatch between Unicam and CamHelper", "libcamera",
                level_enum::info, "WARN RPI vc4.cpp:383 Mismatch between Unicam and CamHelper"},
           Case{"[0:00:00.010000000] [4321]  INFO Camera camera_manager.cpp:284 libcamera v0.4.0", "libcamera",
                level_enum::debug, "INFO Camera camera_manager.cpp:284 libcamera v0.4.0"},
           Case{"[0:00:02.000000000] [4321] ERROR V4L2 v4l2_videodevice.cpp:1906 dequeue failed", "libcamera",
                level_enum::warn, "ERROR V4L2 v4l2_videodevice.cpp:1906 dequeue failed"},
           Case{"something unexpected", "stderr", level_enum::info},
           Case{"fatal: something went wrong", "stderr", level_enum::warn},
       }) {
    INFO(c.line);
    const auto line = ClassifyLibraryLine(c.line);
    CHECK(line.source == c.source);
    CHECK(line.level == c.level);
    CHECK(line.text == (c.text.empty() ? c.line : c.text));
  }
}

TEST_CASE("log levels map to journald's syslog priorities", "[daemon]") {
  // sd-daemon(3): <7> debug, <6> info, <4> warning, <3> err, <2> crit.
  CHECK(std::string(JournalPrefix(spdlog::level::trace)) == "<7>");
  CHECK(std::string(JournalPrefix(spdlog::level::debug)) == "<7>");
  CHECK(std::string(JournalPrefix(spdlog::level::info)) == "<6>");
  CHECK(std::string(JournalPrefix(spdlog::level::warn)) == "<4>");
  CHECK(std::string(JournalPrefix(spdlog::level::err)) == "<3>");
  CHECK(std::string(JournalPrefix(spdlog::level::critical)) == "<2>");
}
