// Frame sources: where Lookout's frames come from (a Raspberry Pi camera via
// libcamera, a V4L2 webcam, an RTSP stream, a video file or a folder of
// images), behind one push-style interface.
//
// Threading: every source captures on a thread of its own (libcamera:
// frames, and a kRecovered event before one, arrive on libcamera's pipeline
// thread; other events and the end on a thread of the source's), and the
// callbacks (frame, event, end) run there, one at a time, never concurrently
// with each other. A slow callback therefore slows capture down; consumers
// that need to decouple should hand the FramePtr to a queue and return.
// Callbacks should not throw: an exception escaping one is logged and
// swallowed.
//
// Frames: libcamera frames view the camera's buffers (see frame.h), of which
// the camera has a few (4 or more); keep at most two at a time, or copy with
// ToBgr(). Frames may outlive Stop() and the source itself: their memory
// stays valid until the last of them is released.
//
// Failures: Start() throws for what no retry can fix: invalid options, a
// missing images folder or one without images, a video file that is missing
// or cannot be opened at all, a libcamera camera that cannot give the
// stream asked for. Everything later is
// reported as it happens through the optional event callback (SourceEvent,
// SetEventCallback()) and logged by the source itself:
//   - images: a file that cannot be used (undecodable, empty, too many
//     pixels) is skipped with kBadFrame, once per file per run. A pass in
//     which no file decodes ends the source with an error.
//   - video files: reads that stop well before the container's frame count
//     (a truncated or damaged file), or a first read that fails, are a
//     kError; without loop the source then ends with that reason, with loop
//     it goes on with the next pass. A looping file that cannot be reopened
//     (removed, replaced) is retried with backoff (kReconnecting) until it
//     is back.
//   - v4l2 and rtsp: a camera or stream that cannot be opened, at Start()
//     or later, or whose reads fail, is released and reopened with
//     exponential backoff (0.5 s doubling to 30 s) until Stop(), each wait
//     announced with kReconnecting; Start() does not wait for the first
//     open, and these sources never call the end callback.
//   - libcamera: a camera that is not there at Start() or later (not
//     found, in use by another process, removed) or that cancels its
//     requests is closed with libcamera's camera manager and opened again
//     with the same backoff until Stop(): each new camera manager looks for
//     the camera afresh. Start() does not wait for it, and the source never
//     calls the end callback.
// After a kReconnecting or kError, the next frame delivered is preceded by
// kRecovered. Frames larger than SourceOptions::max_frame_pixels are dropped
// with kBadFrame. Stop() interrupts a backoff wait at once, but waits for an
// open or read already in progress (bounded by the backend: 10 s to open
// and 5 s to read for RTSP, the V4L2 driver's timeout otherwise).
//
// Lifecycle: Start() once, Stop() any number of times; Start() again after
// Stop() begins a new run (sequence numbers restart at 0). Start(), Stop()
// and destruction must come from one controlling thread. Stop() may also be
// called from inside a callback: it then only requests the stop (no further
// callbacks run once the current one returns) and the capture thread is
// joined by the next Stop() or the destructor. Destroying a source from
// inside its own callback is not allowed.
#ifndef LOOKOUT_CAPTURE_FRAME_SOURCE_H_
#define LOOKOUT_CAPTURE_FRAME_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>

#include "lookout/capture/frame.h"
#include "lookout/capture/source_type.h"

