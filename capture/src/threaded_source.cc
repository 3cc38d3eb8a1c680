#include "threaded_source.h"

#include <time.h>

#include <condition_variable>
#include <exception>
#include <stdexcept>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "sources.h"

namespace lookout::capture {
namespace {

class SteadyClock final : public SourceClock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }

  bool SleepUntil(TimePoint deadline, std::stop_token stop) override {
    // Nothing notifies `wake` but the stop request (stop_token's callback).
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    wake.wait_until(lock, stop, deadline, [] { return false; });
    return !stop.stop_requested();
  }
};

}  // namespace

std::shared_ptr<SourceClock> SteadySourceClock() {
  static const std::shared_ptr<SourceClock> clock = std::make_shared<SteadyClock>();
  return clock;
}

}  // namespace lookout::capture

namespace lookout::capture::internal {

ThreadedSource::ThreadedSource(std::shared_ptr<SourceClock> clock)
    : clock_(clock != nullptr ? std::move(clock) : SteadySourceClock()) {}

ThreadedSource::~ThreadedSource() {
  // Only reached with a live thread if a derived class forgot to Stop();
  // joining is still better than std::terminate from ~thread.
  if (thread_.joinable()) {
    stop_.request_stop();
    if (thread_.get_id() != std::this_thread::get_id()) thread_.join();
    else thread_.detach();
  }
}

void ThreadedSource::Start(FrameCallback on_frame, EndCallback on_end) {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      if (!stop_.stop_requested() && !finished_) {
        throw std::logic_error("frame source already running: " + Describe());
      }
    }
    Join();
  }
  stop_ = std::stop_source();
  {
    std::lock_guard lock(mutex_);
    finished_ = false;
  }
  ended_ = false;
  next_sequence_ = 0;
  troubled_ = false;
  on_frame_ = std::move(on_frame);
  on_end_ = std::move(on_end);
  on_event_ = event_callback();
  Open();
  thread_ = std::thread(&ThreadedSource::ThreadMain, this);
}

void ThreadedSource::Stop() {
  stop_.request_stop();
  if (!thread_.joinable() || thread_.get_id() == std::this_thread::get_id()) return;
  Join();
}

void ThreadedSource::Join() {
  thread_.join();
  Close();
}

void ThreadedSource::ThreadMain() {
  last_cpu_ = ThreadCpuTime();
  try {
    Run();
  } catch (const std::exception& e) {
    spdlog::error("{}: capture failed: {}", Describe(), e.what());
    End(std::string("capture failed: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  finished_ = true;
}

bool ThreadedSource::stopping() const { return stop_.stop_requested(); }

bool ThreadedSource::WaitUntil(SourceClock::TimePoint deadline) {
  return clock_->SleepUntil(deadline, stop_.get_token());
}

bool ThreadedSource::WaitFor(std::chrono::steady_clock::duration duration) {
  return WaitUntil(clock_->Now() + duration);
}

void ThreadedSource::Deliver(cv::Mat image, std::string origin) {
  if (stopping()) return;
  if (troubled_) {
    troubled_ = false;
    spdlog::info("{}: frames again", Describe());
    Report(SourceEvent::Kind::kRecovered, Describe() + ": frames again");
  }
  auto frame = std::make_shared<Frame>();
  frame->image = std::move(image);
  frame->sequence = next_sequence_++;
  frame->captured = std::chrono::steady_clock::now();
  frame->wall_time = std::chrono::system_clock::now();
  frame->origin = std::move(origin);
  const std::chrono::nanoseconds cpu = ThreadCpuTime();
  frame->capture_cpu = cpu - last_cpu_;
  last_cpu_ = cpu;
  if (!on_frame_) return;
  CallGuarded(*this, "frame", [&] { on_frame_(std::move(frame)); });
}

void ThreadedSource::Report(SourceEvent::Kind kind, std::string message,
                            std::chrono::milliseconds retry_in) {
  if (kind == SourceEvent::Kind::kError || kind == SourceEvent::Kind::kReconnecting) {
    troubled_ = true;
  }
  if (stopping() || !on_event_) return;
  SourceEvent event;
  event.kind = kind;
  event.message = std::move(message);
  event.retry_in = retry_in;
  CallGuarded(*this, "event", [&] { on_event_(event); });
}

void ThreadedSource::End(const std::string& reason) {
  if (ended_ || stopping()) return;
  ended_ = true;
  if (!on_end_) return;
  CallGuarded(*this, "end", [&] { on_end_(reason); });
}

cv::Mat ToOwnedBgr(cv::Mat image) {
  if (image.empty() || image.depth() != CV_8U) return {};
  cv::Mat bgr;
  switch (image.channels()) {
    case 1: cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR); return bgr;
    case 4: cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR); return bgr;
    case 3:
      // A Mat without an allocator record (u == nullptr) wraps someone
      // else's memory, e.g. a backend's buffer that the next read reuses.
      return image.u != nullptr ? image : image.clone();
    default: return {};
  }
}

std::chrono::nanoseconds ThreadCpuTime() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

bool ExceedsPixels(cv::Size size, uint64_t max_pixels) {
  return max_pixels > 0 &&
         static_cast<uint64_t>(size.width) * static_cast<uint64_t>(size.height) > max_pixels;
}

std::string PixelLimitText(cv::Size size, uint64_t max_pixels) {
  return std::to_string(size.width) + "x" + std::to_string(size.height) + " = " +
         std::to_string(static_cast<uint64_t>(size.width) * static_cast<uint64_t>(size.height)) +
         " pixels exceeds max_frame_pixels " + std::to_string(max_pixels);
}

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host_start = scheme + 3;
  const size_t at = url.find('@', host_start);
  const size_t slash = url.find('/', host_start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  const size_t colon = url.find(':', host_start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace lookout::capture::internal
