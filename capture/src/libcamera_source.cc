// The libcamera source: the Raspberry Pi camera stack (and any other camera
// libcamera drives, including its virtual camera).
//
// The camera's scaler makes frames at the model's scale (SourceOptions'
// target size): one stream, or a low-resolution second stream beside a main
// stream of the configured size where the camera offers one (a Raspberry
// Pi's ISP does, as rpicam-apps' "lores"). Nothing is copied on the capture
// thread: each completed request's buffer is handed out as a Frame viewing
// the mapped buffer, and the request goes back to the camera when the last
// copy of that Frame is released. A few buffers (kMinBuffers) keep the
// camera busy while the consumer holds the newest frame and the one it works
// on.
//
// A camera that cannot be found, is removed, or whose requests come back
// cancelled is closed with its camera manager and opened again with backoff
// (0.5 s doubling to 30 s) until it is back: a new camera manager enumerates
// the cameras afresh, which is how a camera plugged back in, or a virtual
// camera described again, is found.
//
// Written against libcamera 0.0.3 (Debian 12), 0.4 (Debian 13) and
// Raspberry Pi's 0.5+: the calls used here take the same arguments in all of
// them (std::vector converts to the Span parameters of later versions); what
// a buffer's status means differs, and is guarded by version in Wrap().
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <libcamera/libcamera.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "sources.h"
#include "threaded_source.h"

namespace lookout::capture::internal {
namespace {

namespace lc = libcamera;
using Clock = std::chrono::steady_clock;

constexpr auto kInitialRetryDelay = std::chrono::milliseconds(500);
constexpr auto kMaxRetryDelay = std::chrono::seconds(30);
// The newest frame waiting for the consumer, the one it works on, and two
// with the camera.
constexpr unsigned int kMinBuffers = 4;

// True on a thread that is inside one of our callbacks, so Stop() called
// from a callback only requests the stop instead of waiting for itself.
thread_local bool tls_in_callback = false;

// The pixel formats frames can come in. DRM fourccs name a little-endian
// word: RGB888 is B,G,R in memory.
struct Format {
  lc::PixelFormat format;
  PixelLayout layout;
};
const std::array<Format, 6> kFormats = {{
    {lc::formats::RGB888, PixelLayout::kBgr},
    {lc::formats::BGR888, PixelLayout::kRgb},
    {lc::formats::XRGB8888, PixelLayout::kBgrx},
    {lc::formats::XBGR8888, PixelLayout::kRgbx},
    {lc::formats::YUV420, PixelLayout::kYuv420},
    {lc::formats::NV12, PixelLayout::kNv12},
}};

std::optional<PixelLayout> LayoutOf(const lc::PixelFormat& format) {
  for (const Format& f : kFormats) {
    if (f.format == format) return f.layout;
  }
  return std::nullopt;
}

// Bytes of each plane of a frame, the planes one after another.
std::vector<size_t> PlaneSizes(PixelLayout layout, const lc::Size& size, unsigned int stride) {
  const size_t luma = static_cast<size_t>(stride) * size.height;
  const size_t chroma_rows = (size.height + 1) / 2;
  switch (layout) {
    case PixelLayout::kNv12: return {luma, stride * chroma_rows};
    case PixelLayout::kYuv420: return {luma, stride / 2 * chroma_rows, stride / 2 * chroma_rows};
    default: return {luma};
  }
}

// The smallest even size with the aspect ratio of `shape` that covers
// `target`, so the consumer can crop or squeeze it as it would the full frame.
lc::Size Cover(const lc::Size& shape, const lc::Size& target) {
  uint64_t width = target.width, height = target.height;
  if (!shape.isNull()) {
    if (uint64_t{target.width} * shape.height >= uint64_t{target.height} * shape.width) {
      height = (uint64_t{target.width} * shape.height + shape.width - 1) / shape.width;
    } else {
      width = (uint64_t{target.height} * shape.width + shape.height - 1) / shape.height;
    }
  }
  return lc::Size(static_cast<unsigned int>(width + width % 2),
                  static_cast<unsigned int>(height + height % 2));
}

YuvEncoding EncodingOf(const std::optional<lc::ColorSpace>& space) {
  // Unset: JPEG's full-range Rec601, which is what libcamera's virtual
  // camera makes from its JPEG files.
  YuvEncoding encoding;
  if (!space) return encoding;
  switch (space->ycbcrEncoding) {
    case lc::ColorSpace::YcbcrEncoding::Rec709: encoding.matrix = YuvEncoding::Matrix::kRec709; break;
    case lc::ColorSpace::YcbcrEncoding::Rec2020: encoding.matrix = YuvEncoding::Matrix::kRec2020; break;
    default: break;
  }
  encoding.full_range = space->range == lc::ColorSpace::Range::Full;
  return encoding;
}

// Thrown by Open() when the camera is not there (yet): not found, or held
// by another process. Start() then retries instead of failing.
class CameraUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error of Open() as the cause of a retry, which Name() introduces: its
// "libcamera: " prefix dropped.
std::string CauseOf(const std::exception& e) {
  constexpr std::string_view kPrefix = "libcamera: ";
  std::string_view what = e.what();
  if (what.substr(0, kPrefix.size()) == kPrefix) what.remove_prefix(kPrefix.size());
  return std::string(what);
}

// The frame stream's buffers mapped for reading, for one opening of the
// camera; unmapped when the source has closed it and no frame views them.
struct Mappings {
  ~Mappings() {
    for (const auto& [base, length] : regions) munmap(base, length);
  }
  std::vector<std::pair<void*, size_t>> regions;
};

// One Start()'s run state, and where each capture request of the opened
// camera is: with the camera, held by a frame, held back by fps pacing
// (`deferred`), or nowhere (`idle`, while the camera is stopped). Shared by
// the source and every frame viewing a buffer; a frame from an earlier
// opening of the camera (an older `generation`) no longer reaches it.
// Everything is guarded by `mutex`.
struct Run {
  // Hands `request` (of opening `of_generation`) back to the camera, or
  // keeps it until the camera runs again or pacing allows. Needs `mutex`.
  void Recycle(lc::Request* request, uint64_t of_generation) {
    // The camera is closed, or closed and opened again since: the request
    // is gone with it.
    if (camera == nullptr || of_generation != generation) return;
    if (!camera_active) {
      idle.push_back(request);
      return;
    }
    const auto now = Clock::now();
    if (now < next_queue) {
      deferred.push_back(request);
      wake.notify_all();
      return;
    }
    next_queue = now + interval;
    request->reuse(lc::Request::ReuseBuffers);
    if (camera->queueRequest(request) < 0) idle.push_back(request);
  }

