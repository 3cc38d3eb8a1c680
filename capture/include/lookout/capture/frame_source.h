// Frame sources: where Lookout's frames come from (a Raspberry Pi camera via
// libcamera, a V4L2 webcam, an RTSP stream, a video file or a folder of
// images), behind one push-style interface.
//
// Threading: every source captures on a thread of its own (libcamera:
// frames arrive on libcamera's pipeline thread), and the callbacks run on
// that thread, one at a time, never concurrently with each other. A slow frame callback therefore
// slows capture down; consumers that need to decouple should hand the
// FramePtr to a queue and return. Callbacks should not throw: an exception
// escaping one is logged and swallowed.
//
// Frames: libcamera frames view the camera's buffers (see frame.h), of which
// the camera has a few (4 or more); keep at most two at a time, or copy with
// ToBgr(). Frames may outlive Stop() and the source itself: their memory
// stays valid until the last of them is released.
//
// Failures: a source that cannot open throws from Start(). Afterwards,
// v4l2 and rtsp sources treat a failed read as a lost camera: they release
// it, log, and reopen with exponential backoff (0.5 s doubling to 30 s) until
// Stop(), without calling the end callback. libcamera restarts the camera a
// few times, then ends. Stop() interrupts a backoff wait at once, but waits
// for a read already in progress (bounded by the backend: 5 s for RTSP, the
// V4L2 driver's timeout otherwise).
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
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

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
  /// (0 => as fast as frames decode); cameras/rtsp: requested rate (0 =
  /// native). libcamera also paces buffers it hands back to the camera to
  /// this rate, for cameras that produce frames as fast as they are given
  /// buffers (libcamera's virtual camera).
  double fps = 0.0;
  /// images/video: restart from the first frame at the end instead of ending.
  bool loop = false;
  /// images, video, v4l2, rtsp: the clock frames are paced and reconnects
  /// are timed by (see SourceClock). nullptr (the default) means
  /// SteadySourceClock(). libcamera ignores it.
  std::shared_ptr<SourceClock> clock;
};

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

  FrameSource() = default;
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;
  /// Implies Stop().
  virtual ~FrameSource() = default;

  /// Opens the source and starts capturing. Throws std::runtime_error with a
  /// message naming the folder/file/device when it cannot start (missing
  /// folder, no images in it, device or file cannot be opened, no camera),
  /// and std::logic_error when already running. Nothing runs after a throw.
  virtual void Start(FrameCallback on_frame, EndCallback on_end) = 0;
  /// Stops capturing and joins the capture thread. Idempotent; no callback
  /// runs after it returns (unless called from a callback, see above).
  virtual void Stop() = 0;
  /// One line for logs, e.g. "images:/path (13 files, 2 fps, once)". URLs
  /// have their password masked.
  virtual std::string Describe() const = 0;
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
