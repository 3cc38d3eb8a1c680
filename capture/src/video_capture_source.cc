// Sources read through cv::VideoCapture: video files, V4L2 devices and RTSP
// streams. Files end (or loop) at EOF; live sources reconnect on failure.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <spdlog/spdlog.h>

#include "sources.h"
#include "threaded_source.h"

namespace lookout::capture::internal {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kInitialBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
// FFmpeg's own defaults block for ~30 s on a dead stream; shorter limits keep
// a reconnect (and a Stop() that waits for the read) reasonably prompt.
constexpr int kRtspOpenTimeoutMs = 10000;
constexpr int kRtspReadTimeoutMs = 5000;

bool IsIndex(const std::string& device) {
  return !device.empty() && device.size() < 6 &&
         std::all_of(device.begin(), device.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

class VideoCaptureSource final : public ThreadedSource {
 public:
  explicit VideoCaptureSource(const SourceOptions& options)
      : ThreadedSource(options.clock), options_(options) {}
  ~VideoCaptureSource() override { Stop(); }

  std::string Describe() const override {
    std::ostringstream out;
    out << SourceTypeName(options_.type) << ":" << Name();
    std::vector<std::string> parts;
    if (options_.width > 0 && options_.height > 0 && !IsFile()) {
      parts.push_back(std::to_string(options_.width) + "x" + std::to_string(options_.height) +
                      " requested");
    }
    if (options_.fps > 0.0) {
      std::ostringstream fps;
      fps << options_.fps << (IsFile() ? " fps paced" : " fps requested");
      parts.push_back(fps.str());
    } else if (IsFile()) {
      parts.push_back("unpaced");
    }
    if (IsFile()) parts.push_back(options_.loop ? "loop" : "once");
    if (!parts.empty()) {
      out << " (";
      for (size_t i = 0; i < parts.size(); ++i) out << (i ? ", " : "") << parts[i];
      out << ")";
    }
    return out.str();
  }

 protected:
  void Open() override {
    failing_ = false;
    if (IsFile() && !std::filesystem::is_regular_file(options_.device)) {
      throw std::runtime_error("video file not found: " + options_.device);
    }
    if (!TryOpen()) {
      throw std::runtime_error(std::string("cannot open ") + SourceTypeName(options_.type) +
                               " source " + Name());
    }
  }

  void Close() override { capture_.release(); }

  void Run() override {
    SourceClock::TimePoint deadline = Now();
    const auto period = options_.fps > 0.0
                            ? std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(1.0 / options_.fps))
                            : Clock::duration::zero();
    uint64_t frames_this_pass = 0;
    while (!stopping()) {
      cv::Mat image;
      const bool ok = capture_.read(image);
      if (!ok || image.empty()) {
        if (IsFile()) {
          if (!options_.loop) return End("");
          // A file that yields nothing would otherwise spin forever.
          if (frames_this_pass == 0) return End("video file has no readable frames: " + Name());
          frames_this_pass = 0;
          capture_.release();
          if (!TryOpen()) return End("cannot reopen video file " + Name());
          continue;
        }
        if (!Reconnect()) return;
        continue;
      }
      image = ToOwnedBgr(std::move(image));
      if (image.empty()) return End("unsupported frame format from " + Name());
      ++frames_this_pass;
      failing_ = false;
      if (IsFile() && period > Clock::duration::zero()) {
        if (!WaitUntil(deadline)) return;
        deadline += period;
        const SourceClock::TimePoint now = Now();
        if (deadline < now - period) deadline = now;
      }
      Deliver(std::move(image), Name());
    }
  }

 private:
  bool IsFile() const { return options_.type == SourceType::kVideo; }

  std::string Name() const {
    return options_.type == SourceType::kRtsp ? RedactUrl(options_.device) : options_.device;
  }

  bool TryOpen() {
    try {
      switch (options_.type) {
        case SourceType::kVideo:
          // Named backends only: CAP_ANY also probes gphoto2 (a USB scan that
          // leaks) and the image-sequence reader.
          if (!capture_.open(options_.device, cv::CAP_FFMPEG)) {
            capture_.open(options_.device, cv::CAP_GSTREAMER);
          }
          break;
        case SourceType::kV4l2:
          if (IsIndex(options_.device)) {
            capture_.open(std::stoi(options_.device), cv::CAP_V4L2);
          } else {
            capture_.open(options_.device, cv::CAP_V4L2);
          }
          break;
        case SourceType::kRtsp:
          capture_.open(options_.device, cv::CAP_FFMPEG,
                        {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, kRtspOpenTimeoutMs,
                         cv::CAP_PROP_READ_TIMEOUT_MSEC, kRtspReadTimeoutMs});
          break;
        default:
          return false;
      }
    } catch (const cv::Exception& e) {
      spdlog::warn("{}: open failed: {}", Describe(), e.what());
      return false;
    }
    if (!capture_.isOpened()) return false;
    if (!IsFile()) {
      // Requests only: drivers pick the nearest mode they support; a backend
      // that cannot even take the request says so here.
      const auto request = [&](int property, double value, const char* name) {
        if (value > 0 && !capture_.set(property, value)) {
          spdlog::info("{}: the backend does not take a {} request ({}): using its default", Describe(), name, value);
        }
      };
      request(cv::CAP_PROP_FRAME_WIDTH, options_.width, "width");
      request(cv::CAP_PROP_FRAME_HEIGHT, options_.height, "height");
      request(cv::CAP_PROP_FPS, options_.fps, "fps");
    }
    return true;
  }

  // Releases the capture and reopens it with exponential backoff until it
  // opens (true) or Stop() is requested (false).
  bool Reconnect() {
    capture_.release();
    if (stopping()) return false;
    if (!failing_) {
      failing_ = true;
      backoff_ = std::chrono::duration_cast<Clock::duration>(kInitialBackoff);
    }
    spdlog::warn("{}: read failed; reconnecting in {:.1f} s", Describe(),
                 std::chrono::duration<double>(backoff_).count());
    while (true) {
      if (!WaitFor(backoff_)) return false;
      const auto next = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
      if (TryOpen()) {
        spdlog::info("{}: reopened", Describe());
        // Keep growing the delay if the device opens but reads keep failing;
        // the next good frame resets it.
        backoff_ = next;
        return true;
      }
      backoff_ = next;
      spdlog::warn("{}: cannot reopen; retrying in {:.1f} s", Describe(),
                   std::chrono::duration<double>(backoff_).count());
    }
  }

  const SourceOptions options_;
  cv::VideoCapture capture_;  // Opened by Open(), then capture thread only.
  bool failing_ = false;       // Capture thread: in a reconnect streak.
  Clock::duration backoff_{};  // Capture thread: next reconnect delay.
};

}  // namespace

std::unique_ptr<FrameSource> MakeVideoCaptureSource(const SourceOptions& options) {
  return std::make_unique<VideoCaptureSource>(options);
}

}  // namespace lookout::capture::internal