  std::mutex mutex;
  std::condition_variable wake;
  lc::Camera* camera = nullptr;  // The opened camera; nullptr while closed.
  uint64_t generation = 0;       // Counts the openings of the camera.
  bool camera_active = false;
  bool stop_requested = false;
  bool reopen_needed = false;
  std::string reopen_cause;  // Why, for the log and the kReconnecting event.
  bool recovering = false;   // Reopened: the next frame gets a kRecovered first.
  int in_callback = 0;
  uint64_t next_sequence = 0;
  std::vector<lc::Request*> idle;
  std::deque<lc::Request*> deferred;
  Clock::duration interval{0};  // 1 / fps; 0 = no pacing.
  Clock::time_point next_queue;
};

// A configured stream and how its frames look.
struct StreamInfo {
  lc::Stream* stream = nullptr;
  lc::Size size;
  unsigned int stride = 0;
  PixelLayout layout = PixelLayout::kBgr;
  YuvEncoding yuv;
  std::string text;  // e.g. "400x224-NV12"
};

class LibcameraSource final : public FrameSource {
 public:
  explicit LibcameraSource(const SourceOptions& options) : options_(options) {}
  ~LibcameraSource() override { Stop(); }

  // Never ends by itself: a lost camera is retried until Stop().
  void Start(FrameCallback on_frame, EndCallback /*on_end*/) override {
    if (supervisor_.joinable()) {
      std::lock_guard lock(run_->mutex);
      if (!run_->stop_requested) throw std::logic_error("already running: " + Describe());
    }
    Teardown();
    on_frame_ = std::move(on_frame);
    on_event_ = event_callback();
    last_cpu_.reset();
    run_ = std::make_shared<Run>();
    if (options_.fps > 0.0) {
      run_->interval = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / options_.fps));
    }
    try {
      Open();
    } catch (const CameraUnavailable& e) {
      // Not there yet: the supervisor reports it and retries.
      CloseCamera();
      std::lock_guard lock(run_->mutex);
      run_->reopen_needed = true;
      run_->reopen_cause = CauseOf(e);
    } catch (...) {
      Teardown();
      throw;
    }
    supervisor_ = std::thread(&LibcameraSource::Supervise, this);
  }

