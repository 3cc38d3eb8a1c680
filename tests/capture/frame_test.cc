// Frames in camera layouts: ToBgr() against hand-computed Y'CbCr -> R'G'B'
// values (the Rec601/Rec709 equations, full and limited range) and against
// OpenCV's own YUV 4:2:0 conversion of a real photo; and the preprocessor on
// such frames.
#include "support/catch_compat.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "lookout/capture/frame.h"
#include "lookout/capture/frame_source.h"
#include "classifier/preprocessor.h"
#include "support/test_support.h"

namespace {

using lookout::capture::Frame;
using lookout::capture::PixelLayout;
using lookout::daemon::Preprocessor;
using lookout::capture::ToBgr;
using lookout::capture::YuvEncoding;

// A frame of one colour: Y, U, V everywhere, as NV12 or YUV420.
Frame Flat(PixelLayout layout, int width, int height, uint8_t y, uint8_t u, uint8_t v) {
  Frame frame;
  frame.layout = layout;
  frame.image = cv::Mat(height, width, CV_8UC1, cv::Scalar(y));
  const cv::Size half((width + 1) / 2, (height + 1) / 2);
  if (layout == PixelLayout::kNv12) {
    frame.chroma[0] = cv::Mat(half, CV_8UC2, cv::Scalar(u, v));
  } else {
    frame.chroma[0] = cv::Mat(half, CV_8UC1, cv::Scalar(u));
    frame.chroma[1] = cv::Mat(half, CV_8UC1, cv::Scalar(v));
  }
  return frame;
}

cv::Vec3b BgrOf(const Frame& frame) {
  cv::Mat bgr;
  ToBgr(frame, &bgr);
  REQUIRE(bgr.type() == CV_8UC3);
  REQUIRE(bgr.size() == frame.image.size());
  return bgr.at<cv::Vec3b>(0, 0);
}

// A frame from OpenCV's I420 (BT.601, limited range) encoding of `bgr`.
Frame I420Of(const cv::Mat& bgr, cv::Mat* storage) {
  cv::cvtColor(bgr, *storage, cv::COLOR_BGR2YUV_I420);
  const int w = bgr.cols, h = bgr.rows;
  Frame frame;
  frame.layout = PixelLayout::kYuv420;
  frame.yuv = {YuvEncoding::Matrix::kRec601, false};
  frame.image = storage->rowRange(0, h);
  // I420 in one buffer: Y, then U and V of (w/2) x (h/2) each, packed.
  uint8_t* u = storage->ptr<uint8_t>(h);
  frame.chroma[0] = cv::Mat(h / 2, w / 2, CV_8UC1, u);
  frame.chroma[1] = cv::Mat(h / 2, w / 2, CV_8UC1, u + (w / 2) * (h / 2));
  return frame;
}

}  // namespace

TEST_CASE("ToBgr: Y'CbCr colours by the Rec601 and Rec709 equations", "[capture][frame]") {
  for (PixelLayout layout : {PixelLayout::kNv12, PixelLayout::kYuv420}) {
    INFO(lookout::capture::PixelLayoutName(layout));
    // Full range Rec601 (JPEG): grey stays grey; Y 76, Cb 85, Cr 255 is red:
    // R = 76 + 1.402 * 127 = 254.1, G = 76 + 0.344 * 43 - 0.714 * 127 = 0.1,
    // B = 76 - 1.772 * 43 < 0.
    Frame grey = Flat(layout, 4, 2, 128, 128, 128);
    CHECK(BgrOf(grey) == cv::Vec3b(128, 128, 128));
    Frame red = Flat(layout, 4, 2, 76, 85, 255);
    CHECK(BgrOf(red) == cv::Vec3b(0, 0, 254));
    // Limited range Rec601: Y 16..235 is black..white; Y 81, Cb 90, Cr 240:
    // R = 1.164 * 65 + 1.596 * 112 = 254.4, G and B below 0.
    Frame limited = Flat(layout, 4, 2, 16, 128, 128);
    limited.yuv.full_range = false;
    CHECK(BgrOf(limited) == cv::Vec3b(0, 0, 0));
    limited.image.setTo(235);
    CHECK(BgrOf(limited) == cv::Vec3b(255, 255, 255));
    Frame limited_red = Flat(layout, 4, 2, 81, 90, 240);
    limited_red.yuv.full_range = false;
    CHECK(BgrOf(limited_red) == cv::Vec3b(0, 0, 254));
    // Full range Rec709, Cr 255: R = 128 + 1.5748 * 127 > 255,
    // G = 128 - 0.4681 * 127 = 68.55, B = 128.
    Frame rec709 = Flat(layout, 4, 2, 128, 128, 255);
    rec709.yuv.matrix = YuvEncoding::Matrix::kRec709;
    CHECK(BgrOf(rec709) == cv::Vec3b(128, 69, 255));
  }
}

