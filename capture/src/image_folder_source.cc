// The "images" source: every image file of a folder, in name order, paced
// like a camera. Used for demos, tests and replaying captured stills.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <spdlog/spdlog.h>

#include "lookout/capture/image_file.h"
#include "sources.h"
#include "threaded_source.h"

namespace lookout::capture::internal {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions[] = {".jpg", ".jpeg", ".png", ".bmp",
                                            ".webp", ".tif", ".tiff"};

bool HasImageExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kImageExtensions), std::end(kImageExtensions), ext) !=
         std::end(kImageExtensions);
}

// The image files directly inside `folder`, sorted by file name. Sets `error`
// (and returns nothing) when the folder cannot be listed.
std::vector<fs::path> ListImages(const fs::path& folder, std::string* error) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    *error = "images folder does not exist: " + folder.string();
    return {};
  }
  if (!fs::is_directory(folder, ec)) {
    *error = "images source is not a folder: " + folder.string();
    return {};
  }
  std::vector<fs::path> files;
  fs::directory_iterator it(folder, ec);
  if (ec) {
    *error = "cannot list images folder " + folder.string() + ": " + ec.message();
    return {};
  }
  for (const fs::directory_entry& entry : it) {
    // is_regular_file() follows symlinks, so linked images count too.
    if (entry.is_regular_file(ec) && HasImageExtension(entry.path())) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return files;
}

class ImageFolderSource final : public ThreadedSource {
 public:
  explicit ImageFolderSource(const SourceOptions& options)
      : ThreadedSource(options.clock),
        folder_(options.device),
        fps_(options.fps > 0.0 ? options.fps : 1.0),
        loop_(options.loop),
        max_pixels_(options.max_frame_pixels) {}
  ~ImageFolderSource() override { Stop(); }

  std::string Describe() const override {
    size_t count = files_.size();
    if (count == 0) {
      std::string ignored;
      count = ListImages(folder_, &ignored).size();
    }
    std::ostringstream out;
    out << "images:" << folder_.string() << " (" << count << " files, " << fps_
        << " fps, " << (loop_ ? "loop" : "once") << ")";
    return out.str();
  }

 protected:
  void Open() override {
    std::string error;
    std::vector<fs::path> files = ListImages(folder_, &error);
    if (!error.empty()) throw std::runtime_error(error);
    if (files.empty()) {
      throw std::runtime_error(
          "no image files (jpg, jpeg, png, bmp, webp, tif, tiff) in " + folder_.string());
    }
    files_ = std::move(files);
    skipped_.assign(files_.size(), false);
  }

  void Run() override {
    using Clock = std::chrono::steady_clock;
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / fps_));
    SourceClock::TimePoint deadline = Now();
    do {
      uint64_t delivered_in_pass = 0;
      for (size_t i = 0; i < files_.size(); ++i) {
        if (stopping()) return;
        if (skipped_[i]) continue;
        std::string why;
        cv::Mat image = ReadImageFile(files_[i], max_pixels_, &why);
        if (image.empty()) {
          // Once per file, not on every pass of a loop.
          skipped_[i] = true;
          const std::string message = "images: skipping " + files_[i].string() + ": " + why;
          spdlog::warn("{}", message);
          Report(SourceEvent::Kind::kBadFrame, message);
          continue;
        }
        if (!WaitUntil(deadline)) return;
        Deliver(std::move(image), files_[i].filename().string());
        ++delivered_in_pass;
        // Deadline schedule: no drift from callback time, but no burst of
        // catch-up frames either after a slow decode or callback.
        deadline += period;
        const SourceClock::TimePoint now = Now();
        if (deadline < now - period) deadline = now;
      }
      if (delivered_in_pass == 0) {
        End("none of the " + std::to_string(files_.size()) + " image files in " +
            folder_.string() + " could be decoded" +
            (max_pixels_ > 0 ? " within max_frame_pixels " + std::to_string(max_pixels_) : ""));
        return;
      }
    } while (loop_);
    End("");
  }

 private:
  const fs::path folder_;
  const double fps_;
  const bool loop_;
  const uint64_t max_pixels_;
  std::vector<fs::path> files_;  // Set by Open(), read by the capture thread.
  std::vector<bool> skipped_;    // Capture thread only (after Open()).
};

}  // namespace

std::unique_ptr<FrameSource> MakeImageFolderSource(const SourceOptions& options) {
  return std::make_unique<ImageFolderSource>(options);
}

}  // namespace lookout::capture::internal
