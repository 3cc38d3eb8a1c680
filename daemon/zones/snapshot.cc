#include "zones/snapshot.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace lookout::daemon {

cv::Rect RegionRect(const std::array<double, 4>& region, cv::Size size) {
  auto at = [](double fraction, int extent) {
    return std::clamp(static_cast<int>(std::lround(fraction * extent)), 0, extent);
  };
  int x0 = at(region[0], size.width), y0 = at(region[1], size.height);
  int x1 = at(region[2], size.width), y1 = at(region[3], size.height);
  x0 = std::min(x0, std::max(size.width - 1, 0));
  y0 = std::min(y0, std::max(size.height - 1, 0));
  return cv::Rect(x0, y0, std::max(x1 - x0, 1), std::max(y1 - y0, 1));
}

std::string EncodeSnapshot(const cv::Mat& bgr, const std::array<double, 4>& region, int max_size, int quality) {
  const int longest = std::max(bgr.cols, bgr.rows);
  cv::Mat image;
  if (longest > max_size) {
    const double f = static_cast<double>(max_size) / longest;
    const cv::Size size(std::max(1, static_cast<int>(std::lround(bgr.cols * f))),
                        std::max(1, static_cast<int>(std::lround(bgr.rows * f))));
    cv::resize(bgr, image, size, 0, 0, cv::INTER_AREA);
  } else {
    image = bgr.clone();
  }
  const int thickness = std::max(1, std::max(image.cols, image.rows) / 200);
  cv::rectangle(image, RegionRect(region, image.size()), cv::Scalar(0, 255, 255), thickness);
  std::vector<uchar> jpeg;
  if (!cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality})) {
    throw std::runtime_error("snapshot: the JPEG encoder failed");
  }
  return std::string(jpeg.begin(), jpeg.end());
}

}  // namespace lookout::daemon
