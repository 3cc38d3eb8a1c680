// Preprocessor: expected tensor bytes come from hand calculation of
// q = round((p - mean) / std / scale) + zero_point, saturated, and from the
// NHWC/NCHW index definitions, never from the code under test.
#include "support/catch_compat.h"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <opencv2/core.hpp>

#include "classifier/preprocessor.h"

namespace {

using lookout::daemon::PreprocessOptions;
using lookout::daemon::Preprocessor;
using lookout::runtime::DataType;
using lookout::runtime::TensorDetails;

TensorDetails Input(std::vector<int32_t> shape, DataType type, float scale = 0.0f,
                    int32_t zero_point = 0) {
  TensorDetails t;
  t.name = "input";
  t.index = 0;
  t.shape = std::move(shape);
  t.type = type;
  t.scale = scale;
  t.zero_point = zero_point;
  size_t count = 1;
  for (int32_t d : t.shape) count *= static_cast<size_t>(d);
  t.bytes = count * (type == DataType::kFloat32 ? 4 : 1);
  return t;
}

// mean 0, std 1, scale 1, zero point 0: the tensor holds the raw pixels, which
// makes layout and channel order directly visible.
PreprocessOptions RawPixels() {
  PreprocessOptions o;
  o.mean = {0.0f, 0.0f, 0.0f};
  o.std = {1.0f, 1.0f, 1.0f};
  return o;
}

// A width x height image whose pixel (y, x) has R = 10y + x, G = 100 + 10y + x,
// B = 200 + y + x (in BGR memory order, as OpenCV stores it).
cv::Mat Gradient(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(200 + y + x),
                                            static_cast<uint8_t>(100 + 10 * y + x),
                                            static_cast<uint8_t>(10 * y + x));
    }
  }
  return image;
}

int R(int y, int x) { return 10 * y + x; }
int G(int y, int x) { return 100 + 10 * y + x; }
int B(int y, int x) { return 200 + y + x; }

}  // namespace

TEST_CASE("uint8 quantization of known pixel values", "[capture][preprocessor]") {
  // MobileNet-style: mean = std = 127.5, scale 1/128, zero point 128.
  Preprocessor pre(Input({1, 1, 3, 3}, DataType::kUInt8, 0.0078125f, 128), PreprocessOptions{});
  cv::Mat image(1, 3, CV_8UC3);
  // Pixels as (R, G, B); stored as BGR.
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(128, 255, 0);   // R=0   G=255 B=128
  image.at<cv::Vec3b>(0, 1) = cv::Vec3b(64, 200, 127);  // R=127 G=200 B=64
  image.at<cv::Vec3b>(0, 2) = cv::Vec3b(255, 10, 0);    // R=0   G=10  B=255
  std::vector<uint8_t> out(9);
  pre.Run(image, out);
  // q = round((p - 127.5) * 128 / 127.5) + 128:
  //   p=0:   -128      -> 0        p=255: 128 -> 256 -> saturates to 255
  //   p=128: 0.50196   -> 1 -> 129 p=127: -0.50196 -> -1 -> 127
  //   p=200: 72.784    -> 73 -> 201  p=64: -63.749 -> -64 -> 64
  //   p=10:  -117.96   -> -118 -> 10
  const std::vector<uint8_t> expected = {0, 255, 129, 127, 201, 64, 0, 10, 255};
  CHECK(out == expected);
}

