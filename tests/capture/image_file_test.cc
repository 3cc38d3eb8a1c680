// ReadImageSize() against OpenCV's own decoders (the size it reads from a
// header must be the size imread() decodes), on files OpenCV writes in each
// format, and on headers spliced or patched where OpenCV writes no such file;
// ReadImageFile()'s outcomes, and its refusal of oversized files before any
// decoding.
#include "support/catch_compat.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "capture/source_testing.h"
#include "lookout/capture/image_file.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using lookout::capture::ReadImageFile;
using lookout::capture::ReadImageSize;
using lookout::testing::Contains;
using lookout::testing::TempDir;
using lookout::testing::WriteRandomBytes;

std::string Encode(const std::string& ext, const cv::Mat& image,
                   const std::vector<int>& params = {}) {
  std::vector<uchar> bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return std::string(bytes.begin(), bytes.end());
}

fs::path Write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Big-endian 16 and 32 bits, as PNG, JPEG and big-endian TIFF store them.
std::string Be16(uint32_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string Be32(uint32_t v) { return Be16(v >> 16) + Be16(v & 0xFFFF); }

struct Sample {
  std::string name;   // File name; its extension picks OpenCV's encoder.
  std::string bytes;  // The file.
};

// One file per format and flavour ReadImageSize() reads, all 37x23 (odd, and
// wider than high, so a swap would show).
std::vector<Sample> Samples() {
  const cv::Mat bgr(23, 37, CV_8UC3, cv::Scalar(40, 80, 120));
  const cv::Mat grey(23, 37, CV_8UC1, cv::Scalar(99));
  const cv::Mat bgra(23, 37, CV_8UC4, cv::Scalar(40, 80, 120, 100));
  const cv::Mat deep(23, 37, CV_16UC3, cv::Scalar(4000, 8000, 12000));
  std::vector<Sample> samples = {
      {"bgr.png", Encode(".png", bgr)},
      {"grey.png", Encode(".png", grey)},
      {"bgra.png", Encode(".png", bgra)},
      {"16bit.png", Encode(".png", deep)},
      {"baseline.jpg", Encode(".jpg", bgr)},
      {"grey.jpg", Encode(".jpg", grey)},
      {"progressive.jpg", Encode(".jpg", bgr, {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"bgr.bmp", Encode(".bmp", bgr)},
      {"grey.bmp", Encode(".bmp", grey)},
  };
  // A JPEG with long metadata before its frame header: a comment segment
  // (FF FE) of 60000 bytes, then 20 fill bytes, spliced in after SOI.
  std::string jpeg = Encode(".jpg", bgr);
  jpeg.insert(2, "\xFF\xFE" + Be16(60002) + std::string(60000, 'x') + std::string(20, '\xFF'));
  samples.push_back({"metadata.jpg", jpeg});
  // A BMP stored top-down (negative height).
  std::string bmp = Encode(".bmp", bgr);
  const int32_t top_down = -23;
  std::memcpy(&bmp[22], &top_down, 4);  // Little-endian, like BMP (and this machine).
  samples.push_back({"top_down.bmp", bmp});
  if (cv::haveImageWriter(".webp")) {
    samples.push_back({"lossy.webp", Encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 80})});
    samples.push_back({"lossless.webp", Encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 101})});
    samples.push_back({"alpha.webp", Encode(".webp", bgra, {cv::IMWRITE_WEBP_QUALITY, 80})});
  }
  if (cv::haveImageWriter(".tiff")) {
    samples.push_back({"bgr.tiff", Encode(".tiff", bgr)});
    samples.push_back({"16bit.tiff", Encode(".tiff", deep)});
  }
  return samples;
}

}  // namespace

TEST_CASE("ReadImageSize: the size imread() decodes, from the header of each format",
          "[capture][images]") {
  TempDir dir;
  std::vector<std::string> webp_chunks;
  for (const Sample& sample : Samples()) {
    INFO(sample.name);
    const fs::path path = Write(dir.path() / sample.name, sample.bytes);
    const cv::Mat decoded = cv::imread(path.string(), cv::IMREAD_COLOR);
    REQUIRE(decoded.size() == cv::Size(37, 23));
    const std::optional<cv::Size> size = ReadImageSize(path);
    REQUIRE(size.has_value());
    CHECK(*size == decoded.size());
    if (fs::path(sample.name).extension() == ".webp") {
      webp_chunks.push_back(sample.bytes.substr(12, 4));
    }
  }
  // The three ways WebP stores a size were all read.
  if (cv::haveImageWriter(".webp")) {
    CHECK(webp_chunks == std::vector<std::string>{"VP8 ", "VP8L", "VP8X"});
  }
}