  void Stop() override {
    if (!run_) return;
    {
      std::lock_guard lock(run_->mutex);
      run_->stop_requested = true;
    }
    run_->wake.notify_all();
    if (tls_in_callback) return;
    Teardown();
  }

  std::string Describe() const override {
    std::ostringstream out;
    out << Name() << " (";
    std::string streams;
    {
      std::lock_guard lock(streams_mutex_);
      streams = streams_;
    }
    if (!streams.empty()) {
      out << streams;
    } else if (options_.width > 0) {
      out << options_.width << "x" << options_.height << " requested";
    } else {
      out << "default size";
    }
    if (options_.target_width > 0) {
      out << " for " << options_.target_width << "x" << options_.target_height;
    }
    if (options_.fps > 0.0) out << ", " << options_.fps << " fps requested";
    out << ")";
    return out.str();
  }

 private:
  // "libcamera:ID", or "libcamera:first camera".
  std::string Name() const {
    return "libcamera:" + (options_.device.empty() ? std::string("first camera") : options_.device);
  }

  // Creates the camera manager, finds, acquires, configures and starts the
  // camera. Throws CameraUnavailable when it is not there, or in use;
  // std::runtime_error when it cannot do what the options ask. CloseCamera()
  // undoes a partial Open().
  void Open() {
    manager_ = std::make_unique<lc::CameraManager>();
    if (int ret = manager_->start(); ret < 0) {
      throw CameraUnavailable("libcamera: cannot start the camera manager (error " +
                              std::to_string(ret) + ")");
    }
    const auto cameras = manager_->cameras();
    if (cameras.empty()) throw CameraUnavailable("libcamera: no camera found");
    camera_ = options_.device.empty() ? cameras.front() : manager_->get(options_.device);
    if (!camera_) {
      std::string ids;
      for (const auto& camera : cameras) ids += (ids.empty() ? "" : ", ") + camera->id();
      throw CameraUnavailable("libcamera: no camera '" + options_.device + "' (available: " + ids +
                              ")");
    }
    if (camera_->acquire() < 0) {
      camera_.reset();  // Not ours to release.
      throw CameraUnavailable("libcamera: camera " + options_.device +
                              " is in use by another process");
    }
    acquired_ = true;
    // Nothing completes before StartCamera(); both signals from here on.
    camera_->disconnected.connect(this, &LibcameraSource::OnDisconnected);
    camera_->requestCompleted.connect(this, &LibcameraSource::OnRequestCompleted);
    connected_ = true;

    Configure();
    mappings_ = std::make_shared<Mappings>();
    last_cpu_.reset();  // A new camera manager: a new thread to measure.
    AllocateBuffers();
    {
      std::lock_guard lock(run_->mutex);
      run_->camera = camera_.get();
      ++run_->generation;
    }
    StartCamera();
    spdlog::info("libcamera: capturing from {} as {}", camera_->id(), Describe());
  }

