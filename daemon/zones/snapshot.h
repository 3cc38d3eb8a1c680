// The JPEG published when a zone's state changes: the frame with the zone's
// box drawn, shrunk so its longest side is at most `max_size` pixels,
// encoded by OpenCV's JPEG encoder.
#ifndef LOOKOUT_DAEMON_ZONES_SNAPSHOT_H_
#define LOOKOUT_DAEMON_ZONES_SNAPSHOT_H_

#include <array>
#include <string>

#include <opencv2/core/mat.hpp>

namespace lookout::daemon {

/// The pixel box of `region` ([x0, y0, x1, y1] as fractions) in a frame of
/// `size`: rounded to whole pixels, clamped to the frame, at least 1x1.
cv::Rect RegionRect(const std::array<double, 4>& region, cv::Size size);

/// JPEG bytes of `bgr` (CV_8UC3) with `region` outlined, longest side at
/// most `max_size` (>= 16; smaller frames keep their size), `quality`
/// 1..100. Throws std::runtime_error when the encoder fails.
std::string EncodeSnapshot(const cv::Mat& bgr, const std::array<double, 4>& region, int max_size, int quality);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_ZONES_SNAPSHOT_H_
