#include "lookout/capture/image_file.h"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "threaded_source.h"

namespace lookout::capture {
namespace {

namespace fs = std::filesystem;

// Random access to the first bytes of a file, by offset.
class HeaderReader {
 public:
  explicit HeaderReader(const fs::path& path) : in_(path, std::ios::binary) {}

  bool ok() const { return in_.is_open(); }

  // Reads `count` bytes at `offset`; false when the file ends before.
  bool Read(uint64_t offset, uint8_t* data, size_t count) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(data), static_cast<std::streamsize>(count));
    return in_.gcount() == static_cast<std::streamsize>(count);
  }

 private:
  std::ifstream in_;
};

uint32_t Be16(const uint8_t* p) { return uint32_t{p[0]} << 8 | p[1]; }
uint32_t Be32(const uint8_t* p) { return Be16(p) << 16 | Be16(p + 2); }
uint32_t Le16(const uint8_t* p) { return uint32_t{p[1]} << 8 | p[0]; }
uint32_t Le24(const uint8_t* p) { return uint32_t{p[2]} << 16 | Le16(p); }
uint32_t Le32(const uint8_t* p) { return Le16(p + 2) << 16 | Le16(p); }

std::optional<cv::Size> SizeOf(uint64_t width, uint64_t height) {
  if (width == 0 || height == 0 || width > INT_MAX || height > INT_MAX) return std::nullopt;
  return cv::Size(static_cast<int>(width), static_cast<int>(height));
}

// PNG: the IHDR chunk comes first, right after the signature.
std::optional<cv::Size> PngSize(HeaderReader& in) {
  uint8_t h[24];
  if (!in.Read(0, h, sizeof(h)) || std::memcmp(h + 12, "IHDR", 4) != 0) return std::nullopt;
  return SizeOf(Be32(h + 16), Be32(h + 20));
}

// JPEG: segments follow each other, each with its length, up to the frame
// header (SOFn) that holds the size; metadata (EXIF, ICC profiles) may come
// first and be long.
std::optional<cv::Size> JpegSize(HeaderReader& in) {
  uint64_t offset = 2;  // After SOI.
  for (int steps = 0; steps < 4096; ++steps) {
    uint8_t marker[2];
    if (!in.Read(offset, marker, 2) || marker[0] != 0xFF) return std::nullopt;
    if (marker[1] == 0xFF) {  // Fill byte before a marker.
      ++offset;
      continue;
    }
    offset += 2;
    const uint8_t code = marker[1];
    if (code == 0x01 || (code >= 0xD0 && code <= 0xD7)) continue;  // No payload.
    if (code == 0xD9 || code == 0xDA) return std::nullopt;  // EOI, or a scan before any frame.
    uint8_t segment[7];  // Length; for SOFn also precision, height, width.
    if (!in.Read(offset, segment, 2)) return std::nullopt;
    const uint32_t length = Be16(segment);
    if (length < 2) return std::nullopt;
    // SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC) {
      if (length < 7 || !in.Read(offset, segment, 7)) return std::nullopt;
      return SizeOf(Be16(segment + 5), Be16(segment + 3));
    }
    offset += length;
  }
  return std::nullopt;
}

// BMP: the info header after the 14-byte file header; OS/2 1.x's has 16-bit
// sizes, all later ones signed 32-bit (a negative height: rows top-down).
std::optional<cv::Size> BmpSize(HeaderReader& in) {
  uint8_t h[26];
  if (!in.Read(0, h, sizeof(h))) return std::nullopt;
  if (Le32(h + 14) == 12) return SizeOf(Le16(h + 18), Le16(h + 20));
  const auto width = static_cast<int32_t>(Le32(h + 18));
  const auto height = static_cast<int32_t>(Le32(h + 22));
  if (width <= 0 || height == 0 || height == INT32_MIN) return std::nullopt;
  return SizeOf(static_cast<uint64_t>(width), static_cast<uint64_t>(std::abs(height)));
}