TEST_CASE("int8 quantization with ImageNet mean and std", "[capture][preprocessor]") {
  PreprocessOptions options;
  options.mean = {123.675f, 116.28f, 103.53f};
  options.std = {58.395f, 57.12f, 57.375f};
  Preprocessor pre(Input({1, 1, 2, 3}, DataType::kInt8, 0.018631f, -14), options);
  cv::Mat image(1, 2, CV_8UC3);
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 128, 0);   // R=0   G=128 B=255
  image.at<cv::Vec3b>(0, 1) = cv::Vec3b(100, 50, 200);  // R=200 G=50  B=100
  std::vector<uint8_t> out(6);
  pre.Run(image, out);
  // R=0:   (0-123.675)/58.395   = -2.117904 / 0.018631 = -113.676 -> -114 - 14 = -128
  // G=128: (128-116.28)/57.12   =  0.205182 / 0.018631 =   11.013 ->   11 - 14 = -3
  // B=255: (255-103.53)/57.375  =  2.64     / 0.018631 =  141.699 ->  142 - 14 = 128 -> 127
  // R=200: (200-123.675)/58.395 =  1.307047 / 0.018631 =   70.154 ->   70 - 14 = 56
  // G=50:  (50-116.28)/57.12    = -1.160364 / 0.018631 =  -62.281 ->  -62 - 14 = -76
  // B=100: (100-103.53)/57.375  = -0.061525 / 0.018631 =   -3.302 ->   -3 - 14 = -17
  const std::vector<int8_t> expected = {-128, -3, 127, 56, -76, -17};
  std::vector<int8_t> got(out.size());
  std::memcpy(got.data(), out.data(), out.size());
  CHECK(got == expected);
}

TEST_CASE("BGR frames become RGB tensors", "[capture][preprocessor]") {
  Preprocessor pre(Input({1, 1, 1, 3}, DataType::kUInt8, 1.0f, 0), RawPixels());
  cv::Mat blue(1, 1, CV_8UC3, cv::Scalar(255, 0, 0));  // OpenCV Scalar is B, G, R.
  std::vector<uint8_t> out(3);
  pre.Run(blue, out);
  CHECK(out == std::vector<uint8_t>{0, 0, 255});
  cv::Mat orange(1, 1, CV_8UC3, cv::Scalar(0, 128, 255));
  pre.Run(orange, out);
  CHECK(out == std::vector<uint8_t>{255, 128, 0});
}

TEST_CASE("NHWC and NCHW layouts at the input size (no resize)", "[capture][preprocessor]") {
  constexpr int kH = 2, kW = 4;
  const cv::Mat image = Gradient(kW, kH);
  std::vector<uint8_t> out(kH * kW * 3);

  SECTION("NHWC [1,H,W,3]: index (y*W + x)*3 + c") {
    Preprocessor pre(Input({1, kH, kW, 3}, DataType::kUInt8, 1.0f, 0), RawPixels());
    CHECK_FALSE(pre.nchw());
    pre.Run(image, out);
    for (int y = 0; y < kH; ++y) {
      for (int x = 0; x < kW; ++x) {
        INFO("y=" << y << " x=" << x);
        CHECK(out[(y * kW + x) * 3 + 0] == R(y, x));
        CHECK(out[(y * kW + x) * 3 + 1] == G(y, x));
        CHECK(out[(y * kW + x) * 3 + 2] == B(y, x));
      }
    }
    CHECK(pre.Describe().find("(none)") != std::string::npos);
  }
  SECTION("NCHW [1,3,H,W]: index c*H*W + y*W + x") {
    Preprocessor pre(Input({1, 3, kH, kW}, DataType::kUInt8, 1.0f, 0), RawPixels());
    CHECK(pre.nchw());
    CHECK(pre.width() == kW);
    CHECK(pre.height() == kH);
    pre.Run(image, out);
    for (int y = 0; y < kH; ++y) {
      for (int x = 0; x < kW; ++x) {
        INFO("y=" << y << " x=" << x);
        CHECK(out[0 * kH * kW + y * kW + x] == R(y, x));
        CHECK(out[1 * kH * kW + y * kW + x] == G(y, x));
        CHECK(out[2 * kH * kW + y * kW + x] == B(y, x));
      }
    }
  }
}

