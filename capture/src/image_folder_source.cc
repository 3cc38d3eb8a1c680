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
#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

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
        loop_(options.loop) {}
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
    undecodable_.assign(files_.size(), false);
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
        if (undecodable_[i]) continue;
        cv::Mat image = Decode(files_[i]);
        if (image.empty()) {
          // Warn once per file, not on every pass of a loop.
          undecodable_[i] = true;
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
            folder_.string() + " could be decoded");
        return;
      }
    } while (loop_);
    End("");
  }

 private:
  static cv::Mat Decode(const fs::path& path) {
    cv::Mat image;
    try {
      image = cv::imread(path.string(), cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
      spdlog::warn("images: cannot decode {}: {}", path.string(), e.what());
      return {};
    }
    if (image.empty()) {
      spdlog::warn("images: cannot decode {}, skipping it", path.string());
      return {};
    }
    return ToOwnedBgr(std::move(image));
  }

  const fs::path folder_;
  const double fps_;
  const bool loop_;
  std::vector<fs::path> files_;     // Set by Open(), read by the capture thread.
  std::vector<bool> undecodable_;  // Capture thread only (after Open()).
};

}  // namespace

std::unique_ptr<FrameSource> MakeImageFolderSource(const SourceOptions& options) {
  return std::make_unique<ImageFolderSource>(options);
}

}  // namespace lookout::capture::internal
