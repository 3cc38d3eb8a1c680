// A captured video frame, as every FrameSource delivers it.
//
// Ownership: a Frame owns its pixels. Sources copy camera/decoder buffers
// into a fresh cv::Mat, so a FramePtr may be kept (queued, shared between
// threads, held by an event snapshot) for as long as the holder wants without
// stalling or corrupting the capture pipeline. Frames are immutable once
// delivered, which is what makes sharing them across threads safe.
#ifndef LOOKOUT_CAPTURE_FRAME_H_
#define LOOKOUT_CAPTURE_FRAME_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core/mat.hpp>

namespace lookout::capture {

struct Frame {
  /// Pixels: 8-bit BGR (CV_8UC3), owned by the frame (never aliasing a camera buffer).
  cv::Mat image;
  /// 0, 1, 2, ... in capture order, counting delivered frames of one source run.
  uint64_t sequence = 0;
  /// Monotonic time the frame was read/completed; for latency measurements.
  std::chrono::steady_clock::time_point captured;
  /// Wall-clock time the frame was read/completed; for event timestamps.
  std::chrono::system_clock::time_point wall_time;
  /// Image file name (no directory) for folder sources; device or URL otherwise.
  std::string origin;
};

/// Frames travel as shared, read-only pointers.
using FramePtr = std::shared_ptr<const Frame>;

}  // namespace lookout::capture

#endif  // LOOKOUT_CAPTURE_FRAME_H_
