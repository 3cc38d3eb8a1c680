// Turns a captured frame into the bytes of a model's image input tensor:
// conversion to BGR when the frame is in another layout (RGB, YUV, ...),
// optional centre crop, resize, BGR->RGB, normalisation and quantization, in
// the tensor's layout (NHWC or NCHW).
//
// Cost: the conversion (frames other than BGR; cheap when the camera already
// delivers the model's scale), one cv::resize plus a single pass over the
// resized pixels through a 256-entry lookup table per channel (pixel ->
// output value), built once in the constructor. Internal buffers are reused,
// so after the first call for a given frame size and layout Run() does not
// allocate.
//
// Threading: an instance is not thread-safe (Run() writes the internal
// buffers); use one per inference thread. Describe() must not race with Run().
#ifndef LOOKOUT_DAEMON_CLASSIFIER_PREPROCESSOR_H_
#define LOOKOUT_DAEMON_CLASSIFIER_PREPROCESSOR_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core/mat.hpp>

#include "lookout/capture/frame.h"
#include "lookout/runtime/tensor.h"

namespace lookout::daemon {

using capture::Frame;
using capture::PixelLayout;
using capture::YuvEncoding;

/// How pixels map to model input values.
struct PreprocessOptions {
  /// Crop the centre of the frame to the input's aspect ratio before resizing
  /// (otherwise the whole frame is squeezed to the input size).
  bool center_crop = false;
  /// Per channel R, G, B, in pixel units 0..255: real = (pixel - mean) / std.
  std::array<float, 3> mean = {127.5f, 127.5f, 127.5f};
  /// Per channel R, G, B, in pixel units; must be non-zero.
  std::array<float, 3> std = {127.5f, 127.5f, 127.5f};
};

class Preprocessor {
 public:
  /// Accepts a 4-D, batch-1, 3-channel image input: NHWC [1,H,W,3] or NCHW
  /// [1,3,H,W] (NCHW when dim1 == 3 and dim3 != 3), of type UINT8 or INT8
  /// (quantized: scale > 0, values are round(real / scale) + zero_point
  /// saturated to the type's range) or FLOAT32 (values are `real`).
  /// Throws std::invalid_argument naming the problem otherwise, when
  /// input.bytes is neither 0 (unset) nor what the shape and type need, or
  /// when a std entry is zero or a mean/std entry is not finite.
  Preprocessor(const runtime::TensorDetails& input, const PreprocessOptions& options);

  /// Fills `out` (exactly the input's byte size, e.g. the interpreter's input
  /// buffer) from `bgr`, any size, CV_8UC3. Resizes with cv::INTER_AREA when
  /// shrinking and cv::INTER_LINEAR when enlarging (no resize when the sizes
  /// match). FLOAT32 values are written in host byte order; `out` needs no
  /// particular alignment. Throws std::invalid_argument when out.size() !=
  /// the input's byte size or `bgr` is empty or not CV_8UC3.
  void Run(const cv::Mat& bgr, std::span<uint8_t> out);
  /// As above for a captured frame in any PixelLayout: converts it to BGR
  /// first (ToBgr()) unless it is BGR already. Throws std::invalid_argument
  /// as above, or when the frame's planes do not match its layout.
  void Run(const Frame& frame, std::span<uint8_t> out);

  /// One line for --help and logs, e.g. "centre-crop no, resize 1280x720 ->
  /// 224x224 (area), BGR->RGB, uint8 q = round((p-127.5)/127.5/0.0078125)+128,
  /// NHWC". The source size is the last frame's ("?x?" before the first Run);
  /// a last frame in another layout than BGR is named first, e.g. "NV12
  /// (Rec601, full range) -> BGR, centre-crop no, ...".
  std::string Describe() const;

  int width() const { return width_; }    ///< Input width in pixels.
  int height() const { return height_; }  ///< Input height in pixels.
  bool nchw() const { return nchw_; }     ///< True for [1,3,H,W] inputs.

 private:
  runtime::DataType type_;
  float scale_;
  int32_t zero_point_;
  PreprocessOptions options_;
  int width_ = 0;
  int height_ = 0;
  bool nchw_ = false;
  size_t bytes_ = 0;
  // lut_u8_[c][p]: output byte for RGB channel c and pixel value p (uint8 and
  // int8 inputs; int8 stored as its two's complement byte).
  std::array<std::array<uint8_t, 256>, 3> lut_u8_{};
  // lut_f32_[c][p]: real value for FLOAT32 inputs.
  std::array<std::array<float, 256>, 3> lut_f32_{};
  cv::Mat converted_;   // Reused ToBgr() destination.
  cv::Mat resized_;     // Reused resize destination.
  PixelLayout last_layout_ = PixelLayout::kBgr;  // For Describe().
  YuvEncoding last_yuv_;
  cv::Size last_frame_size_;  // For Describe().
  cv::Size last_crop_size_;
  int last_interpolation_ = -1;  // -1: no resize yet / identity.
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_CLASSIFIER_PREPROCESSOR_H_