TEST_CASE("ToBgr: each 2x2 block takes its own chroma, odd sizes and padded rows too",
          "[capture][frame]") {
  // 5x3: chroma is 3x2; the Y plane is a view into wider rows (stride 8).
  cv::Mat y_rows(3, 8, CV_8UC1, cv::Scalar(128));
  Frame frame;
  frame.layout = PixelLayout::kNv12;
  frame.image = y_rows(cv::Rect(0, 0, 5, 3));
  frame.chroma[0] = cv::Mat(2, 3, CV_8UC2);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      frame.chroma[0].at<cv::Vec2b>(r, c) = cv::Vec2b(128, static_cast<uint8_t>(128 + 10 * (3 * r + c)));
    }
  }
  cv::Mat bgr;
  ToBgr(frame, &bgr);
  REQUIRE(bgr.size() == cv::Size(5, 3));
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) {
      INFO("pixel " << x << "," << y);
      // Cr = 128 + 10k: R = 128 + 1.402 * 10k, rounded.
      const int k = 3 * (y / 2) + x / 2;
      const int r = std::min(255, static_cast<int>(128 + 1.402 * 10 * k + 0.5));
      CHECK(bgr.at<cv::Vec3b>(y, x)[2] == r);
      CHECK(bgr.at<cv::Vec3b>(y, x)[0] == 128);  // Cb 128: B = Y.
    }
  }
}

TEST_CASE("ToBgr: packed layouts reorder bytes only", "[capture][frame]") {
  cv::Mat bgr(3, 4, CV_8UC3);
  cv::randu(bgr, 0, 256);
  Frame frame;
  cv::Mat out;
  frame.layout = PixelLayout::kRgb;
  cv::cvtColor(bgr, frame.image, cv::COLOR_BGR2RGB);
  ToBgr(frame, &out);
  CHECK(cv::norm(out, bgr, cv::NORM_INF) == 0);
  frame.layout = PixelLayout::kBgrx;
  cv::cvtColor(bgr, frame.image, cv::COLOR_BGR2BGRA);
  ToBgr(frame, &out);
  CHECK(cv::norm(out, bgr, cv::NORM_INF) == 0);
  frame.layout = PixelLayout::kRgbx;
  cv::cvtColor(bgr, frame.image, cv::COLOR_BGR2RGBA);
  ToBgr(frame, &out);
  CHECK(cv::norm(out, bgr, cv::NORM_INF) == 0);
  frame.layout = PixelLayout::kBgr;
  frame.image = bgr;
  ToBgr(frame, &out);
  CHECK(cv::norm(out, bgr, cv::NORM_INF) == 0);
}

TEST_CASE("ToBgr: planes that do not match the layout are refused", "[capture][frame]") {
  cv::Mat out;
  Frame frame = Flat(PixelLayout::kNv12, 4, 2, 128, 128, 128);
  frame.chroma[0] = cv::Mat(1, 1, CV_8UC2);
  CHECK_THROWS_AS(ToBgr(frame, &out), std::invalid_argument);
  frame = Flat(PixelLayout::kYuv420, 4, 2, 128, 128, 128);
  frame.chroma[1] = cv::Mat();
  CHECK_THROWS_AS(ToBgr(frame, &out), std::invalid_argument);
  frame.layout = PixelLayout::kBgrx;
  frame.image = cv::Mat(2, 2, CV_8UC3);
  CHECK_THROWS_AS(ToBgr(frame, &out), std::invalid_argument);
}