// WebP: RIFF, then the first chunk says how the size is stored: a VP8 key
// frame header (14 bits each), a VP8L header (14 bits each, minus one) or
// the VP8X canvas (24 bits each, minus one).
std::optional<cv::Size> WebpSize(HeaderReader& in) {
  uint8_t h[30];
  if (!in.Read(0, h, sizeof(h))) return std::nullopt;
  if (std::memcmp(h + 12, "VP8 ", 4) == 0) {
    if (h[23] != 0x9D || h[24] != 0x01 || h[25] != 0x2A) return std::nullopt;
    return SizeOf(Le16(h + 26) & 0x3FFF, Le16(h + 28) & 0x3FFF);
  }
  if (std::memcmp(h + 12, "VP8L", 4) == 0) {
    if (h[20] != 0x2F) return std::nullopt;
    const uint32_t bits = Le32(h + 21);
    return SizeOf((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (std::memcmp(h + 12, "VP8X", 4) == 0) return SizeOf(Le24(h + 24) + 1, Le24(h + 27) + 1);
  return std::nullopt;
}

// TIFF: the first image file directory, wherever the header says it is
// (libtiff writes it after the pixels), and its ImageWidth and ImageLength
// entries, SHORT or LONG.
std::optional<cv::Size> TiffSize(HeaderReader& in, bool big_endian) {
  const auto u16 = [big_endian](const uint8_t* p) { return big_endian ? Be16(p) : Le16(p); };
  const auto u32 = [big_endian](const uint8_t* p) { return big_endian ? Be32(p) : Le32(p); };
  uint8_t h[8];
  if (!in.Read(0, h, sizeof(h))) return std::nullopt;
  const uint64_t directory = u32(h + 4);
  uint8_t count_bytes[2];
  if (!in.Read(directory, count_bytes, 2)) return std::nullopt;
  const uint32_t count = u16(count_bytes);
  uint64_t width = 0, height = 0;
  for (uint32_t i = 0; i < count && i < 1024; ++i) {
    uint8_t entry[12];  // Tag, type, count, value.
    if (!in.Read(directory + 2 + 12 * uint64_t{i}, entry, sizeof(entry))) return std::nullopt;
    const uint32_t tag = u16(entry);
    const uint32_t type = u16(entry + 2);
    if (tag != 256 && tag != 257) continue;
    uint64_t value = 0;
    if (type == 3) value = u16(entry + 8);       // SHORT
    else if (type == 4) value = u32(entry + 8);  // LONG
    else return std::nullopt;
    (tag == 256 ? width : height) = value;
    if (width != 0 && height != 0) return SizeOf(width, height);
  }
  return std::nullopt;
}

}  // namespace

std::optional<cv::Size> ReadImageSize(const fs::path& path) {
  HeaderReader in(path);
  if (!in.ok()) return std::nullopt;
  uint8_t magic[12];
  if (!in.Read(0, magic, sizeof(magic))) return std::nullopt;
  if (std::memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0) return PngSize(in);
  if (magic[0] == 0xFF && magic[1] == 0xD8) return JpegSize(in);
  if (magic[0] == 'B' && magic[1] == 'M') return BmpSize(in);
  if (std::memcmp(magic, "RIFF", 4) == 0 && std::memcmp(magic + 8, "WEBP", 4) == 0) {
    return WebpSize(in);
  }
  if (std::memcmp(magic, "II*\0", 4) == 0) return TiffSize(in, /*big_endian=*/false);
  if (std::memcmp(magic, "MM\0*", 4) == 0) return TiffSize(in, /*big_endian=*/true);
  return std::nullopt;
}

cv::Mat ReadImageFile(const fs::path& path, uint64_t max_pixels, std::string* why) {
  std::error_code ec;
  const uintmax_t bytes = fs::file_size(path, ec);
  if (ec) {
    *why = "cannot read it: " + ec.message();
    return {};
  }
  if (bytes == 0) {
    *why = "empty file (0 bytes)";
    return {};
  }
  if (max_pixels > 0) {
    const std::optional<cv::Size> declared = ReadImageSize(path);
    if (declared && internal::ExceedsPixels(*declared, max_pixels)) {
      *why = internal::PixelLimitText(*declared, max_pixels);
      return {};
    }
  }
  cv::Mat image;
  try {
    image = cv::imread(path.string(), cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    // e.err is the short form: what() adds the version and OpenCV's source path.
    *why = "cannot decode it: " + e.err;
    return {};
  }
  if (image.empty()) {
    *why = "cannot decode it";
    return {};
  }
  if (internal::ExceedsPixels(image.size(), max_pixels)) {
    *why = internal::PixelLimitText(image.size(), max_pixels);
    return {};
  }
  image = internal::ToOwnedBgr(std::move(image));
  if (image.empty()) *why = "unsupported pixel format";
  return image;
}

}  // namespace lookout::capture