  // A second, low-resolution stream only pays when the main stream has a
  // configured size well above the frames wanted; otherwise one stream.
  void Configure() {
    const lc::Size target(options_.target_width, options_.target_height);
    const lc::Size main_size(options_.width, options_.height);
    if (!main_size.isNull() && !target.isNull()) {
      const lc::Size lores = Cover(main_size, target);
      if (lores.width < main_size.width && lores.height < main_size.height) {
        config_ = TryConfiguration(main_size, lores);
      }
    }
    if (!config_) config_ = TryConfiguration(main_size, {});
    if (!config_) throw std::runtime_error("libcamera: camera cannot produce a viewfinder stream");
    const lc::StreamConfiguration& frames = config_->at(config_->size() - 1);
    if (!LayoutOf(frames.pixelFormat)) {
      std::string names;
      for (const Format& f : kFormats) names += (names.empty() ? "" : ", ") + f.format.toString();
      throw std::runtime_error("libcamera: camera offers " + frames.toString() +
                               ", not one of " + names);
    }
    if (camera_->configure(config_.get()) < 0) {
      throw std::runtime_error("libcamera: cannot configure " + config_->at(0).toString());
    }
    main_ = InfoOf(config_->at(0));
    frames_ = InfoOf(config_->at(config_->size() - 1));
    {
      std::lock_guard lock(streams_mutex_);
      streams_ = main_.stream != frames_.stream ? main_.text + ", frames from " + frames_.text
                                                : frames_.text;
    }
    // Every frame of the run has this size: refuse now rather than drop them all.
    const cv::Size frame_size(static_cast<int>(frames_.size.width),
                              static_cast<int>(frames_.size.height));
    if (ExceedsPixels(frame_size, options_.max_frame_pixels)) {
      throw std::runtime_error("libcamera: frames of " + frames_.text + ": " +
                               PixelLimitText(frame_size, options_.max_frame_pixels));
    }
  }

  // A validated configuration of a main stream (`main_size`; null: the
  // camera's default, scaled to the target) and, when `lores` is not null, a
  // second stream of that size; nullptr when the camera cannot do it.
  std::unique_ptr<lc::CameraConfiguration> TryConfiguration(const lc::Size& main_size,
                                                            const lc::Size& lores) {
    const std::vector<lc::StreamRole> roles(lores.isNull() ? 1 : 2, lc::StreamRole::Viewfinder);
    std::unique_ptr<lc::CameraConfiguration> config = camera_->generateConfiguration(roles);
    if (!config || config->size() != roles.size()) return nullptr;
    lc::StreamConfiguration& main = config->at(0);
    const lc::Size target(options_.target_width, options_.target_height);
    if (!main_size.isNull()) {
      main.size = main_size;
    } else if (!target.isNull()) {
      main.size = Cover(main.size, target);
    }
    // One stream: BGR, which needs no conversion. Two: YUV420 for both, the
    // only format of a Raspberry Pi's low-resolution output.
    main.pixelFormat = lores.isNull() ? lc::formats::RGB888 : lc::formats::YUV420;
    if (!lores.isNull()) {
      config->at(1).size = lores;
      config->at(1).pixelFormat = lc::formats::YUV420;
    }
    for (lc::StreamConfiguration& stream_config : *config) {
      stream_config.bufferCount = std::max(stream_config.bufferCount, kMinBuffers);
    }
    if (config->validate() == lc::CameraConfiguration::Invalid ||
        config->size() != roles.size()) {
      return nullptr;
    }
    if (!lores.isNull() && !LayoutOf(config->at(1).pixelFormat)) return nullptr;
    return config;
  }

  static StreamInfo InfoOf(const lc::StreamConfiguration& stream_config) {
    StreamInfo info;
    info.stream = stream_config.stream();
    info.size = stream_config.size;
    info.stride = stream_config.stride;
    info.layout = LayoutOf(stream_config.pixelFormat).value_or(PixelLayout::kBgr);
    info.yuv = EncodingOf(stream_config.colorSpace);
    info.text = stream_config.toString();
    return info;
  }

  // One request per buffer set (a buffer of every stream), all idle until
  // StartCamera(); the frame stream's buffers mapped.
  void AllocateBuffers() {
    allocator_ = std::make_unique<lc::FrameBufferAllocator>(camera_);
    std::vector<std::vector<lc::FrameBuffer*>> buffers;
    size_t count = SIZE_MAX;
    for (const lc::StreamConfiguration& stream_config : *config_) {
      buffers.push_back(BuffersFor(stream_config));
      count = std::min(count, buffers.back().size());
    }
    for (size_t i = 0; i < count; ++i) {
      std::unique_ptr<lc::Request> request = camera_->createRequest();
      if (!request) throw std::runtime_error("libcamera: cannot create capture requests");
      for (size_t s = 0; s < buffers.size(); ++s) {
        if (request->addBuffer(config_->at(s).stream(), buffers[s][i]) < 0) {
          throw std::runtime_error("libcamera: cannot add a buffer to a capture request");
        }
      }
      run_->idle.push_back(request.get());
      requests_.push_back(std::move(request));
    }
    for (size_t i = 0; i < count; ++i) Map(buffers.back()[i]);
  }