TEST_CASE("centre crop keeps the middle of the frame", "[capture][preprocessor]") {
  PreprocessOptions options = RawPixels();
  options.center_crop = true;
  Preprocessor pre(Input({1, 2, 2, 3}, DataType::kUInt8, 1.0f, 0), options);
  std::vector<uint8_t> out(2 * 2 * 3);

  SECTION("wide 4x2 frame: columns 1 and 2") {
    pre.Run(Gradient(4, 2), out);
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        CHECK(out[(y * 2 + x) * 3 + 0] == R(y, x + 1));
        CHECK(out[(y * 2 + x) * 3 + 1] == G(y, x + 1));
        CHECK(out[(y * 2 + x) * 3 + 2] == B(y, x + 1));
      }
    }
    CHECK(pre.Describe().rfind("centre-crop yes (4x2 -> 2x2), resize 2x2 -> 2x2 (none)", 0) == 0);
  }
  SECTION("tall 2x4 frame: rows 1 and 2") {
    pre.Run(Gradient(2, 4), out);
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        CHECK(out[(y * 2 + x) * 3 + 0] == R(y + 1, x));
        CHECK(out[(y * 2 + x) * 3 + 2] == B(y + 1, x));
      }
    }
  }
  SECTION("without centre crop the whole 4x2 frame is squeezed") {
    Preprocessor squeeze(Input({1, 2, 2, 3}, DataType::kUInt8, 1.0f, 0), RawPixels());
    // A frame whose left half is black and right half white: squeezing keeps
    // both halves, cropping would have kept one column of each.
    cv::Mat halves(2, 4, CV_8UC3, cv::Scalar(0, 0, 0));
    halves(cv::Rect(2, 0, 2, 2)).setTo(cv::Scalar(255, 255, 255));
    squeeze.Run(halves, out);
    CHECK(out == std::vector<uint8_t>{0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255});
  }
}

TEST_CASE("resizing preserves a uniform colour in both directions", "[capture][preprocessor]") {
  // (R, G, B) = (30, 60, 90) everywhere; with quantization q = p - 100 + 128:
  // uint8 scale 1, zero point 128, mean 100, std 1.
  PreprocessOptions options;
  options.mean = {100.0f, 100.0f, 100.0f};
  options.std = {1.0f, 1.0f, 1.0f};
  Preprocessor pre(Input({1, 4, 4, 3}, DataType::kUInt8, 1.0f, 128), options);
  std::vector<uint8_t> out(4 * 4 * 3);
  for (cv::Size size : {cv::Size(640, 480), cv::Size(2, 3)}) {
    INFO(size.width << "x" << size.height);
    pre.Run(cv::Mat(size, CV_8UC3, cv::Scalar(90, 60, 30)), out);
    for (size_t i = 0; i < out.size(); i += 3) {
      CHECK(out[i + 0] == 30 - 100 + 128);
      CHECK(out[i + 1] == 60 - 100 + 128);
      CHECK(out[i + 2] == 90 - 100 + 128);
    }
  }
  // The last frame (2x3) was enlarged.
  CHECK(pre.Describe().find("resize 2x3 -> 4x4 (linear)") != std::string::npos);
  pre.Run(cv::Mat(480, 640, CV_8UC3, cv::Scalar(90, 60, 30)), out);
  CHECK(pre.Describe().find("resize 640x480 -> 4x4 (area)") != std::string::npos);
}

TEST_CASE("float32 inputs receive the real values", "[capture][preprocessor]") {
  Preprocessor pre(Input({1, 1, 2, 3}, DataType::kFloat32), PreprocessOptions{});
  cv::Mat image(1, 2, CV_8UC3);
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(51, 255, 0);     // R=0  G=255 B=51
  image.at<cv::Vec3b>(0, 1) = cv::Vec3b(127, 204, 153);  // R=153 G=204 B=127
  // Deliberately misaligned destination: Run() must not assume alignment.
  std::vector<uint8_t> storage(1 + 6 * sizeof(float));
  std::span<uint8_t> out(storage.data() + 1, 6 * sizeof(float));
  pre.Run(image, out);
  float got[6];
  std::memcpy(got, out.data(), sizeof(got));
  // (p - 127.5) / 127.5
  CHECK(got[0] == Approx(-1.0));
  CHECK(got[1] == Approx(1.0));
  CHECK(got[2] == Approx(-0.6));      // 51:  -76.5 / 127.5
  CHECK(got[3] == Approx(0.2));       // 153:  25.5 / 127.5
  CHECK(got[4] == Approx(0.6));       // 204:  76.5 / 127.5
  CHECK(got[5] == Approx(-0.003921568627));  // 127: -0.5 / 127.5
}

