// Helpers of the frame source tests: a SourceClock the test controls, a
// recorder of what a source calls back with, and writers of test inputs.
#ifndef LOOKOUT_TESTS_CAPTURE_SOURCE_TESTING_H_
#define LOOKOUT_TESTS_CAPTURE_SOURCE_TESTING_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "lookout/capture/frame_source.h"
#include "support/catch_compat.h"
#include "support/wait.h"

namespace lookout::testing {

/// A SourceClock for checking the waits a source asks for, on a time line
/// that starts at 0 when the clock is made.
///   kStill: time moves only when the test says (AdvanceTo), so a waiting
///           source stays put until the test lets it go, or until Stop().
///   kJumps: time jumps to each deadline a source waits for: pacing takes no
///           real time.
///   kReal:  the real clock (SteadySourceClock()), watched.
class TestClock final : public capture::SourceClock {
 public:
  using Duration = TimePoint::duration;
  enum Mode { kStill, kJumps, kReal };
  struct Wait {
    Duration at;     // Now() when the wait began.
    Duration until;  // Its deadline.
    Duration length() const { return until - at; }
  };

  explicit TestClock(Mode mode)
      : mode_(mode), origin_(mode == kReal ? real_->Now() : TimePoint{}) {}

  TimePoint Now() override {
    if (mode_ == kReal) return real_->Now();
    std::lock_guard lock(mutex_);
    return origin_ + now_;
  }

  bool SleepUntil(TimePoint deadline, std::stop_token stop) override {
    const Duration until = deadline - origin_;
    std::unique_lock lock(mutex_);
    waits_.push_back({mode_ == kReal ? real_->Now() - origin_ : now_, until});
    if (mode_ == kJumps) now_ = std::max(now_, until);
    changed_.notify_all();
    if (mode_ == kReal) {
      lock.unlock();
      return real_->SleepUntil(deadline, stop);
    }
    changed_.wait(lock, stop, [&] { return now_ >= until; });
    return !stop.stop_requested();
  }

  /// kStill: moves time forward to `time` (on the clock's time line).
  void AdvanceTo(Duration time) {
    std::lock_guard lock(mutex_);
    now_ = std::max(now_, time);
    changed_.notify_all();
  }
  /// kStill: ends the wait begun last.
  void EndLastWait() { AdvanceTo(waits().back().until); }

  /// Waits (bounded) until sources have begun `count` waits in all.
  bool WaitForWaits(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kEventDeadline, [&] { return waits_.size() >= count; });
  }

  std::vector<Wait> waits() const {
    std::lock_guard lock(mutex_);
    return waits_;
  }
  std::vector<Duration> deadlines() const {
    std::vector<Duration> out;
    for (const Wait& wait : waits()) out.push_back(wait.until);
    return out;
  }
  std::vector<Duration> lengths() const {
    std::vector<Duration> out;
    for (const Wait& wait : waits()) out.push_back(wait.length());
    return out;
  }

 private:
  const Mode mode_;
  const std::shared_ptr<capture::SourceClock> real_ = capture::SteadySourceClock();
  const TimePoint origin_;
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  Duration now_{0};  // kStill, kJumps.
  std::vector<Wait> waits_;
};

/// Records what a source delivers: frames, events and ends, in one order
/// (`log()`: "frame", "end", or the event kind's name). Callbacks run on the
/// source's thread.
class Collector {
 public:
  using Kind = capture::SourceEvent::Kind;

  capture::FrameSource::FrameCallback OnFrame() {
    return [this](capture::FramePtr frame) {
      std::lock_guard lock(mutex_);
      frames_.push_back(std::move(frame));
      log_.push_back("frame");
      changed_.notify_all();
    };
  }
  capture::FrameSource::EndCallback OnEnd() {
    return [this](const std::string& reason) {
      std::lock_guard lock(mutex_);
      end_reasons_.push_back(reason);
      log_.push_back("end");
      changed_.notify_all();
    };
  }
  capture::FrameSource::EventCallback OnEvent() {
    return [this](const capture::SourceEvent& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
      log_.push_back(capture::SourceEventKindName(event.kind));
      changed_.notify_all();
    };
  }
  /// Starts `source` with all three callbacks.
  void Start(capture::FrameSource& source) {
    source.SetEventCallback(OnEvent());
    source.Start(OnFrame(), OnEnd());
  }

  bool WaitForEnd(std::chrono::milliseconds timeout = kEventDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return !end_reasons_.empty(); });
  }
  bool WaitForFrames(size_t count, std::chrono::milliseconds timeout = kEventDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return frames_.size() >= count; });
  }
  /// Waits for the `count`th event of `kind`.
  bool WaitForEvents(Kind kind, size_t count, std::chrono::milliseconds timeout = kEventDeadline) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return CountLocked(kind) >= count; });
  }

  std::vector<capture::FramePtr> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::vector<std::string> end_reasons() const {
    std::lock_guard lock(mutex_);
    return end_reasons_;
  }
  std::vector<capture::SourceEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<capture::SourceEvent> events(Kind kind) const {
    std::vector<capture::SourceEvent> out;
    for (const capture::SourceEvent& event : events()) {
      if (event.kind == kind) out.push_back(event);
    }
    return out;
  }
  std::vector<std::string> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  size_t CountLocked(Kind kind) const {
    const auto of_kind = [&](const capture::SourceEvent& event) { return event.kind == kind; };
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(), of_kind));
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<capture::FramePtr> frames_;
  std::vector<std::string> end_reasons_;
  std::vector<capture::SourceEvent> events_;
  std::vector<std::string> log_;
};

inline void WriteRandomBytes(const std::filesystem::path& path, size_t size, unsigned seed = 1234) {
  std::mt19937 rng(seed);
  std::ofstream out(path, std::ios::binary);
  for (size_t i = 0; i < size; ++i) out.put(static_cast<char>(rng() & 0xff));
}

/// Writes `count` 64x48 MJPG frames at 25 fps to `path` (.avi); frame i is a
/// uniform grey of (20*i + 10) % 256, with noise added when `noisy` (so that
/// the frames, not the container's headers, make up most of the file).
inline std::filesystem::path WriteVideo(const std::filesystem::path& path, int count,
                                        bool noisy = false) {
  cv::VideoWriter writer(path.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25.0,
                         cv::Size(64, 48));
  REQUIRE(writer.isOpened());
  cv::RNG rng(42);
  for (int i = 0; i < count; ++i) {
    cv::Mat frame(48, 64, CV_8UC3, cv::Scalar::all((20 * i + 10) % 256));
    if (noisy) {
      cv::Mat noise(48, 64, CV_8UC3);
      rng.fill(noise, cv::RNG::UNIFORM, 0, 64);
      frame += noise;
    }
    writer.write(frame);
  }
  writer.release();
  return path;
}

inline capture::SourceOptions Images(const std::filesystem::path& folder, double fps,
                                     bool loop = false,
                                     std::shared_ptr<capture::SourceClock> clock = nullptr) {
  capture::SourceOptions options;
  options.type = capture::SourceType::kImages;
  options.device = folder.string();
  options.fps = fps;
  options.loop = loop;
  options.clock = std::move(clock);
  return options;
}

inline capture::SourceOptions Video(const std::filesystem::path& file, double fps = 0.0,
                                    bool loop = false,
                                    std::shared_ptr<capture::SourceClock> clock = nullptr) {
  capture::SourceOptions options;
  options.type = capture::SourceType::kVideo;
  options.device = file.string();
  options.fps = fps;
  options.loop = loop;
  options.clock = std::move(clock);
  return options;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_CAPTURE_SOURCE_TESTING_H_