TEST_CASE("ToBgr: a photo in YUV 4:2:0 matches OpenCV's own conversion", "[capture][frame]") {
  const cv::Mat photo = cv::imread(
      (lookout::testing::SourceDir() / "tests/data/images/cat_720p.jpg").string(), cv::IMREAD_COLOR);
  REQUIRE(photo.size() == cv::Size(1280, 720));
  cv::Mat storage;
  const Frame i420 = I420Of(photo, &storage);
  cv::Mat ours, theirs;
  ToBgr(i420, &ours);
  cv::cvtColor(storage, theirs, cv::COLOR_YUV2BGR_I420);
  // Both compute the same equations with nearest chroma; they differ only in
  // fixed-point rounding.
  CHECK(cv::norm(ours, theirs, cv::NORM_INF) <= 2);
  // And the round trip keeps the photo, but for what 4:2:0 loses.
  cv::Mat diff;
  cv::absdiff(ours, photo, diff);
  const cv::Scalar mean = cv::mean(diff);
  CHECK(mean[0] < 4);
  CHECK(mean[1] < 4);
  CHECK(mean[2] < 4);

  // The same pixels as NV12 (U and V interleaved) convert the same.
  Frame nv12 = i420;
  nv12.layout = PixelLayout::kNv12;
  cv::Mat uv;
  cv::merge(std::vector<cv::Mat>{i420.chroma[0], i420.chroma[1]}, uv);
  nv12.chroma = {uv, cv::Mat()};
  cv::Mat from_nv12;
  ToBgr(nv12, &from_nv12);
  CHECK(cv::norm(from_nv12, ours, cv::NORM_INF) == 0);
}

TEST_CASE("Preprocessor: a YUV frame gives the tensor of its BGR conversion", "[capture][frame]") {
  lookout::runtime::TensorDetails input;
  input.name = "input";
  input.shape = {1, 224, 224, 3};
  input.type = lookout::runtime::DataType::kUInt8;
  input.scale = 0.0078125f;
  input.zero_point = 128;
  input.bytes = 224 * 224 * 3;
  Preprocessor pre(input, {});
  const cv::Mat photo = cv::imread(
      (lookout::testing::SourceDir() / "tests/data/images/hot_dog.jpg").string(), cv::IMREAD_COLOR);
  REQUIRE_FALSE(photo.empty());
  cv::Mat storage, bgr;
  Frame frame = I420Of(photo, &storage);
  ToBgr(frame, &bgr);
  std::vector<uint8_t> from_frame(input.bytes), from_bgr(input.bytes);
  pre.Run(frame, from_frame);
  CHECK(pre.Describe().rfind("YUV420 (Rec601, limited range) -> BGR, centre-crop no, resize 512x384",
                             0) == 0);
  pre.Run(bgr, from_bgr);
  CHECK(from_frame == from_bgr);
  CHECK(pre.Describe().rfind("centre-crop no, resize 512x384", 0) == 0);
}

TEST_CASE("Sources refuse a half-set or negative target size", "[capture][frame]") {
  lookout::capture::SourceOptions options;
  options.type = lookout::capture::SourceType::kImages;
  options.device = "/nonexistent";
  options.target_width = 224;
  CHECK_THROWS_AS(lookout::capture::CreateFrameSource(options), std::invalid_argument);
  options.target_width = -224;
  options.target_height = 224;
  CHECK_THROWS_AS(lookout::capture::CreateFrameSource(options), std::invalid_argument);
  options.target_width = 224;
  CHECK_NOTHROW(lookout::capture::CreateFrameSource(options));
}