TEST_CASE("ReadImageSize: a big-endian TIFF, with SHORT and LONG sizes", "[capture][images]") {
  TempDir dir;
  // Header, then one directory of two entries (tag, type, count, value; a
  // SHORT value in the first two bytes of its field), then no next directory.
  const std::string tiff = std::string("MM\0*", 4) + Be32(8) + Be16(2) +
                           Be16(256) + Be16(3) + Be32(1) + Be16(300) + Be16(0) +
                           Be16(257) + Be16(4) + Be32(1) + Be32(200) + Be32(0);
  CHECK(ReadImageSize(Write(dir.path() / "be.tif", tiff)) == cv::Size(300, 200));
}

TEST_CASE("ReadImageSize: nothing for what it cannot read, never a wrong size",
          "[capture][images]") {
  TempDir dir;
  CHECK_FALSE(ReadImageSize(dir.path() / "missing.png"));
  CHECK_FALSE(ReadImageSize(Write(dir.path() / "empty.png", "")));
  WriteRandomBytes(dir.path() / "random.jpg", 4096);
  CHECK_FALSE(ReadImageSize(dir.path() / "random.jpg"));
  // Formats it does not read (OpenCV does): the caller checks once decoded.
  const cv::Mat grey(23, 37, CV_8UC3, cv::Scalar::all(7));
  CHECK_FALSE(ReadImageSize(Write(dir.path() / "image.ppm", Encode(".ppm", grey))));
  // Every file of every format cut short: nullopt, or the right size when the
  // cut comes after the header.
  for (const Sample& sample : Samples()) {
    const size_t limit = std::min<size_t>(sample.bytes.size(), 400);
    for (size_t length = 0; length < limit; ++length) {
      INFO(sample.name << " cut to " << length << " bytes");
      const std::optional<cv::Size> size =
          ReadImageSize(Write(dir.path() / "cut", sample.bytes.substr(0, length)));
      if (size) CHECK(*size == cv::Size(37, 23));
    }
  }
}

TEST_CASE("ReadImageFile: refuses a size over the limit before decoding", "[capture][images]") {
  TempDir dir;
  // A small PNG whose header claims 100000x100000: what OpenCV would make of
  // it shows when there is no limit.
  std::string png = Encode(".png", cv::Mat(23, 37, CV_8UC3, cv::Scalar::all(7)));
  REQUIRE(png.substr(12, 4) == "IHDR");
  png.replace(16, 8, Be32(100000) + Be32(100000));
  const fs::path path = Write(dir.path() / "claims.png", png);
  REQUIRE(ReadImageSize(path) == cv::Size(100000, 100000));

  std::string why;
  CHECK(ReadImageFile(path, 16777216, &why).empty());
  CHECK(why == "100000x100000 = 10000000000 pixels exceeds max_frame_pixels 16777216");
  why.clear();
  CHECK(ReadImageFile(path, 0, &why).empty());
  CHECK_THAT(why, Contains("cannot decode it"));
}

TEST_CASE("ReadImageFile: 8-bit BGR from odd but valid files, the cause for unusable ones",
          "[capture][images]") {
  TempDir dir;
  std::string why;
  const auto read = [&](const std::string& name, const std::string& bytes, uint64_t limit = 0) {
    why.clear();
    return ReadImageFile(Write(dir.path() / name, bytes), limit, &why);
  };

  cv::Mat one = read("one.png", Encode(".png", cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3))), 1);
  CHECK(why.empty());
  REQUIRE(one.size() == cv::Size(1, 1));
  CHECK(one.type() == CV_8UC3);
  CHECK(one.at<cv::Vec3b>(0, 0) == cv::Vec3b(1, 2, 3));

  cv::Mat deep = read("deep.png", Encode(".png", cv::Mat(2, 3, CV_16UC1, cv::Scalar(65535))));
  CHECK(deep.type() == CV_8UC3);
  CHECK(deep.at<cv::Vec3b>(1, 2) == cv::Vec3b(255, 255, 255));

  cv::Mat alpha = read("alpha.png", Encode(".png", cv::Mat(2, 3, CV_8UC4, cv::Scalar(9, 8, 7, 0))));
  CHECK(alpha.type() == CV_8UC3);
  CHECK(alpha.at<cv::Vec3b>(0, 0) == cv::Vec3b(9, 8, 7));

  CHECK(read("empty.png", "").empty());
  CHECK(why == "empty file (0 bytes)");
  CHECK(read("text.jpg", "not an image").empty());
  CHECK(why == "cannot decode it");
  CHECK(read("big.bmp", Encode(".bmp", cv::Mat(10, 10, CV_8UC3)), 99).empty());
  CHECK(why == "10x10 = 100 pixels exceeds max_frame_pixels 99");
  // A format ReadImageSize() does not read is checked once decoded.
  CHECK(read("big.ppm", Encode(".ppm", cv::Mat(10, 10, CV_8UC3)), 99).empty());
  CHECK(why == "10x10 = 100 pixels exceeds max_frame_pixels 99");

  why.clear();
  CHECK(ReadImageFile(dir.path() / "missing.png", 0, &why).empty());
  CHECK_THAT(why, Contains("cannot read it"));
}
