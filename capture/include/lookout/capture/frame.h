// A captured video frame, as every FrameSource delivers it.
//
// Pixels: folder, video, V4L2 and RTSP sources deliver 8-bit BGR frames that
// own their pixels. The libcamera source delivers the camera's own buffer
// instead (BGR, RGB, with a padding byte, NV12 or YUV420), without copying
// it: the Mats below are views into a mapped camera buffer, and `buffer`
// keeps that buffer out of the camera until the last copy of the Frame is
// gone. Holding such frames therefore holds camera buffers: a consumer that
// keeps more than one or two at a time makes the camera skip frames. Use
// ToBgr() for a copy that can be kept for as long as wanted.
//
// Frames are immutable once delivered, which is what makes sharing them
// across threads safe.
#ifndef LOOKOUT_CAPTURE_FRAME_H_
#define LOOKOUT_CAPTURE_FRAME_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <opencv2/core/mat.hpp>

namespace lookout::capture {

/// How a frame's pixels are laid out. Byte order is memory order.
enum class PixelLayout {
  kBgr,     ///< `image` CV_8UC3, bytes B,G,R (OpenCV's order; libcamera RGB888).
  kRgb,     ///< `image` CV_8UC3, bytes R,G,B (libcamera BGR888).
  kBgrx,    ///< `image` CV_8UC4, bytes B,G,R,padding (libcamera XRGB8888).
  kRgbx,    ///< `image` CV_8UC4, bytes R,G,B,padding (libcamera XBGR8888).
  kNv12,    ///< `image` Y (CV_8UC1, H x W); `chroma[0]` interleaved U,V
            ///< (CV_8UC2, ceil(H/2) x ceil(W/2)).
  kYuv420,  ///< `image` Y (CV_8UC1, H x W); `chroma[0]` U and `chroma[1]` V
            ///< (CV_8UC1, ceil(H/2) x ceil(W/2)).
};

/// The Y'CbCr encoding of kNv12 and kYuv420 frames.
struct YuvEncoding {
  enum class Matrix { kRec601, kRec709, kRec2020 };
  Matrix matrix = Matrix::kRec601;
  /// Full range: Y and C use 0..255 (JPEG, sYCC). Limited: Y 16..235, C 16..240.
  bool full_range = true;
};

struct Frame {
  /// Pixels, or the Y plane of YUV layouts; see PixelLayout. May be a view
  /// into a camera buffer (see `buffer`), never written by anyone.
  cv::Mat image;
  /// Chroma planes of kNv12 and kYuv420; empty Mats otherwise.
  std::array<cv::Mat, 2> chroma;
  PixelLayout layout = PixelLayout::kBgr;
  YuvEncoding yuv;
  /// Keeps the memory the Mats view alive when they do not own it (a
  /// camera buffer, handed back to the camera when this is released);
  /// null when the Mats own their pixels.
  std::shared_ptr<const void> buffer;
  /// 0, 1, 2, ... in capture order, counting delivered frames of one source run.
  uint64_t sequence = 0;
  /// Monotonic time the frame was read/completed; for latency measurements.
  std::chrono::steady_clock::time_point captured;
  /// Wall-clock time the frame was read/completed; for event timestamps.
  std::chrono::system_clock::time_point wall_time;
  /// CPU time the capture thread used since it delivered the previous frame
  /// (since it started, for the first): reading, decoding, converting, and
  /// for libcamera all the work of libcamera's thread. nullopt when unknown
  /// (libcamera's first frame of a run).
  std::optional<std::chrono::nanoseconds> capture_cpu;
  /// Image file name (no directory) for folder sources; device, URL or camera id otherwise.
  std::string origin;

  /// Width and height in pixels.
  cv::Size size() const { return image.size(); }
};

/// Frames travel as shared, read-only pointers.
using FramePtr = std::shared_ptr<const Frame>;

/// Writes `frame`'s pixels as 8-bit BGR (CV_8UC3, frame.size()) into `bgr`,
/// reusing its buffer when it already has that size and type. YUV layouts
/// are converted with `frame.yuv` (chroma taken from the nearest sample).
/// Throws std::invalid_argument when the Mats do not match `layout`.
void ToBgr(const Frame& frame, cv::Mat* bgr);

/// "BGR", "RGB", "BGRX", "RGBX", "NV12" or "YUV420".
const char* PixelLayoutName(PixelLayout layout);

}  // namespace lookout::capture

#endif  // LOOKOUT_CAPTURE_FRAME_H_
