#include "classifier/preprocessor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include <opencv2/imgproc.hpp>

namespace lookout::daemon {

using capture::PixelLayoutName;
using capture::ToBgr;
using runtime::ShapeString;

namespace {

// "127.5" when all three channels agree, "[123.675,116.28,103.53]" otherwise.
std::string ChannelValues(const std::array<float, 3>& v) {
  std::ostringstream out;
  if (v[0] == v[1] && v[1] == v[2]) {
    out << v[0];
  } else {
    out << "[" << v[0] << "," << v[1] << "," << v[2] << "]";
  }
  return out.str();
}

const char* YuvMatrixName(YuvEncoding::Matrix matrix) {
  switch (matrix) {
    case YuvEncoding::Matrix::kRec601: return "Rec601";
    case YuvEncoding::Matrix::kRec709: return "Rec709";
    case YuvEncoding::Matrix::kRec2020: return "Rec2020";
  }
  return "?";
}

const char* InterpolationName(int interpolation) {
  switch (interpolation) {
    case cv::INTER_AREA: return "area";
    case cv::INTER_LINEAR: return "linear";
    default: return "none";
  }
}

}  // namespace

Preprocessor::Preprocessor(const runtime::TensorDetails& input,
                           const PreprocessOptions& options)
    : type_(input.type), scale_(input.scale), zero_point_(input.zero_point), options_(options) {
  const std::string what = "image input '" + input.name + "' " + ShapeString(input.shape);
  const std::vector<int32_t>& shape = input.shape;
  if (shape.size() != 4) {
    throw std::invalid_argument(what + ": expected 4 dimensions [1,H,W,3] or [1,3,H,W], got " +
                                std::to_string(shape.size()));
  }
  if (shape[0] != 1) throw std::invalid_argument(what + ": batch size must be 1");
  nchw_ = shape[1] == 3 && shape[3] != 3;
  if (!nchw_ && shape[3] != 3) {
    throw std::invalid_argument(what + ": expected 3 colour channels (NHWC [1,H,W,3] or NCHW "
                                       "[1,3,H,W])");
  }
  height_ = nchw_ ? shape[2] : shape[1];
  width_ = nchw_ ? shape[3] : shape[2];
  if (width_ <= 0 || height_ <= 0) {
    throw std::invalid_argument(what + ": height and width must be positive");
  }
  size_t element_size = 0;
  switch (type_) {
    case runtime::DataType::kUInt8:
    case runtime::DataType::kInt8:
      element_size = 1;
      if (!(scale_ > 0.0f) || !std::isfinite(scale_)) {
        throw std::invalid_argument(what + ": " + runtime::DataTypeName(type_) +
                                    " input needs quantization parameters (scale > 0), got "
                                    "scale " + std::to_string(scale_));
      }
      break;
    case runtime::DataType::kFloat32:
      element_size = 4;
      break;
    default:
      throw std::invalid_argument(what + ": unsupported input type " +
                                  runtime::DataTypeName(type_) +
                                  " (expected UINT8, INT8 or FLOAT32)");
  }
  bytes_ = static_cast<size_t>(width_) * static_cast<size_t>(height_) * 3 * element_size;
  // 0 means the caller did not fill it in; anything else must agree.
  if (input.bytes != 0 && input.bytes != bytes_) {
    throw std::invalid_argument(what + ": tensor reports " + std::to_string(input.bytes) +
                                " bytes but its shape and type need " + std::to_string(bytes_));
  }
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(options_.mean[c]) || !std::isfinite(options_.std[c]) ||
        options_.std[c] == 0.0f) {
      throw std::invalid_argument(what + ": mean must be finite and std finite and non-zero");
    }
  }

  // Computed in double so the table holds the correctly rounded result of
  // the formula rather than float32 rounding noise at .5 boundaries.
  const double lo = type_ == runtime::DataType::kInt8 ? -128.0 : 0.0;
  const double hi = type_ == runtime::DataType::kInt8 ? 127.0 : 255.0;
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 256; ++p) {
      const double real = (p - static_cast<double>(options_.mean[c])) / options_.std[c];
      lut_f32_[c][p] = static_cast<float>(real);
      const double q = std::round(real / scale_) + zero_point_;
      const int saturated = static_cast<int>(std::clamp(q, lo, hi));
      lut_u8_[c][p] = static_cast<uint8_t>(saturated);  // int8: two's complement byte.
    }
  }
}

