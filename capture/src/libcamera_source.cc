// The libcamera source: the Raspberry Pi camera stack (and any other camera
// libcamera drives). Requests cycle through a fixed set of mmapped buffers;
// each completed buffer is copied into a Frame and the request requeued, so
// the camera never waits on a consumer holding a frame.
//
// Written against libcamera 0.0.3 (Debian 12) and 0.3+ (Raspberry Pi OS):
// the calls used here have the same shape in both.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <libcamera/libcamera.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "sources.h"

namespace lookout::capture::internal {
namespace {

namespace lc = libcamera;
using Clock = std::chrono::steady_clock;

constexpr int kMaxRestarts = 5;
constexpr auto kInitialRestartDelay = std::chrono::milliseconds(500);

// True on a thread that is inside one of our callbacks, so Stop() called
// from a callback only requests the stop instead of waiting for itself.
thread_local bool tls_in_callback = false;

class LibcameraSource final : public FrameSource {
 public:
  explicit LibcameraSource(const SourceOptions& options) : options_(options) {}
  ~LibcameraSource() override { Stop(); }

  void Start(FrameCallback on_frame, EndCallback on_end) override {
    if (supervisor_.joinable()) {
      std::lock_guard lock(mutex_);
      if (!stop_requested_ && !ended_) throw std::logic_error("already running: " + Describe());
    }
    Teardown();
    on_frame_ = std::move(on_frame);
    on_end_ = std::move(on_end);
    stop_requested_ = ended_ = restart_needed_ = false;
    next_sequence_ = 0;
    try {
      Open();
    } catch (...) {
      Teardown();
      throw;
    }
    supervisor_ = std::thread(&LibcameraSource::Supervise, this);
  }

  void Stop() override {
    {
      std::lock_guard lock(mutex_);
      stop_requested_ = true;
    }
    wake_.notify_all();
    if (tls_in_callback) return;
    Teardown();
  }

  std::string Describe() const override {
    std::ostringstream out;
    out << "libcamera:" << (options_.device.empty() ? "first camera" : options_.device);
    if (width_ > 0) {
      out << " (" << width_ << "x" << height_ << " " << format_;
    } else if (options_.width > 0) {
      out << " (" << options_.width << "x" << options_.height << " requested";
    } else {
      out << " (default size";
    }
    if (options_.fps > 0.0) out << ", " << options_.fps << " fps requested";
    out << ")";
    return out.str();
  }

 private:
  void Open() {
    manager_ = std::make_unique<lc::CameraManager>();
    if (int ret = manager_->start(); ret < 0) {
      throw std::runtime_error("libcamera: cannot start the camera manager (error " +
                               std::to_string(ret) + ")");
    }
    const auto cameras = manager_->cameras();
    if (cameras.empty()) throw std::runtime_error("libcamera: no camera found");
    camera_ = options_.device.empty() ? cameras.front() : manager_->get(options_.device);
    if (!camera_) {
      std::string ids;
      for (const auto& camera : cameras) ids += (ids.empty() ? "" : ", ") + camera->id();
      throw std::runtime_error("libcamera: no camera '" + options_.device +
                               "' (available: " + ids + ")");
    }
    if (camera_->acquire() < 0) {
      camera_.reset();  // Not ours to release.
      throw std::runtime_error("libcamera: camera " + options_.device +
                               " is in use by another process");
    }
    acquired_ = true;

    config_ = camera_->generateConfiguration({lc::StreamRole::Viewfinder});
    if (!config_ || config_->size() == 0) {
      throw std::runtime_error("libcamera: camera cannot produce a viewfinder stream");
    }
    lc::StreamConfiguration& stream_config = config_->at(0);
    // DRM's RGB888 is B,G,R in memory, i.e. OpenCV's BGR: copied as is.
    stream_config.pixelFormat = lc::formats::RGB888;
    if (options_.width > 0) stream_config.size = lc::Size(options_.width, options_.height);
    if (config_->validate() == lc::CameraConfiguration::Invalid) {
      throw std::runtime_error("libcamera: invalid camera configuration");
    }
    if (stream_config.pixelFormat == lc::formats::BGR888) {
      swap_rb_ = true;
    } else if (stream_config.pixelFormat != lc::formats::RGB888) {
      throw std::runtime_error("libcamera: camera offers " +
                               stream_config.pixelFormat.toString() +
                               " instead of RGB888/BGR888");
    }
    if (camera_->configure(config_.get()) < 0) {
      throw std::runtime_error("libcamera: cannot configure " + stream_config.toString());
    }
    width_ = static_cast<int>(stream_config.size.width);
    height_ = static_cast<int>(stream_config.size.height);
    stride_ = stream_config.stride;
    format_ = stream_config.pixelFormat.toString();
    stream_ = stream_config.stream();

    allocator_ = std::make_unique<lc::FrameBufferAllocator>(camera_);
    if (allocator_->allocate(stream_) < 0) {
      throw std::runtime_error("libcamera: cannot allocate frame buffers");
    }
    for (const std::unique_ptr<lc::FrameBuffer>& buffer : allocator_->buffers(stream_)) {
      Map(buffer.get());
      std::unique_ptr<lc::Request> request = camera_->createRequest();
      if (!request || request->addBuffer(stream_, buffer.get()) < 0) {
        throw std::runtime_error("libcamera: cannot create capture requests");
      }
      requests_.push_back(std::move(request));
    }
    camera_->requestCompleted.connect(this, &LibcameraSource::OnRequestCompleted);
    connected_ = true;
    StartCamera();
    spdlog::info("libcamera: capturing from {} as {}", camera_->id(), Describe());
  }