namespace lookout::capture {

/// The time line of the sources that run a capture loop of their own
/// (images, video files, v4l2, rtsp): they schedule paced frames and the
/// reconnect backoff on Now() and wait with SleepUntil(). The default,
/// SteadySourceClock(), is std::chrono::steady_clock; tests substitute a fake
/// that records the waits a source asks for and decides when they end.
/// Frame timestamps (Frame::captured, Frame::wall_time) always come from the
/// real clocks, and libcamera sources pace on the steady clock directly.
class SourceClock {
 public:
  /// A time point on std::chrono::steady_clock's time line (nanoseconds).
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~SourceClock() = default;
  /// The current time.
  virtual TimePoint Now() = 0;
  /// Blocks until Now() >= `deadline` or until a stop is requested through
  /// `stop` (Stop() on the source), whichever comes first. Returns true when
  /// the deadline was reached, false when a stop was requested (also when it
  /// comes with the deadline). Called on capture threads; a clock shared by
  /// several sources is called from several threads at once.
  virtual bool SleepUntil(TimePoint deadline, std::stop_token stop) = 0;
};

/// The real clock: std::chrono::steady_clock, waiting on a condition
/// variable that a stop request wakes. One shared instance.
std::shared_ptr<SourceClock> SteadySourceClock();


/// What to open and how; the meaning of each field depends on `type`.
struct SourceOptions {
  SourceType type = SourceType::kImages;
  /// images: folder; video: file; v4l2: /dev/videoN or a number (index),
  /// "" = /dev/video0; rtsp: URL; libcamera: camera id ("" = first camera).
  std::string device;
  /// Requested capture size in pixels, both set or both 0 (= the source's
  /// default). Cameras may pick the nearest size they support. Ignored by
  /// images and video files, which deliver frames at their native size.
  /// libcamera: the main stream, which on a Raspberry Pi also chooses the
  /// sensor mode (field of view); frames come from a low-resolution second
  /// stream at the target scale when the camera offers one (see below).
  int width = 0, height = 0;
  /// The size frames are wanted at (the model input), in pixels, both set or
  /// both 0 (= no preference). Only libcamera uses it: it asks the camera's
  /// scaler (a Raspberry Pi's ISP) for frames at this scale instead of
  /// scaling full-size frames on the CPU: the smallest even size with the
  /// aspect ratio of the camera's default stream (or of width x height) that
  /// covers the target, so cropping and squeezing still happen as they would
  /// on a full frame. Without width/height that is the only stream; with
  /// them it is a second stream where the camera offers one.
  int target_width = 0, target_height = 0;
  /// Frames per second. images: pacing (0 => 1 fps); video file: pacing
  /// (0 => the file's own rate, CAP_PROP_FPS, or as fast as frames decode
  /// when the file gives no rate in (0, 1000]); cameras/rtsp: requested
  /// rate (0 = native). libcamera also paces buffers it hands back to the
  /// camera to this rate, for cameras that produce frames as fast as they
  /// are given buffers (libcamera's virtual camera).
  double fps = 0.0;
  /// images/video: restart from the first frame at the end instead of ending.
  bool loop = false;
  /// The most pixels (width x height) a frame may have; 0 = no limit.
  /// images: a file whose header declares more is skipped without decoding
  /// it (PNG, JPEG, BMP, WebP, TIFF; other formats are checked once
  /// decoded). video, v4l2, rtsp: larger frames are dropped. Either way with
  /// a kBadFrame event. libcamera: Start() throws when the frame stream
  /// would be larger (its size is fixed when the camera is configured).
  uint64_t max_frame_pixels = 0;
  /// images, video, v4l2, rtsp: the clock frames are paced and reconnects
  /// are timed by (see SourceClock). nullptr (the default) means
  /// SteadySourceClock(). libcamera ignores it.
  std::shared_ptr<SourceClock> clock;
};

/// Something a running source reports besides frames: trouble, and the
/// recovery from it. Sources also log each one themselves (the first of a
/// run of identical kBadFrames only), so consumers need not log them again.
struct SourceEvent {
  enum class Kind {
    /// One input frame or image file skipped: an image file that is empty,
    /// undecodable, of a pixel format that cannot be converted to BGR, or
    /// larger than max_frame_pixels; a video or camera frame larger than
    /// max_frame_pixels or of an unusable format. The source goes on.
    /// images: at most once per file per run.
    kBadFrame,
    /// The source hit an error that is not a normal end: a video file whose
    /// reads stop well short of its frame count (truncated or damaged), or
    /// whose first read fails. An end callback with that reason follows
    /// unless the file loops.
    kError,
    /// The camera, stream or (looping) video file is lost or cannot be
    /// opened, and the source will try again in `retry_in`. Repeated before
    /// each retry, `retry_in` growing (backoff), until it works or Stop().
    kReconnecting,
    /// Frames flow again after a kReconnecting or kError: sent just before
    /// the first frame that follows them.
    kRecovered,
  };
  Kind kind = Kind::kError;
  /// One line for logs and status, naming the source, the file where there
  /// is one, and the cause, e.g. "images: skipping /x/huge.png: 12000x12000
  /// = 144000000 pixels exceeds max_frame_pixels 16777216".
  std::string message;
  /// kReconnecting: the delay before the next attempt. 0 for other kinds.
  std::chrono::milliseconds retry_in{0};
};

/// "bad_frame", "error", "reconnecting" or "recovered".
const char* SourceEventKindName(SourceEvent::Kind kind);

/// A running producer of frames. Not copyable or movable (the capture thread
/// refers to the object).
class FrameSource {
 public:
  /// Receives each frame, on the source's thread.
  using FrameCallback = std::function<void(FramePtr)>;
  /// Called at most once per run, on the source's thread, when the source
  /// ends by itself: end of the folder/file without loop (`reason` empty) or
  /// an unrecoverable error (`reason` says why). Not called for Stop().
  using EndCallback = std::function<void(const std::string& reason)>;
  /// Receives the run's SourceEvents, on the source's thread (see above).
  using EventCallback = std::function<void(const SourceEvent& event)>;

  FrameSource() = default;
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;
  /// Implies Stop().
  virtual ~FrameSource() = default;

  /// Opens the source and starts capturing. Throws std::runtime_error with a
  /// message naming the folder/file/device when it cannot start (missing
  /// folder, no images in it, video file missing or unreadable, a libcamera
  /// stream the camera cannot give; not for a camera or stream that is not
  /// there yet: it keeps trying, see above), and std::logic_error when
  /// already running. Nothing runs after a throw.
  virtual void Start(FrameCallback on_frame, EndCallback on_end) = 0;
  /// Sets the callback for SourceEvents (none by default: events are then
  /// only logged). Start() takes a copy, so a call applies from the next
  /// Start() on; call it on the controlling thread, before Start().
  void SetEventCallback(EventCallback on_event) { on_event_ = std::move(on_event); }
  /// Stops capturing and joins the capture thread. Idempotent; no callback
  /// runs after it returns (unless called from a callback, see above).
  virtual void Stop() = 0;
  /// One line for logs, e.g. "images:/path (13 files, 2 fps, once)" or
  /// "video:/x.mp4 (native 25 fps paced, loop)" (the native rate is known
  /// once Start() has opened the file). URLs have their password masked.
  virtual std::string Describe() const = 0;

 protected:
  /// The callback SetEventCallback() set (empty: none), for Start() to copy.
  const EventCallback& event_callback() const { return on_event_; }

 private:
  EventCallback on_event_;
};

/// Builds the source `options` ask for, without opening it (Start() does).
/// Throws std::invalid_argument when the options cannot work: empty device
/// for a type that needs one, negative size, target size or fps, or
/// libcamera requested but not compiled in.
std::unique_ptr<FrameSource> CreateFrameSource(const SourceOptions& options);

/// True when this build includes the libcamera source.
bool HaveLibcamera();

}  // namespace lookout::capture

#endif  // LOOKOUT_CAPTURE_FRAME_SOURCE_H_
