// Internal: constructors of the concrete sources, for CreateFrameSource().
// Options reaching them have already been checked by CreateFrameSource().
#ifndef LOOKOUT_CAPTURE_SRC_SOURCES_H_
#define LOOKOUT_CAPTURE_SRC_SOURCES_H_

#include <exception>
#include <memory>

#include <spdlog/spdlog.h>

#include "lookout/capture/frame_source.h"

namespace lookout::capture::internal {

/// Calls a frame, end or event callback (`what`: "frame", "end", "event"),
/// logging and swallowing what it throws, as frame_source.h promises.
template <typename Callback>
void CallGuarded(const FrameSource& source, const char* what, Callback&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    spdlog::error("{}: {} callback threw: {}", source.Describe(), what, e.what());
  } catch (...) {
    spdlog::error("{}: {} callback threw a non-standard exception", source.Describe(), what);
  }
}

std::unique_ptr<FrameSource> MakeImageFolderSource(const SourceOptions& options);
/// Video files, V4L2 devices and RTSP streams, all through cv::VideoCapture.
std::unique_ptr<FrameSource> MakeVideoCaptureSource(const SourceOptions& options);
#ifdef LOOKOUT_HAVE_LIBCAMERA
std::unique_ptr<FrameSource> MakeLibcameraSource(const SourceOptions& options);
#endif

}  // namespace lookout::capture::internal

#endif  // LOOKOUT_CAPTURE_SRC_SOURCES_H_