void Preprocessor::Run(const cv::Mat& bgr, std::span<uint8_t> out) {
  if (out.size() != bytes_) {
    throw std::invalid_argument("preprocessor: output buffer has " + std::to_string(out.size()) +
                                " bytes, the input tensor needs " + std::to_string(bytes_));
  }
  if (bgr.empty()) throw std::invalid_argument("preprocessor: empty image");
  if (bgr.type() != CV_8UC3) {
    throw std::invalid_argument("preprocessor: image must be 8-bit BGR (CV_8UC3), got type " +
                                std::to_string(bgr.type()));
  }

  cv::Rect roi(0, 0, bgr.cols, bgr.rows);
  if (options_.center_crop) {
    // Largest centred rectangle with the input's aspect ratio; 64-bit
    // products because 4K frames times large inputs overflow int.
    const int64_t cols = bgr.cols, rows = bgr.rows;
    if (cols * height_ > rows * width_) {
      roi.width = static_cast<int>(std::max<int64_t>(1, (rows * width_ + height_ / 2) / height_));
    } else {
      roi.height = static_cast<int>(std::max<int64_t>(1, (cols * height_ + width_ / 2) / width_));
    }
    roi.x = (bgr.cols - roi.width) / 2;
    roi.y = (bgr.rows - roi.height) / 2;
  }
  const cv::Mat cropped = bgr(roi);  // A view: no copy.

  const cv::Mat* source = &cropped;
  int interpolation = -1;
  if (cropped.cols != width_ || cropped.rows != height_) {
    interpolation = (width_ <= cropped.cols && height_ <= cropped.rows) ? cv::INTER_AREA
                                                                        : cv::INTER_LINEAR;
    // resize() keeps resized_'s buffer when size and type already match.
    cv::resize(cropped, resized_, cv::Size(width_, height_), 0, 0, interpolation);
    source = &resized_;
  }
  last_layout_ = PixelLayout::kBgr;  // Run(const Frame&) names its layout afterwards.
  last_frame_size_ = bgr.size();
  last_crop_size_ = roi.size();
  last_interpolation_ = interpolation;

  const size_t plane = static_cast<size_t>(width_) * static_cast<size_t>(height_);
  const bool is_float = type_ == runtime::DataType::kFloat32;
  uint8_t* dst = out.data();
  // One pass: channel swap (BGR memory -> RGB tensor order), normalisation
  // and quantization via the tables, and the layout, together.
  for (int y = 0; y < height_; ++y) {
    const uint8_t* row = source->ptr<uint8_t>(y);
    for (int x = 0; x < width_; ++x) {
      const uint8_t* px = row + 3 * x;
      const size_t pixel = static_cast<size_t>(y) * width_ + x;
      for (int c = 0; c < 3; ++c) {
        const uint8_t value = px[2 - c];  // RGB channel c is BGR byte 2 - c.
        const size_t index = nchw_ ? c * plane + pixel : pixel * 3 + c;
        if (is_float) {
          std::memcpy(dst + index * sizeof(float), &lut_f32_[c][value], sizeof(float));
        } else {
          dst[index] = lut_u8_[c][value];
        }
      }
    }
  }
}

void Preprocessor::Run(const Frame& frame, std::span<uint8_t> out) {
  if (frame.layout == PixelLayout::kBgr) return Run(frame.image, out);
  ToBgr(frame, &converted_);
  Run(converted_, out);
  last_layout_ = frame.layout;
  last_yuv_ = frame.yuv;
}

std::string Preprocessor::Describe() const {
  std::ostringstream out;
  if (last_layout_ == PixelLayout::kNv12 || last_layout_ == PixelLayout::kYuv420) {
    out << PixelLayoutName(last_layout_) << " (" << YuvMatrixName(last_yuv_.matrix) << ", "
        << (last_yuv_.full_range ? "full" : "limited") << " range) -> BGR, ";
  } else if (last_layout_ != PixelLayout::kBgr) {
    out << PixelLayoutName(last_layout_) << " -> BGR, ";
  }
  out << "centre-crop ";
  if (options_.center_crop) {
    out << "yes";
    if (!last_frame_size_.empty()) {
      out << " (" << last_frame_size_.width << "x" << last_frame_size_.height << " -> "
          << last_crop_size_.width << "x" << last_crop_size_.height << ")";
    }
  } else {
    out << "no";
  }
  out << ", resize ";
  if (last_crop_size_.empty()) {
    out << "?x?";
  } else {
    out << last_crop_size_.width << "x" << last_crop_size_.height;
  }
  out << " -> " << width_ << "x" << height_ << " ("
      << (last_frame_size_.empty() ? "?" : InterpolationName(last_interpolation_))
      << "), BGR->RGB, ";
  const std::string mean = ChannelValues(options_.mean);
  const std::string std = ChannelValues(options_.std);
  if (type_ == runtime::DataType::kFloat32) {
    out << "float32 x = (p-" << mean << ")/" << std;
  } else {
    out << (type_ == runtime::DataType::kInt8 ? "int8" : "uint8") << " q = round((p-" << mean
        << ")/" << std << "/" << scale_ << ")" << (zero_point_ < 0 ? "" : "+") << zero_point_;
  }
  out << ", " << (nchw_ ? "NCHW" : "NHWC");
  return out.str();
}

}  // namespace lookout::daemon