  // Maps plane 0 (the only plane of packed RGB) for reading.
  void Map(const lc::FrameBuffer* buffer) {
    const lc::FrameBuffer::Plane& plane = buffer->planes().front();
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = plane.offset - plane.offset % page;
    const size_t length = plane.length + (plane.offset - start);
    void* base = mmap(nullptr, length, PROT_READ, MAP_SHARED, plane.fd.get(),
                      static_cast<off_t>(start));
    if (base == MAP_FAILED) throw std::runtime_error("libcamera: cannot mmap a frame buffer");
    mmaps_.push_back({base, length});
    planes_[buffer] = {static_cast<const uint8_t*>(base) + (plane.offset - start), plane.length};
  }

  void StartCamera() {
    lc::ControlList controls(camera_->controls());
    if (options_.fps > 0.0 &&
        camera_->controls().count(lc::controls::FrameDurationLimits.id()) > 0) {
      const auto frame_us = static_cast<int64_t>(1e6 / options_.fps);
      controls.set(lc::controls::FrameDurationLimits, {frame_us, frame_us});
    }
    if (camera_->start(&controls) < 0) throw std::runtime_error("libcamera: cannot start camera");
    {
      std::lock_guard lock(mutex_);
      camera_active_ = true;
    }
    for (const auto& request : requests_) {
      request->reuse(lc::Request::ReuseBuffers);
      if (camera_->queueRequest(request.get()) < 0) {
        throw std::runtime_error("libcamera: cannot queue a capture request");
      }
    }
  }

  // Stops the camera if it runs; pending requests complete (cancelled)
  // synchronously inside camera_->stop().
  void StopCamera() {
    bool was_active;
    {
      std::lock_guard lock(mutex_);
      was_active = camera_active_;
      camera_active_ = false;
    }
    if (was_active) camera_->stop();
  }

  // Runs on libcamera's pipeline thread.
  void OnRequestCompleted(lc::Request* request) {
    if (request->status() == lc::Request::RequestCancelled) {
      std::lock_guard lock(mutex_);
      if (camera_active_ && !stop_requested_) {
        spdlog::warn("{}: capture request cancelled; restarting the camera", Describe());
        camera_active_ = false;
        restart_needed_ = true;
        wake_.notify_all();
      }
      return;
    }
    const lc::FrameBuffer* buffer = request->findBuffer(stream_);
    if (buffer && buffer->metadata().status == lc::FrameMetadata::FrameSuccess) {
      Deliver(buffer);
    }
    std::lock_guard lock(mutex_);
    if (camera_active_ && !stop_requested_) {
      request->reuse(lc::Request::ReuseBuffers);
      camera_->queueRequest(request);
    }
  }