TEST_CASE("Describe() spells out the pipeline", "[capture][preprocessor]") {
  Preprocessor pre(Input({1, 224, 224, 3}, DataType::kUInt8, 0.0078125f, 128),
                   PreprocessOptions{});
  CHECK(pre.Describe() ==
        "centre-crop no, resize ?x? -> 224x224 (?), BGR->RGB, "
        "uint8 q = round((p-127.5)/127.5/0.0078125)+128, NHWC");
  std::vector<uint8_t> out(224 * 224 * 3);
  pre.Run(cv::Mat(720, 1280, CV_8UC3, cv::Scalar(1, 2, 3)), out);
  CHECK(pre.Describe() ==
        "centre-crop no, resize 1280x720 -> 224x224 (area), BGR->RGB, "
        "uint8 q = round((p-127.5)/127.5/0.0078125)+128, NHWC");

  PreprocessOptions imagenet;
  imagenet.center_crop = true;
  imagenet.mean = {123.675f, 116.28f, 103.53f};
  imagenet.std = {58.395f, 57.12f, 57.375f};
  Preprocessor int8(Input({1, 3, 224, 224}, DataType::kInt8, 0.018631f, -14), imagenet);
  CHECK(int8.Describe() ==
        "centre-crop yes, resize ?x? -> 224x224 (?), BGR->RGB, int8 q = "
        "round((p-[123.675,116.28,103.53])/[58.395,57.12,57.375]/0.018631)-14, NCHW");
}

TEST_CASE("unsupported inputs and buffers are rejected", "[capture][preprocessor]") {
  const PreprocessOptions options;
  using lookout::testing::Contains;
  CHECK_THROWS_AS(Preprocessor(Input({1, 224, 224, 1}, DataType::kUInt8, 0.01f, 0), options),
                  std::invalid_argument);
  CHECK_THROWS_WITH(Preprocessor(Input({1, 224, 224, 1}, DataType::kUInt8, 0.01f, 0), options),
                    Contains("[1,224,224,1]") && Contains("channels"));
  CHECK_THROWS_WITH(Preprocessor(Input({1, 1, 224, 224, 3}, DataType::kUInt8, 0.01f, 0), options),
                    Contains("4 dimensions"));
  CHECK_THROWS_WITH(Preprocessor(Input({224, 224, 3}, DataType::kUInt8, 0.01f, 0), options),
                    Contains("4 dimensions"));
  CHECK_THROWS_WITH(Preprocessor(Input({2, 224, 224, 3}, DataType::kUInt8, 0.01f, 0), options),
                    Contains("batch"));
  CHECK_THROWS_WITH(Preprocessor(Input({1, 224, 224, 3}, DataType::kInt16, 0.01f, 0), options),
                    Contains("INT16"));
  CHECK_THROWS_WITH(Preprocessor(Input({1, 224, 224, 3}, DataType::kInt8, 0.0f, 0), options),
                    Contains("scale"));
  CHECK_THROWS_WITH(Preprocessor(Input({1, 0, 224, 3}, DataType::kFloat32), options),
                    Contains("positive"));
  PreprocessOptions zero_std;
  zero_std.std = {1.0f, 0.0f, 1.0f};
  CHECK_THROWS_AS(Preprocessor(Input({1, 8, 8, 3}, DataType::kFloat32), zero_std),
                  std::invalid_argument);

  Preprocessor pre(Input({1, 8, 8, 3}, DataType::kUInt8, 0.5f, 0), options);
  const cv::Mat image(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<uint8_t> small(8 * 8 * 3 - 1), right(8 * 8 * 3), big(8 * 8 * 3 + 1);
  CHECK_THROWS_WITH(pre.Run(image, small), Contains("191") && Contains("192"));
  CHECK_THROWS_AS(pre.Run(image, big), std::invalid_argument);
  CHECK_THROWS_AS(pre.Run(cv::Mat(), right), std::invalid_argument);
  CHECK_THROWS_AS(pre.Run(cv::Mat(8, 8, CV_8UC1, cv::Scalar(1)), right), std::invalid_argument);
  CHECK_THROWS_AS(pre.Run(cv::Mat(8, 8, CV_32FC3, cv::Scalar(1, 2, 3)), right),
                  std::invalid_argument);
  CHECK_NOTHROW(pre.Run(image, right));
}
