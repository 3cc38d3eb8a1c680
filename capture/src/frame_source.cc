#include "lookout/capture/frame_source.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "sources.h"

namespace lookout::capture {

const char* SourceEventKindName(SourceEvent::Kind kind) {
  switch (kind) {
    case SourceEvent::Kind::kBadFrame: return "bad_frame";
    case SourceEvent::Kind::kError: return "error";
    case SourceEvent::Kind::kReconnecting: return "reconnecting";
    case SourceEvent::Kind::kRecovered: return "recovered";
  }
  return "unknown";
}

bool HaveLibcamera() {
#ifdef LOOKOUT_HAVE_LIBCAMERA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<FrameSource> CreateFrameSource(const SourceOptions& options) {
  const std::string kind = SourceTypeName(options.type);
  if (options.width < 0 || options.height < 0) {
    throw std::invalid_argument(kind + " source: negative capture size " +
                                std::to_string(options.width) + "x" +
                                std::to_string(options.height));
  }
  if ((options.width == 0) != (options.height == 0)) {
    throw std::invalid_argument(kind + " source: set both width and height, or neither");
  }
  if (options.target_width < 0 || options.target_height < 0 ||
      (options.target_width == 0) != (options.target_height == 0)) {
    throw std::invalid_argument(kind + " source: target size " +
                                std::to_string(options.target_width) + "x" +
                                std::to_string(options.target_height) +
                                " must be both positive or both 0");
  }
  if (!std::isfinite(options.fps) || options.fps < 0.0) {
    throw std::invalid_argument(kind + " source: fps must be >= 0, got " +
                                std::to_string(options.fps));
  }
  SourceOptions checked = options;
  switch (options.type) {
    case SourceType::kImages:
      if (options.device.empty()) throw std::invalid_argument("images source: no folder given");
      return internal::MakeImageFolderSource(checked);
    case SourceType::kVideo:
      if (options.device.empty()) throw std::invalid_argument("video source: no file given");
      return internal::MakeVideoCaptureSource(checked);
    case SourceType::kRtsp:
      if (options.device.empty()) throw std::invalid_argument("rtsp source: no URL given");
      return internal::MakeVideoCaptureSource(checked);
    case SourceType::kV4l2:
      if (checked.device.empty()) checked.device = "/dev/video0";
      return internal::MakeVideoCaptureSource(checked);
    case SourceType::kLibcamera:
#ifdef LOOKOUT_HAVE_LIBCAMERA
      return internal::MakeLibcameraSource(checked);
#else
      throw std::invalid_argument(
          "libcamera source requested but this build has no libcamera support "
          "(install libcamera-dev and rebuild, or use a v4l2 source)");
#endif
  }
  throw std::invalid_argument("unknown source type " +
                              std::to_string(static_cast<int>(options.type)));
}

}  // namespace lookout::capture
