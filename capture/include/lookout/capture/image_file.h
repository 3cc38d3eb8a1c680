// Reading still image files with a bound on their size: the "images" source
// uses it for every file, and any tool that reads images given to it by
// others can do the same.
//
// OpenCV (4.6 to 4.10) has no public call that reports an image file's size
// without decoding it: cv::imread() reads the header and allocates and
// decodes the whole image in one go, and its own bound
// (OPENCV_IO_MAX_IMAGE_PIXELS, default 2^30 pixels) is read from the
// environment once, when libopencv_imgcodecs is loaded, so a program cannot
// set it for itself. ReadImageSize() therefore reads the few header fields
// that hold the size; decoding stays OpenCV's.
#ifndef LOOKOUT_CAPTURE_IMAGE_FILE_H_
#define LOOKOUT_CAPTURE_IMAGE_FILE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <opencv2/core/mat.hpp>

namespace lookout::capture {

/// The width and height that the header of the image file at `path`
/// declares, read without decoding anything: PNG, JPEG (any SOF frame
/// header), BMP, WebP (lossy, lossless and extended) and TIFF (classic, the
/// first image). Formats are told by their signature, not the file name.
/// nullopt for other formats, unreadable files, and headers that make no
/// sense (a zero or negative dimension, a TIFF dimension above INT_MAX, a
/// JPEG whose height comes after the scan). Reads at most a few hundred
/// bytes, plus the JPEG segment headers before the frame header. Thread-safe.
std::optional<cv::Size> ReadImageSize(const std::filesystem::path& path);

/// Reads the image file at `path` as an owned 8-bit BGR Mat (CV_8UC3), as
/// cv::imread(IMREAD_COLOR) decodes it: grey, 16-bit, alpha and CMYK images
/// are converted. `max_pixels` (0: no limit) bounds width x height: a file
/// whose header (ReadImageSize()) declares more is refused before decoding,
/// one of another format once decoded. On failure returns an empty Mat and
/// sets `*why` (not null) to the cause, without the path: "empty file (0
/// bytes)", "cannot read it: <error>", "cannot decode it[: <OpenCV's
/// message>]", "<W>x<H> = <N> pixels exceeds max_frame_pixels <M>". Does not
/// throw for bad files. Thread-safe.
cv::Mat ReadImageFile(const std::filesystem::path& path, uint64_t max_pixels, std::string* why);

}  // namespace lookout::capture

#endif  // LOOKOUT_CAPTURE_IMAGE_FILE_H_