  // The pipeline's own buffers, or, when it has none to export (libcamera's
  // virtual camera without a DMA heap or udmabuf, e.g. in a container),
  // memfd memory laid out as it expects, which it maps like its own.
  std::vector<lc::FrameBuffer*> BuffersFor(const lc::StreamConfiguration& stream_config) {
    std::vector<lc::FrameBuffer*> buffers;
    if (allocator_->allocate(stream_config.stream()) >= 0) {
      for (const auto& buffer : allocator_->buffers(stream_config.stream())) {
        buffers.push_back(buffer.get());
      }
      return buffers;
    }
    const std::optional<PixelLayout> layout = LayoutOf(stream_config.pixelFormat);
    if (!layout) {
      throw std::runtime_error("libcamera: cannot allocate buffers for " + stream_config.toString());
    }
    const std::vector<size_t> sizes = PlaneSizes(*layout, stream_config.size, stream_config.stride);
    size_t total = 0;
    for (size_t size : sizes) total += size;
    for (unsigned int i = 0; i < stream_config.bufferCount; ++i) {
      int fd = memfd_create("lookout-frame", MFD_CLOEXEC);
      if (fd < 0 || ftruncate(fd, static_cast<off_t>(total)) < 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("libcamera: cannot allocate buffers for " + stream_config.toString());
      }
      const lc::SharedFD shared(std::move(fd));
      std::vector<lc::FrameBuffer::Plane> planes;
      size_t offset = 0;
      for (size_t size : sizes) {
        lc::FrameBuffer::Plane plane;
        plane.fd = shared;
        plane.offset = static_cast<unsigned int>(offset);
        plane.length = static_cast<unsigned int>(size);
        planes.push_back(plane);
        offset += size;
      }
      own_buffers_.push_back(std::make_unique<lc::FrameBuffer>(planes));
      buffers.push_back(own_buffers_.back().get());
    }
    spdlog::info("libcamera: the camera exports no buffers for {}; using memfd memory",
                 stream_config.toString());
    return buffers;
  }

