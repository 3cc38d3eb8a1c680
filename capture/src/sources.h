// Internal: constructors of the concrete sources, for CreateFrameSource().
// Options reaching them have already been checked by CreateFrameSource().
#ifndef LOOKOUT_CAPTURE_SRC_SOURCES_H_
#define LOOKOUT_CAPTURE_SRC_SOURCES_H_

#include <memory>

#include "lookout/capture/frame_source.h"

namespace lookout::capture::internal {

std::unique_ptr<FrameSource> MakeImageFolderSource(const SourceOptions& options);
/// Video files, V4L2 devices and RTSP streams, all through cv::VideoCapture.
std::unique_ptr<FrameSource> MakeVideoCaptureSource(const SourceOptions& options);
#ifdef LOOKOUT_HAVE_LIBCAMERA
std::unique_ptr<FrameSource> MakeLibcameraSource(const SourceOptions& options);
#endif

}  // namespace lookout::capture::internal

#endif  // LOOKOUT_CAPTURE_SRC_SOURCES_H_