  void Deliver(const lc::FrameBuffer* buffer) {
    const auto captured = Clock::now();
    const auto wall_time = std::chrono::system_clock::now();
    const auto it = planes_.find(buffer);
    if (it == planes_.end()) return;
    const size_t needed = static_cast<size_t>(stride_) * (height_ - 1) + width_ * 3;
    if (it->second.size() < needed) {
      spdlog::warn("{}: frame buffer smaller than {}x{} stride {}", Describe(), width_, height_,
                   stride_);
      return;
    }
    const cv::Mat view(height_, width_, CV_8UC3, const_cast<uint8_t*>(it->second.data()),
                       stride_);
    auto frame = std::make_shared<Frame>();
    if (swap_rb_) {
      cv::cvtColor(view, frame->image, cv::COLOR_RGB2BGR);
    } else {
      frame->image = view.clone();  // Own the pixels: the buffer goes back to the camera.
    }
    frame->captured = captured;
    frame->wall_time = wall_time;
    frame->origin = camera_->id();
    {
      std::lock_guard lock(mutex_);
      if (stop_requested_ || !on_frame_) return;
      frame->sequence = next_sequence_++;
      ++in_callback_;
    }
    tls_in_callback = true;
    try {
      on_frame_(std::move(frame));
    } catch (const std::exception& e) {
      spdlog::error("{}: frame callback threw: {}", Describe(), e.what());
    }
    tls_in_callback = false;
    std::lock_guard lock(mutex_);
    --in_callback_;
    wake_.notify_all();
  }

  // Own thread: restarts the camera after an unexpected cancellation.
  void Supervise() {
    int restarts = 0;
    auto delay = std::chrono::duration_cast<Clock::duration>(kInitialRestartDelay);
    uint64_t frames_at_restart = 0;
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_requested_ || restart_needed_; });
      if (stop_requested_) return;
      restart_needed_ = false;
      // Frames flowed since the last restart: a new incident, not a streak.
      if (next_sequence_ > frames_at_restart) {
        restarts = 0;
        delay = std::chrono::duration_cast<Clock::duration>(kInitialRestartDelay);
      }
      frames_at_restart = next_sequence_;
      lock.unlock();
      std::string error;
      try {
        StopCamera();
        if (++restarts > kMaxRestarts) {
          error = "camera keeps failing (" + std::to_string(kMaxRestarts) + " restarts)";
        } else {
          std::unique_lock wait_lock(mutex_);
          if (wake_.wait_for(wait_lock, delay, [this] { return stop_requested_; })) return;
          wait_lock.unlock();
          delay *= 2;
          StartCamera();
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        spdlog::error("{}: {}", Describe(), error);
        lock.lock();
        if (stop_requested_ || ended_) return;
        ended_ = true;
        lock.unlock();
        tls_in_callback = true;
        if (on_end_) on_end_("libcamera: " + error);
        tls_in_callback = false;
        return;
      }
      lock.lock();
    }
  }

  // Undoes Open() in reverse; safe on a partly opened or closed source.
  void Teardown() {
    if (supervisor_.joinable()) supervisor_.join();
    if (camera_) StopCamera();
    {
      // Camera::stop() has drained the pipeline; this covers a frame
      // callback still running on libcamera's thread regardless.
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return in_callback_ == 0; });
    }
    if (connected_) {
      camera_->requestCompleted.disconnect(this, &LibcameraSource::OnRequestCompleted);
      connected_ = false;
    }
    requests_.clear();
    for (const auto& [base, length] : mmaps_) munmap(base, length);
    mmaps_.clear();
    planes_.clear();
    if (allocator_ && stream_) allocator_->free(stream_);
    allocator_.reset();
    config_.reset();
    stream_ = nullptr;
    if (camera_ && acquired_) camera_->release();
    acquired_ = false;
    camera_.reset();
    // CameraManager is a process-wide singleton; destroy it, not just stop
    // it, so a later Start() (or another source) can create it again.
    manager_.reset();
    width_ = height_ = stride_ = 0;
  }

  const SourceOptions options_;
  FrameCallback on_frame_;
  EndCallback on_end_;
  std::unique_ptr<lc::CameraManager> manager_;
  std::shared_ptr<lc::Camera> camera_;
  std::unique_ptr<lc::CameraConfiguration> config_;
  std::unique_ptr<lc::FrameBufferAllocator> allocator_;
  lc::Stream* stream_ = nullptr;
  std::vector<std::unique_ptr<lc::Request>> requests_;
  std::vector<std::pair<void*, size_t>> mmaps_;
  std::map<const lc::FrameBuffer*, std::span<const uint8_t>> planes_;
  bool acquired_ = false;
  bool connected_ = false;
  bool swap_rb_ = false;
  int width_ = 0, height_ = 0, stride_ = 0;
  std::string format_;
  std::thread supervisor_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;  // Guarded by mutex_, as are the rest.
  bool camera_active_ = false;
  bool restart_needed_ = false;
  bool ended_ = false;
  int in_callback_ = 0;
  uint64_t next_sequence_ = 0;
};

}  // namespace

std::unique_ptr<FrameSource> MakeLibcameraSource(const SourceOptions& options) {
  return std::make_unique<LibcameraSource>(options);
}

}  // namespace lookout::capture::internal
