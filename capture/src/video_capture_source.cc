// Sources read through cv::VideoCapture: video files, V4L2 devices and RTSP
// streams. Files end (or loop) at EOF, with an error when the container
// promised more frames; live sources, and looping files that cannot be
// reopened, retry with backoff.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
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
// A native frame rate above this is a container's placeholder, not a rate.
constexpr double kMaxNativeFps = 1000.0;

bool IsIndex(const std::string& device) {
  return !device.empty() && device.size() < 6 &&
         std::all_of(device.begin(), device.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool UsableRate(double fps) { return std::isfinite(fps) && fps > 0.0 && fps <= kMaxNativeFps; }

std::string Seconds(Clock::duration duration) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << std::chrono::duration<double>(duration).count() << " s";
  return out.str();
}

class VideoCaptureSource final : public ThreadedSource {
 public:
  explicit VideoCaptureSource(const SourceOptions& options)
      : ThreadedSource(options.clock), options_(options) {}
  ~VideoCaptureSource() override { Stop(); }

  std::string Describe() const override {
    std::ostringstream out;
    out << Prefix();
    std::vector<std::string> parts;
    if (options_.width > 0 && options_.height > 0 && !IsFile()) {
      parts.push_back(std::to_string(options_.width) + "x" + std::to_string(options_.height) +
                      " requested");
    }
    std::ostringstream fps;
    if (options_.fps > 0.0) {
      fps << options_.fps << (IsFile() ? " fps paced" : " fps requested");
    } else if (IsFile()) {
      const double native = native_fps_.load();
      if (native < 0.0) {
        fps << "native rate";
      } else if (native == 0.0) {
        fps << "unpaced: no native rate";
      } else {
        fps << "native " << native << " fps paced";
      }
    }
    if (!fps.str().empty()) parts.push_back(fps.str());
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
    // Live sources open on the capture thread, retrying until they do.
    if (!IsFile()) return;
    if (!std::filesystem::is_regular_file(options_.device)) {
      throw std::runtime_error("video file not found: " + options_.device);
    }
    std::string why;
    if (!TryOpen(&why)) throw std::runtime_error("cannot open video file " + Name() + ": " + why);
    if (options_.fps > 0.0) return;
    const double native = capture_.get(cv::CAP_PROP_FPS);
    if (UsableRate(native)) {
      native_fps_ = native;
    } else {
      native_fps_ = 0.0;
      spdlog::info("{}: the file gives no usable frame rate ({}); playing it unpaced", Prefix(),
                   native);
    }
  }

  void Close() override { capture_.release(); }

  void Run() override {
    const double fps = options_.fps > 0.0 ? options_.fps : IsFile() ? native_fps_.load() : 0.0;
    const auto period = fps > 0.0 ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(1.0 / fps))
                                  : Clock::duration::zero();
    if (!capture_.isOpened() && !Reopen(/*at_once=*/true, "")) return;
    SourceClock::TimePoint deadline = Now();
    uint64_t read_this_pass = 0;       // Frames decoded.
    uint64_t delivered_this_pass = 0;  // Of those, frames passed on.
    double last_position_ms = -1.0;
    bool dropping = false;  // The last frame was dropped: log only the first of a streak.
    while (!stopping()) {
      cv::Mat image;
      const bool ok = capture_.read(image);
      if (!ok || image.empty()) {
        if (IsFile()) {
          const std::string problem = ShortRead(read_this_pass, last_position_ms);
          if (!problem.empty()) {
            spdlog::warn("{}", problem);
            Report(SourceEvent::Kind::kError, problem);
          }
          if (!options_.loop) {
            if (problem.empty() && read_this_pass > 0 && delivered_this_pass == 0) {
              return End(NothingDelivered(read_this_pass));
            }
            return End(problem);
          }
          // A file that yields nothing would otherwise spin forever.
          if (read_this_pass == 0) return End(problem);
          if (delivered_this_pass == 0) return End(NothingDelivered(read_this_pass));
          read_this_pass = delivered_this_pass = 0;
          last_position_ms = -1.0;
          if (!Reopen(/*at_once=*/true, "")) return;
          continue;
        }
        if (!Reopen(/*at_once=*/false, "read failed")) return;
        continue;
      }
      ++read_this_pass;
      failing_ = false;
      if (IsFile()) last_position_ms = capture_.get(cv::CAP_PROP_POS_MSEC);
      const cv::Size size = image.size();
      std::string bad;
      if (ExceedsPixels(size, options_.max_frame_pixels)) {
        bad = "dropping a frame: " + PixelLimitText(size, options_.max_frame_pixels);
      } else {
        image = ToOwnedBgr(std::move(image));
        if (image.empty()) bad = "dropping a frame of an unsupported pixel format";
      }
      if (!bad.empty()) {
        const std::string message = Prefix() + ": " + bad;
        if (!dropping) spdlog::warn("{} (and any like it that follow)", message);
        dropping = true;
        Report(SourceEvent::Kind::kBadFrame, message);
        continue;
      }
      dropping = false;
      ++delivered_this_pass;
      if (period > Clock::duration::zero()) {
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

  // "video:/x.avi", "rtsp:rtsp://...": what messages start with.
  std::string Prefix() const { return std::string(SourceTypeName(options_.type)) + ":" + Name(); }

  // Why a file's pass that read `read` frames (the last at `position_ms`)
  // ended early, or "" when it did not. Frame counts are exact where the
  // container stores them (AVI, MP4) but estimated from the duration
  // elsewhere (Matroska, WebM, MPEG-TS), a duration that includes the last
  // frame's and may include a longer audio track; so a pass counts as whole
  // when it reached the announced count, by frames read or by the position
  // of the last one, within max(2 frames, 1 s of frames, 1 %).
  std::string ShortRead(uint64_t read, double position_ms) const {
    if (read == 0) {
      return Prefix() + ": cannot read a frame" +
             (expected_frames_ > 0 ? " (" + std::to_string(expected_frames_) + " announced)" : "") +
             ": the file is damaged or its codec unsupported";
    }
    if (expected_frames_ == 0) return "";
    uint64_t reached = read;
    uint64_t tolerance = std::max<uint64_t>(2, expected_frames_ / 100);
    if (UsableRate(container_fps_)) {
      tolerance = std::max(tolerance, static_cast<uint64_t>(std::ceil(container_fps_)));
      if (position_ms >= 0.0 && std::isfinite(position_ms)) {
        const double frames_by_time = position_ms * container_fps_ / 1000.0;
        reached = std::max(reached, static_cast<uint64_t>(std::llround(frames_by_time)) + 1);
      }
    }
    if (reached + tolerance >= expected_frames_) return "";
    return Prefix() + ": ended after " + std::to_string(read) + " of " +
           std::to_string(expected_frames_) + " frames: the file is truncated or damaged";
  }

  std::string NothingDelivered(uint64_t read) const {
    return Prefix() + ": none of its " + std::to_string(read) +
           " frames could be used (over max_frame_pixels " +
           std::to_string(options_.max_frame_pixels) + ", or of an unsupported pixel format)";
  }

  // Opens the capture; on failure sets `*why` (without the source's name).
  bool TryOpen(std::string* why) {
    try {
      switch (options_.type) {
        case SourceType::kVideo:
          if (!std::filesystem::is_regular_file(options_.device)) {
            *why = "no such file";
            return false;
          }
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
          *why = "not a VideoCapture source";
          return false;
      }
    } catch (const cv::Exception& e) {
      *why = "open failed: " + e.err;
      return false;
    }
    if (!capture_.isOpened()) {
      std::error_code ec;
      const bool is_path = options_.type != SourceType::kRtsp && !IsIndex(options_.device);
      if (is_path && !std::filesystem::exists(options_.device, ec)) {
        *why = IsFile() ? "no such file" : "no such device file";
      } else if (IsFile()) {
        *why = "not a video OpenCV can read";
      } else if (options_.type == SourceType::kRtsp) {
        *why = "cannot open the stream (FFmpeg's log on stderr says why)";
      } else {
        *why = "cannot open the device";
      }
      return false;
    }
    if (IsFile()) {
      const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
      expected_frames_ = std::isfinite(count) && count > 0.0 && count < 1e12
                             ? static_cast<uint64_t>(count)
                             : 0;
      container_fps_ = capture_.get(cv::CAP_PROP_FPS);
      return true;
    }
    // Requests only: drivers pick the nearest mode they support; a backend
    // that cannot even take the request says so here.
    const auto request = [&](int property, double value, const char* name) {
      if (value > 0 && !capture_.set(property, value)) {
        spdlog::info("{}: the backend does not take a {} request ({}): using its default",
                     Describe(), name, value);
      }
    };
    request(cv::CAP_PROP_FRAME_WIDTH, options_.width, "width");
    request(cv::CAP_PROP_FRAME_HEIGHT, options_.height, "height");
    request(cv::CAP_PROP_FPS, options_.fps, "fps");
    return true;
  }

  // Releases the capture and opens it again: at once when `at_once`, and
  // then (or else) after each backoff delay, announced with kReconnecting
  // (`cause` says why, when not trying at once), until it opens (true) or
  // Stop() is requested (false).
  bool Reopen(bool at_once, std::string cause) {
    capture_.release();
    if (stopping()) return false;
    if (!failing_) {
      failing_ = true;
      backoff_ = std::chrono::duration_cast<Clock::duration>(kInitialBackoff);
    }
    if (at_once && TryOpen(&cause)) return true;
    while (true) {
      const std::string message = Prefix() + ": " + cause + "; retrying in " + Seconds(backoff_);
      spdlog::warn("{}", message);
      Report(SourceEvent::Kind::kReconnecting, message,
             std::chrono::duration_cast<std::chrono::milliseconds>(backoff_));
      if (!WaitFor(backoff_)) return false;
      // Keep growing the delay if the source opens but reads keep failing;
      // the next good frame resets it.
      const auto next = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
      const bool opened = TryOpen(&cause);
      backoff_ = next;
      if (opened) {
        spdlog::info("{}: reopened", Describe());
        return true;
      }
    }
  }

  const SourceOptions options_;
  cv::VideoCapture capture_;  // Opened by Open() (files), then capture thread only.
  // Files: the frame rate pacing uses when fps is 0; -1 until Open() has
  // read it, 0 when the file gives none. Read by Describe() on any thread.
  std::atomic<double> native_fps_{-1.0};
  uint64_t expected_frames_ = 0;  // Files: CAP_PROP_FRAME_COUNT at the last open; 0 = unknown.
  double container_fps_ = 0.0;    // Files: CAP_PROP_FPS at the last open.
  bool failing_ = false;          // Capture thread: in a reconnect streak.
  Clock::duration backoff_{};     // Capture thread: next reconnect delay.
};

}  // namespace

std::unique_ptr<FrameSource> MakeVideoCaptureSource(const SourceOptions& options) {
  return std::make_unique<VideoCaptureSource>(options);
}

}  // namespace lookout::capture::internal
