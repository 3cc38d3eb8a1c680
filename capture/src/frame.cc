#include "lookout/capture/frame.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <opencv2/imgproc.hpp>

namespace lookout::capture {
namespace {

// Per-value terms of Y'CbCr -> R'G'B' in 16.16 fixed point, so a pixel costs
// table lookups and adds: R = Y + Cr.r, G = Y + Cb.g + Cr.g, B = Y + Cb.b.
struct YuvTables {
  int32_t y[256], r_v[256], g_u[256], g_v[256], b_u[256];
};

YuvTables MakeTables(const YuvEncoding& encoding) {
  double kr = 0.299, kb = 0.114;
  switch (encoding.matrix) {
    case YuvEncoding::Matrix::kRec601: break;
    case YuvEncoding::Matrix::kRec709: kr = 0.2126, kb = 0.0722; break;
    case YuvEncoding::Matrix::kRec2020: kr = 0.2627, kb = 0.0593; break;
  }
  const double kg = 1.0 - kr - kb;
  const double y_offset = encoding.full_range ? 0.0 : 16.0;
  const double y_scale = encoding.full_range ? 1.0 : 255.0 / 219.0;
  const double c_scale = encoding.full_range ? 1.0 : 255.0 / 224.0;
  auto fixed = [](double v) { return static_cast<int32_t>(std::lround(v * 65536.0)); };
  YuvTables t;
  for (int v = 0; v < 256; ++v) {
    const double c = (v - 128) * c_scale;
    t.y[v] = fixed((v - y_offset) * y_scale) + (1 << 15);  // + 0.5: round on the final shift.
    t.r_v[v] = fixed(2.0 * (1.0 - kr) * c);
    t.g_u[v] = fixed(-2.0 * kb * (1.0 - kb) / kg * c);
    t.g_v[v] = fixed(-2.0 * kr * (1.0 - kr) / kg * c);
    t.b_u[v] = fixed(2.0 * (1.0 - kb) * c);
  }
  return t;
}

uint8_t Clamp8(int32_t fixed) { return static_cast<uint8_t>(std::clamp(fixed >> 16, 0, 255)); }

void CheckPlane(const cv::Mat& plane, int type, cv::Size size, const char* what) {
  if (plane.type() != type || plane.size() != size) {
    throw std::invalid_argument(std::string("frame: ") + what + " plane is " +
                                std::to_string(plane.cols) + "x" + std::to_string(plane.rows) +
                                " of type " + std::to_string(plane.type()) + ", expected " +
                                std::to_string(size.width) + "x" + std::to_string(size.height) +
                                " of type " + std::to_string(type));
  }
}

void YuvToBgr(const Frame& frame, cv::Mat* bgr) {
  const cv::Size size = frame.image.size();
  const cv::Size half((size.width + 1) / 2, (size.height + 1) / 2);
  const bool nv12 = frame.layout == PixelLayout::kNv12;
  CheckPlane(frame.image, CV_8UC1, size, "Y");
  CheckPlane(frame.chroma[0], nv12 ? CV_8UC2 : CV_8UC1, half, nv12 ? "UV" : "U");
  if (!nv12) CheckPlane(frame.chroma[1], CV_8UC1, half, "V");
  const YuvTables t = MakeTables(frame.yuv);
  bgr->create(size, CV_8UC3);
  for (int row = 0; row < size.height; ++row) {
    const uint8_t* y = frame.image.ptr<uint8_t>(row);
    const uint8_t* c0 = frame.chroma[0].ptr<uint8_t>(row / 2);
    const uint8_t* c1 = nv12 ? c0 + 1 : frame.chroma[1].ptr<uint8_t>(row / 2);
    const int step = nv12 ? 2 : 1;  // Bytes between chroma samples.
    uint8_t* out = bgr->ptr<uint8_t>(row);
    for (int col = 0; col < size.width; ++col) {
      const int u = c0[(col / 2) * step], v = c1[(col / 2) * step];
      const int32_t luma = t.y[y[col]];
      out[3 * col + 0] = Clamp8(luma + t.b_u[u]);
      out[3 * col + 1] = Clamp8(luma + t.g_u[u] + t.g_v[v]);
      out[3 * col + 2] = Clamp8(luma + t.r_v[v]);
    }
  }
}

}  // namespace

void ToBgr(const Frame& frame, cv::Mat* bgr) {
  if (frame.layout == PixelLayout::kNv12 || frame.layout == PixelLayout::kYuv420) {
    return YuvToBgr(frame, bgr);
  }
  const bool padded = frame.layout == PixelLayout::kBgrx || frame.layout == PixelLayout::kRgbx;
  const int type = padded ? CV_8UC4 : CV_8UC3;
  if (frame.image.empty() || frame.image.type() != type) {
    throw std::invalid_argument(std::string("frame: ") + PixelLayoutName(frame.layout) +
                                " pixels must be a non-empty " + (padded ? "CV_8UC4" : "CV_8UC3") +
                                " image, got type " + std::to_string(frame.image.type()));
  }
  switch (frame.layout) {
    case PixelLayout::kRgb: cv::cvtColor(frame.image, *bgr, cv::COLOR_RGB2BGR); break;
    case PixelLayout::kBgrx: cv::cvtColor(frame.image, *bgr, cv::COLOR_BGRA2BGR); break;
    case PixelLayout::kRgbx: cv::cvtColor(frame.image, *bgr, cv::COLOR_RGBA2BGR); break;
    default: frame.image.copyTo(*bgr); break;
  }
}

const char* PixelLayoutName(PixelLayout layout) {
  switch (layout) {
    case PixelLayout::kBgr: return "BGR";
    case PixelLayout::kRgb: return "RGB";
    case PixelLayout::kBgrx: return "BGRX";
    case PixelLayout::kRgbx: return "RGBX";
    case PixelLayout::kNv12: return "NV12";
    case PixelLayout::kYuv420: return "YUV420";
  }
  return "unknown";
}

}  // namespace lookout::capture