  // Maps a buffer of the frame stream for reading and records where its
  // planes start: each plane on its own, or all in one, back to back.
  void Map(const lc::FrameBuffer* buffer) {
    const std::vector<size_t> sizes = PlaneSizes(frames_.layout, frames_.size, frames_.stride);
    const std::vector<lc::FrameBuffer::Plane>& planes = buffer->planes();
    if (planes.size() != sizes.size() && planes.size() != 1) {
      throw std::runtime_error("libcamera: a " + frames_.text + " buffer has " +
                               std::to_string(planes.size()) + " planes");
    }
    std::map<int, size_t> ends;  // Per file descriptor: the end of its last plane.
    for (const lc::FrameBuffer::Plane& plane : planes) {
      size_t& end = ends[plane.fd.get()];
      end = std::max(end, size_t{plane.offset} + plane.length);
    }
    std::map<int, uint8_t*> bases;
    for (const auto& [fd, end] : ends) {
      void* base = mmap(nullptr, end, PROT_READ, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) throw std::runtime_error("libcamera: cannot mmap a frame buffer");
      mappings_->regions.emplace_back(base, end);
      bases[fd] = static_cast<uint8_t*>(base);
    }
    std::array<uint8_t*, 3> data{};
    size_t packed_offset = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const lc::FrameBuffer::Plane& plane = planes[planes.size() == 1 ? 0 : i];
      const size_t within = planes.size() == 1 ? packed_offset : 0;
      if (within + sizes[i] > plane.length) {
        throw std::runtime_error("libcamera: a " + frames_.text + " buffer is too small (plane " +
                                 std::to_string(i) + ": " + std::to_string(plane.length) +
                                 " bytes)");
      }
      data[i] = bases[plane.fd.get()] + plane.offset + within;
      packed_offset += sizes[i];
    }
    planes_[buffer] = data;
  }

  void StartCamera() {
    lc::ControlList controls(camera_->controls());
    if (options_.fps > 0.0 &&
        camera_->controls().count(lc::controls::FrameDurationLimits.id()) > 0) {
      const auto frame_us = static_cast<int64_t>(1e6 / options_.fps);
      controls.set(lc::controls::FrameDurationLimits,
                   lc::Span<const int64_t, 2>({frame_us, frame_us}));
    }
    if (camera_->start(&controls) < 0) throw std::runtime_error("libcamera: cannot start camera");
    std::lock_guard lock(run_->mutex);
    run_->camera_active = true;
    run_->next_queue = Clock::now();
    std::vector<lc::Request*> requests;
    requests.swap(run_->idle);
    for (size_t i = 0; i < requests.size(); ++i) {
      requests[i]->reuse(lc::Request::ReuseBuffers);
      if (camera_->queueRequest(requests[i]) < 0) {
        run_->idle.assign(requests.begin() + static_cast<std::ptrdiff_t>(i), requests.end());
        throw std::runtime_error("libcamera: cannot queue a capture request");
      }
    }
  }

  // Stops the camera if it runs; queued requests come back (cancelled)
  // inside camera_->stop(), which therefore must not run under the mutex.
  void StopCamera() {
    bool was_active;
    {
      std::lock_guard lock(run_->mutex);
      was_active = run_->camera_active;
      run_->camera_active = false;
      run_->idle.insert(run_->idle.end(), run_->deferred.begin(), run_->deferred.end());
      run_->deferred.clear();
    }
    if (was_active) camera_->stop();
  }

  // Runs on libcamera's thread.
  void OnRequestCompleted(lc::Request* request) {
    const std::chrono::nanoseconds cpu = ThreadCpuTime();
    std::optional<std::chrono::nanoseconds> cpu_used;
    if (last_cpu_) cpu_used = cpu - *last_cpu_;
    last_cpu_ = cpu;
    if (request->status() == lc::Request::RequestCancelled) {
      {
        std::lock_guard lock(run_->mutex);
        run_->idle.push_back(request);
      }
      // Cancelled while the camera runs (not by StopCamera(), which clears
      // camera_active first): it failed, for libcamera cancels a request
      // without stopping. camera_active stays set so that closing it stops it.
      RequestReopen("capture requests cancelled");
      return;
    }
    std::shared_ptr<Frame> frame = Wrap(request);
    if (!frame) return;
    frame->capture_cpu = cpu_used;
    bool deliver = false;
    bool recovered = false;
    {
      std::lock_guard lock(run_->mutex);
      if (!run_->stop_requested && on_frame_) {
        frame->sequence = run_->next_sequence++;
        ++run_->in_callback;
        deliver = true;
        recovered = std::exchange(run_->recovering, false);
      }
    }
    if (!deliver) return;  // Releasing `frame` gives the request back.
    if (recovered) {
      const std::string message = "libcamera:" + camera_->id() + ": frames again";
      spdlog::info("{}", message);
      Report(SourceEvent::Kind::kRecovered, message);
    }
    {
      std::lock_guard callbacks(callback_mutex_);
      tls_in_callback = true;
      CallGuarded(*this, "frame", [&] { on_frame_(std::move(frame)); });
      tls_in_callback = false;
    }
    {
      std::lock_guard lock(run_->mutex);
      --run_->in_callback;
    }
    run_->wake.notify_all();
  }

  // A frame viewing `request`'s buffer of the frame stream. Releasing it,
  // or the nullptr returned for an unusable buffer, gives the request back.
  std::shared_ptr<Frame> Wrap(lc::Request* request) {
    uint64_t generation;
    {
      std::lock_guard lock(run_->mutex);
      generation = run_->generation;
    }
    std::shared_ptr<const void> lease(
        run_.get(), [run = run_, mappings = mappings_, request, generation](const void*) {
          std::lock_guard lock(run->mutex);
          run->Recycle(request, generation);
        });
    const lc::FrameBuffer* buffer = request->findBuffer(frames_.stream);
    const auto it = planes_.find(buffer);
    if (it == planes_.end()) return nullptr;
#if LIBCAMERA_VERSION_MAJOR > 0 || LIBCAMERA_VERSION_MINOR >= 5
    // Also skips Raspberry Pi's startup frames (exposure not settled yet).
    // Before 0.5 not every pipeline fills in a buffer's status (0.4's virtual
    // camera leaves it unset), so older versions go by the request's alone.
    if (buffer->metadata().status != lc::FrameMetadata::FrameSuccess) return nullptr;
#endif
    const std::array<uint8_t*, 3>& plane = it->second;
    const int width = static_cast<int>(frames_.size.width);
    const int height = static_cast<int>(frames_.size.height);
    const cv::Size half((width + 1) / 2, (height + 1) / 2);
    const size_t stride = frames_.stride;
    auto frame = std::make_shared<Frame>();
    switch (frames_.layout) {
      case PixelLayout::kNv12:
        frame->image = cv::Mat(height, width, CV_8UC1, plane[0], stride);
        frame->chroma[0] = cv::Mat(half, CV_8UC2, plane[1], stride);
        break;
      case PixelLayout::kYuv420:
        frame->image = cv::Mat(height, width, CV_8UC1, plane[0], stride);
        frame->chroma[0] = cv::Mat(half, CV_8UC1, plane[1], stride / 2);
        frame->chroma[1] = cv::Mat(half, CV_8UC1, plane[2], stride / 2);
        break;
      case PixelLayout::kBgrx:
      case PixelLayout::kRgbx:
        frame->image = cv::Mat(height, width, CV_8UC4, plane[0], stride);
        break;
      default:
        frame->image = cv::Mat(height, width, CV_8UC3, plane[0], stride);
        break;
    }
    frame->layout = frames_.layout;
    frame->yuv = frames_.yuv;
    frame->buffer = std::move(lease);
    frame->captured = Clock::now();
    frame->wall_time = std::chrono::system_clock::now();
    frame->origin = camera_->id();
    return frame;
  }

  // Runs on libcamera's thread: the camera was unplugged (or its pipeline
  // went away).
  void OnDisconnected() { RequestReopen("camera removed"); }

  // Asks the supervisor to close the camera and open it again, once per
  // incident; not while stopping or closed.
  void RequestReopen(const std::string& cause) {
    std::lock_guard lock(run_->mutex);
    if (run_->camera == nullptr || !run_->camera_active || run_->stop_requested ||
        run_->reopen_needed) {
      return;
    }
    run_->reopen_needed = true;
    run_->reopen_cause = cause;
    run_->wake.notify_all();
  }

  // Own thread: queues requests held back by pacing, and closes and reopens
  // the camera when it is lost.
  void Supervise() {
    auto delay = std::chrono::duration_cast<Clock::duration>(kInitialRetryDelay);
    uint64_t frames_at_reopen = 0;
    std::unique_lock lock(run_->mutex);
    while (!run_->stop_requested) {
      if (run_->reopen_needed) {
        run_->reopen_needed = false;
        std::string cause = std::exchange(run_->reopen_cause, std::string());
        // Frames flowed since the last reopening: a new incident, not a streak.
        if (run_->next_sequence > frames_at_reopen) {
          delay = std::chrono::duration_cast<Clock::duration>(kInitialRetryDelay);
        }
        frames_at_reopen = run_->next_sequence;
        lock.unlock();
        CloseCamera();
        while (true) {
          const std::string message = fmt::format(
              "{}: {}; retrying in {:.1f} s", Name(), cause,
              std::chrono::duration<double>(delay).count());
          spdlog::warn("{}", message);
          Report(SourceEvent::Kind::kReconnecting, message,
                 std::chrono::duration_cast<std::chrono::milliseconds>(delay));
          lock.lock();
          run_->recovering = true;
          if (run_->wake.wait_for(lock, delay, [this] { return run_->stop_requested; })) return;
          lock.unlock();
          delay = std::min<Clock::duration>(delay * 2, kMaxRetryDelay);
          try {
            Open();
            break;
          } catch (const std::exception& e) {
            cause = CauseOf(e);
            CloseCamera();
          }
        }
        lock.lock();
      } else if (!run_->deferred.empty() && run_->camera_active) {
        if (Clock::now() < run_->next_queue) {
          run_->wake.wait_until(lock, run_->next_queue);
        } else {
          lc::Request* request = run_->deferred.front();
          run_->deferred.pop_front();
          run_->Recycle(request, run_->generation);
        }
      } else {
        run_->wake.wait(lock);
      }
    }
  }

  // Hands an event to the event callback on the calling thread (libcamera's
  // or the supervisor), unless stopping; never beside another callback.
  void Report(SourceEvent::Kind kind, std::string message,
              std::chrono::milliseconds retry_in = std::chrono::milliseconds(0)) {
    {
      std::lock_guard lock(run_->mutex);
      if (run_->stop_requested || !on_event_) return;
      ++run_->in_callback;
    }
    const SourceEvent event{kind, std::move(message), retry_in};
    {
      std::lock_guard callbacks(callback_mutex_);
      tls_in_callback = true;
      CallGuarded(*this, "event", [&] { on_event_(event); });
      tls_in_callback = false;
    }
    {
      std::lock_guard lock(run_->mutex);
      --run_->in_callback;
    }
    run_->wake.notify_all();
  }

  // Undoes Open() in reverse; safe on a partly opened or a closed camera.
  // Frames still held keep their buffers' mappings but no longer reach the
  // camera.
  void CloseCamera() {
    if (camera_) StopCamera();
    {
      // Camera::stop() has drained the pipeline; this covers a frame
      // callback still running on libcamera's thread regardless.
      std::unique_lock lock(run_->mutex);
      run_->wake.wait(lock, [this] { return run_->in_callback == 0; });
      run_->camera = nullptr;
      run_->camera_active = false;
      run_->idle.clear();
      run_->deferred.clear();
    }
    if (connected_) {
      camera_->requestCompleted.disconnect(this, &LibcameraSource::OnRequestCompleted);
      camera_->disconnected.disconnect(this, &LibcameraSource::OnDisconnected);
      connected_ = false;
    }
    requests_.clear();
    planes_.clear();
    allocator_.reset();
    own_buffers_.clear();
    config_.reset();
    if (camera_ && acquired_) camera_->release();
    acquired_ = false;
    camera_.reset();
    // CameraManager is a process-wide singleton; destroy it, not just stop
    // it, so the next Open() (or another source) can create it again, and it
    // enumerates the cameras afresh.
    manager_.reset();
    mappings_.reset();
    main_ = frames_ = StreamInfo{};
    std::lock_guard lock(streams_mutex_);
    streams_.clear();
  }

  // Stops the supervisor and closes the camera.
  void Teardown() {
    if (!run_) return;
    if (supervisor_.joinable()) supervisor_.join();
    CloseCamera();
    run_.reset();
  }

  const SourceOptions options_;
  FrameCallback on_frame_;
  EventCallback on_event_;
  // Held while any callback runs: frames come on libcamera's thread, events
  // also on the supervisor's, and callbacks run one at a time.
  std::mutex callback_mutex_;
  // The opened camera's objects: set by Open() and cleared by CloseCamera(),
  // on the thread that calls Start() or Stop() or on the supervisor (never
  // both at once), and read on libcamera's thread while the camera runs.
  std::unique_ptr<lc::CameraManager> manager_;
  std::shared_ptr<lc::Camera> camera_;
  std::unique_ptr<lc::CameraConfiguration> config_;
  std::unique_ptr<lc::FrameBufferAllocator> allocator_;
  std::vector<std::unique_ptr<lc::FrameBuffer>> own_buffers_;  // memfd buffers, when used.
  std::vector<std::unique_ptr<lc::Request>> requests_;
  std::map<const lc::FrameBuffer*, std::array<uint8_t*, 3>> planes_;  // Frame stream's buffers.
  StreamInfo main_, frames_;  // The same stream when there is only one.
  std::shared_ptr<Mappings> mappings_;
  mutable std::mutex streams_mutex_;
  std::string streams_;  // e.g. "1280x720-NV12, frames from 400x224-NV12"; "" while closed.
  std::shared_ptr<Run> run_;
  std::thread supervisor_;
  bool acquired_ = false;
  bool connected_ = false;  // To requestCompleted and disconnected.
  std::optional<std::chrono::nanoseconds> last_cpu_;  // libcamera's thread only.
};

}  // namespace

std::unique_ptr<FrameSource> MakeLibcameraSource(const SourceOptions& options) {
  return std::make_unique<LibcameraSource>(options);
}

}  // namespace lookout::capture::internal
