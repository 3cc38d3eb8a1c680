// Internal: the thread, stop signalling and callback plumbing shared by the
// sources that run their own capture loop (images, video, v4l2, rtsp).
#ifndef LOOKOUT_CAPTURE_SRC_THREADED_SOURCE_H_
#define LOOKOUT_CAPTURE_SRC_THREADED_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "lookout/capture/frame_source.h"

namespace lookout::capture::internal {

class ThreadedSource : public FrameSource {
 public:
  /// `clock` paces and times the waits; nullptr means SteadySourceClock().
  explicit ThreadedSource(std::shared_ptr<SourceClock> clock);

  /// Calls Open() on the caller's thread (its exceptions propagate), then
  /// runs Run() on a new thread; takes a copy of the event callback. A
  /// finished or stopped previous run is joined and closed first; a live one
  /// makes it throw std::logic_error.
  void Start(FrameCallback on_frame, EndCallback on_end) final;
  void Stop() final;

 protected:
  // Derived destructors must call Stop() themselves: by the time this
  // base destructor would, the members Run() uses are already gone.
  ~ThreadedSource() override;

  /// Opens the source for a new run; throws std::runtime_error on failure.
  virtual void Open() = 0;
  /// The capture loop. Returns when stopping() or after calling End().
  virtual void Run() = 0;
  /// Releases what Open() acquired; called on the controlling thread after
  /// the capture thread has been joined.
  virtual void Close() {}

  /// True once Stop() was requested.
  bool stopping() const;
  /// The source's clock's current time.
  SourceClock::TimePoint Now() const { return clock_->Now(); }
  /// Sleeps until `deadline` on the source's clock; false (early) when Stop()
  /// is requested.
  bool WaitUntil(SourceClock::TimePoint deadline);
  /// Sleeps for `duration` from Now(); false (early) when Stop() is requested.
  bool WaitFor(std::chrono::steady_clock::duration duration);
  /// Wraps `image` (owned, CV_8UC3) in a Frame stamped now and hands it to
  /// the frame callback, unless stopping. The first frame after a kError or
  /// kReconnecting is preceded by kRecovered.
  void Deliver(cv::Mat image, std::string origin);
  /// Hands an event to the event callback, unless stopping. Does not log.
  void Report(SourceEvent::Kind kind, std::string message,
              std::chrono::milliseconds retry_in = std::chrono::milliseconds(0));
  /// Reports the end of the run to the end callback (once), unless stopping.
  void End(const std::string& reason);
  /// Frames delivered so far in this run.
  uint64_t delivered() const { return next_sequence_; }

 private:
  void ThreadMain();
  void Join();

  const std::shared_ptr<SourceClock> clock_;
  FrameCallback on_frame_;
  EndCallback on_end_;
  EventCallback on_event_;
  std::thread thread_;
  // Stop() requests a stop on it; replaced by Start() (no capture thread then).
  std::stop_source stop_;
  mutable std::mutex mutex_;
  bool finished_ = false;        // Guarded by mutex_: Run() has returned.
  bool ended_ = false;           // Capture thread only.
  bool troubled_ = false;        // Capture thread only: kError/kReconnecting since the last frame.
  uint64_t next_sequence_ = 0;   // Capture thread only.
  std::chrono::nanoseconds last_cpu_{0};  // Capture thread only: ThreadCpuTime() at the last frame.
};

/// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds ThreadCpuTime();

/// Converts a decoded image to an owned 8-bit BGR Mat: grey and BGRA are
/// converted, anything already CV_8UC3 that owns its data passes through.
/// Returns an empty Mat for depths other than 8 bits.
cv::Mat ToOwnedBgr(cv::Mat image);

/// True when `size` has more pixels than `max_pixels` (0: no limit).
bool ExceedsPixels(cv::Size size, uint64_t max_pixels);
/// "WxH = N pixels exceeds max_frame_pixels M", for messages.
std::string PixelLimitText(cv::Size size, uint64_t max_pixels);

/// `url` with any password replaced by "***" (for logs and Describe()).
std::string RedactUrl(const std::string& url);

}  // namespace lookout::capture::internal

#endif  // LOOKOUT_CAPTURE_SRC_THREADED_SOURCE_H_
