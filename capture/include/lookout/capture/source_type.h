// The kinds of frame source, named as the configuration names them. One
// definition shared by the configuration (`/camera/type`) and the capture
// library (CreateFrameSource), header-only so that config/ needs no capture
// code to parse it.
#ifndef LOOKOUT_CAPTURE_SOURCE_TYPE_H_
#define LOOKOUT_CAPTURE_SOURCE_TYPE_H_

#include <optional>
#include <string_view>

namespace lookout::capture {

/// Where frames come from.
enum class SourceType {
  kLibcamera,  ///< Raspberry Pi camera through libcamera; `device` = camera id (empty: first).
  kV4l2,       ///< V4L2 / USB webcam through OpenCV; `device` = /dev/videoN or index.
  kVideo,      ///< Video file through OpenCV; `device` = path.
  kRtsp,       ///< RTSP/HTTP stream through OpenCV; `device` = URL.
  kImages,     ///< Folder of still images (sorted by name); `device` = folder path.
};

/// Every SourceType, in declaration order.
inline constexpr SourceType kAllSourceTypes[] = {SourceType::kLibcamera, SourceType::kV4l2,
                                                 SourceType::kVideo, SourceType::kRtsp,
                                                 SourceType::kImages};

/// "libcamera", "v4l2", "video", "rtsp" or "images": the configuration's names.
constexpr const char* SourceTypeName(SourceType type) {
  switch (type) {
    case SourceType::kLibcamera: return "libcamera";
    case SourceType::kV4l2: return "v4l2";
    case SourceType::kVideo: return "video";
    case SourceType::kRtsp: return "rtsp";
    case SourceType::kImages: return "images";
  }
  return "unknown";
}

/// Inverse of SourceTypeName (case-sensitive); nullopt for any other name.
constexpr std::optional<SourceType> ParseSourceType(std::string_view name) {
  for (SourceType type : kAllSourceTypes) {
    if (name == SourceTypeName(type)) return type;
  }
  return std::nullopt;
}

}  // namespace lookout::capture

#endif  // LOOKOUT_CAPTURE_SOURCE_TYPE_H_
