// Frame sources on real data: image folders built from ../shared/images,
// a video written with cv::VideoWriter, and the error paths.
#include "support/catch_compat.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>


#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "lookout/capture/frame_source.h"
#include "support/temp_dir.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using lookout::testing::Contains;
using lookout::testing::TempDir;
using lookout::capture::CreateFrameSource;
using lookout::capture::FramePtr;
using lookout::capture::FrameSource;
using lookout::capture::SourceOptions;
using lookout::capture::SourceType;
using Clock = std::chrono::steady_clock;

// Records what a source delivers; callbacks run on the source's thread.
class Collector {
 public:
  FrameSource::FrameCallback OnFrame() {
    return [this](FramePtr frame) {
      std::lock_guard lock(mutex_);
      frames_.push_back(std::move(frame));
      arrival_.push_back(Clock::now());
      changed_.notify_all();
    };
  }
  FrameSource::EndCallback OnEnd() {
    return [this](const std::string& reason) {
      std::lock_guard lock(mutex_);
      end_reasons_.push_back(reason);
      changed_.notify_all();
    };
  }
  bool WaitForEnd(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return !end_reasons_.empty(); });
  }
  bool WaitForFrames(size_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return frames_.size() >= count; });
  }
  std::vector<FramePtr> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::vector<Clock::time_point> arrivals() const {
    std::lock_guard lock(mutex_);
    return arrival_;
  }
  std::vector<std::string> end_reasons() const {
    std::lock_guard lock(mutex_);
    return end_reasons_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<FramePtr> frames_;
  std::vector<Clock::time_point> arrival_;
  std::vector<std::string> end_reasons_;
};

fs::path BundledImages() { return lookout::testing::SourceDir() / "tests/data/images"; }

void WriteRandomBytes(const fs::path& path, size_t size) {
  std::mt19937 rng(1234);
  std::ofstream out(path, std::ios::binary);
  for (size_t i = 0; i < size; ++i) out.put(static_cast<char>(rng() & 0xff));
}

// a.png, b.bmp, bad.jpg (random bytes), c.JPG, notes.txt: three decodable
// images, in name order a, b, c (the bundled photos; b.bmp is coffee.png
// written losslessly as BMP).
struct ImageFolder {
  TempDir dir;
  TempDir originals;
  std::vector<std::pair<std::string, fs::path>> good;  // name in folder, original
  ImageFolder() {
    const fs::path bmp = originals.path() / "coffee.bmp";
    REQUIRE(cv::imwrite(bmp.string(), cv::imread((BundledImages() / "coffee.png").string(), cv::IMREAD_COLOR)));
    good = {{"a.png", BundledImages() / "chelsea.png"},
            {"b.bmp", bmp},
            {"c.JPG", BundledImages() / "hot_dog.jpg"}};
    for (const auto& [name, original] : good) fs::copy_file(original, dir.path() / name);
    WriteRandomBytes(dir.path() / "bad.jpg", 4096);
    std::ofstream(dir.path() / "notes.txt") << "not an image\n";
  }
};

SourceOptions Images(const fs::path& folder, double fps, bool loop = false) {
  SourceOptions options;
  options.type = SourceType::kImages;
  options.device = folder.string();
  options.fps = fps;
  options.loop = loop;
  return options;
}

bool SameImage(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("image folder: frames in name order, corrupt file skipped, end once",
          "[capture][images]") {
  ImageFolder folder;
  Collector got;
  auto source = CreateFrameSource(Images(folder.dir.path(), 50.0));
  CHECK_THAT(source->Describe(), Contains("images:" + folder.dir.path().string()) &&
                                     Contains("4 files") && Contains("50 fps") &&
                                     Contains("once"));
  const Clock::time_point start = Clock::now();
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForEnd());
  const auto elapsed = Clock::now() - start;
  source->Stop();

  const std::vector<FramePtr> frames = got.frames();
  REQUIRE(frames.size() == 3);
  for (size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    CHECK(frames[i]->sequence == i);
    CHECK(frames[i]->origin == folder.good[i].first);
    CHECK(frames[i]->image.type() == CV_8UC3);
    // The independent definition of the expected pixels: OpenCV's decoder.
    CHECK(SameImage(frames[i]->image, cv::imread(folder.good[i].second.string(), cv::IMREAD_COLOR)));
    if (i > 0) CHECK(frames[i]->captured >= frames[i - 1]->captured);
  }
  CHECK(got.end_reasons() == std::vector<std::string>{""});
  // 50 fps: frames at 0, 20 and 40 ms. Only a loose lower bound, CI is noisy.
  CHECK(elapsed >= 30ms);
  CHECK(elapsed < 5s);
  const auto wall_skew = frames[0]->wall_time - std::chrono::system_clock::now();
  CHECK(std::chrono::abs(wall_skew) < 60s);
}

TEST_CASE("image folder: loop mode keeps going until Stop()", "[capture][images]") {
  ImageFolder folder;
  Collector got;
  auto source = CreateFrameSource(Images(folder.dir.path(), 200.0, /*loop=*/true));
  CHECK_THAT(source->Describe(), Contains("loop"));
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForFrames(8));
  const Clock::time_point stop_start = Clock::now();
  source->Stop();
  CHECK(Clock::now() - stop_start < 1s);
  const size_t count = got.frames().size();
  std::this_thread::sleep_for(50ms);
  CHECK(got.frames().size() == count);  // Nothing after Stop() returned.
  CHECK(got.end_reasons().empty());     // Stop() is not an end.

  const std::vector<FramePtr> frames = got.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    CHECK(frames[i]->sequence == i);
    CHECK(frames[i]->origin == folder.good[i % 3].first);
  }
  source->Stop();  // Idempotent.
}

TEST_CASE("image folder: Stop() interrupts a long pacing wait", "[capture][images]") {
  ImageFolder folder;
  Collector got;
  auto source = CreateFrameSource(Images(folder.dir.path(), 0.2));  // One frame per 5 s.
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForFrames(1));
  const Clock::time_point stop_start = Clock::now();
  source->Stop();
  CHECK(Clock::now() - stop_start < 500ms);
  CHECK(got.frames().size() == 1);
}

TEST_CASE("image folder: a second Start() after Stop() begins again at 0",
          "[capture][images]") {
  ImageFolder folder;
  auto source = CreateFrameSource(Images(folder.dir.path(), 500.0));
  Collector first, second;
  source->Start(first.OnFrame(), first.OnEnd());
  REQUIRE(first.WaitForEnd());
  source->Stop();
  source->Start(second.OnFrame(), second.OnEnd());
  CHECK_THROWS_AS(source->Start(second.OnFrame(), second.OnEnd()), std::logic_error);
  REQUIRE(second.WaitForEnd());
  source->Stop();
  REQUIRE(second.frames().size() == 3);
  CHECK(second.frames()[0]->sequence == 0);
  CHECK(second.frames()[0]->origin == "a.png");
  CHECK(first.frames().size() == 3);
}

TEST_CASE("image folder: Stop() from inside the frame callback", "[capture][images]") {
  ImageFolder folder;
  auto source = CreateFrameSource(Images(folder.dir.path(), 1000.0, /*loop=*/true));
  std::atomic<int> frames{0};
  source->Start([&](FramePtr) {
    if (++frames == 2) source->Stop();
  }, [](const std::string&) {});
  const Clock::time_point deadline = Clock::now() + 5s;
  while (frames < 2 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  CHECK(frames == 2);
  source->Stop();  // Joins the thread the callback stopped.
}

TEST_CASE("image folder: nothing decodable ends the source with a reason",
          "[capture][images]") {
  TempDir dir;
  WriteRandomBytes(dir.path() / "bad.jpg", 2048);
  WriteRandomBytes(dir.path() / "worse.PNG", 100);
  Collector got;
  auto source = CreateFrameSource(Images(dir.path(), 100.0, /*loop=*/true));
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForEnd());
  source->Stop();
  CHECK(got.frames().empty());
  REQUIRE(got.end_reasons().size() == 1);
  CHECK_THAT(got.end_reasons()[0], Contains("could be decoded") && Contains(dir.path().string()));
}

TEST_CASE("image folder: missing or empty folder fails to start", "[capture][images]") {
  TempDir dir;
  Collector got;
  const fs::path missing = dir.path() / "no_such_folder";
  auto source = CreateFrameSource(Images(missing, 10.0));
  CHECK_THROWS_AS(source->Start(got.OnFrame(), got.OnEnd()), std::runtime_error);
  CHECK_THROWS_WITH(source->Start(got.OnFrame(), got.OnEnd()),
                    Contains(missing.string()) && Contains("does not exist"));

  std::ofstream(dir.path() / "readme.txt") << "no images here\n";
  auto empty = CreateFrameSource(Images(dir.path(), 10.0));
  CHECK_THROWS_WITH(empty->Start(got.OnFrame(), got.OnEnd()),
                    Contains(dir.path().string()) && Contains("no image files"));

  auto file = CreateFrameSource(Images(dir.path() / "readme.txt", 10.0));
  CHECK_THROWS_WITH(file->Start(got.OnFrame(), got.OnEnd()), Contains("not a folder"));
  CHECK(got.frames().empty());
  CHECK(got.end_reasons().empty());
}

namespace {

// Writes `count` 64x48 MJPG frames; frame i is a uniform grey of 20*i + 10.
fs::path WriteVideo(const fs::path& dir, int count) {
  const fs::path path = dir / "clip.avi";
  cv::VideoWriter writer(path.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25.0,
                         cv::Size(64, 48));
  REQUIRE(writer.isOpened());
  for (int i = 0; i < count; ++i) {
    writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar::all(20 * i + 10)));
  }
  writer.release();
  return path;
}

SourceOptions Video(const fs::path& file, double fps = 0.0, bool loop = false) {
  SourceOptions options;
  options.type = SourceType::kVideo;
  options.device = file.string();
  options.fps = fps;
  options.loop = loop;
  return options;
}

}  // namespace

TEST_CASE("video file: every frame in order, then the end", "[capture][video]") {
  TempDir dir;
  constexpr int kFrames = 12;
  const fs::path file = WriteVideo(dir.path(), kFrames);
  Collector got;
  auto source = CreateFrameSource(Video(file));
  CHECK_THAT(source->Describe(), Contains("video:" + file.string()) && Contains("once"));
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForEnd());
  source->Stop();
  const std::vector<FramePtr> frames = got.frames();
  REQUIRE(frames.size() == kFrames);
  for (int i = 0; i < kFrames; ++i) {
    INFO("frame " << i);
    CHECK(frames[i]->sequence == static_cast<uint64_t>(i));
    CHECK(frames[i]->image.size() == cv::Size(64, 48));
    CHECK(frames[i]->image.type() == CV_8UC3);
    CHECK(frames[i]->origin == file.string());
    // MJPG is lossy; a flat grey survives within a few levels.
    CHECK(cv::mean(frames[i]->image)[0] == Approx(20 * i + 10).margin(4));
  }
  CHECK(got.end_reasons() == std::vector<std::string>{""});
}

TEST_CASE("video file: pacing and looping", "[capture][video]") {
  TempDir dir;
  const fs::path file = WriteVideo(dir.path(), 5);

  SECTION("paced at 100 fps") {
    Collector got;
    auto source = CreateFrameSource(Video(file, 100.0));
    const Clock::time_point start = Clock::now();
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForEnd());
    const auto elapsed = Clock::now() - start;
    source->Stop();
    CHECK(got.frames().size() == 5);
    CHECK(elapsed >= 30ms);  // Four 10 ms periods; loose bound.
  }
  SECTION("looping restarts at the first frame") {
    Collector got;
    auto source = CreateFrameSource(Video(file, 0.0, /*loop=*/true));
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForFrames(12));
    source->Stop();
    const std::vector<FramePtr> frames = got.frames();
    CHECK(got.end_reasons().empty());
    for (size_t i = 0; i < 12; ++i) {
      CHECK(frames[i]->sequence == i);
      CHECK(cv::mean(frames[i]->image)[0] == Approx(20 * (i % 5) + 10).margin(4));
    }
  }
}

TEST_CASE("live sources reconnect with backoff after a read failure", "[capture][video]") {
  // FFmpeg opens local files as readily as RTSP URLs, so an "rtsp" source on
  // a short clip exercises the live path for real: EOF reads as a lost
  // stream, which is released and reopened after the 0.5 s backoff.
  TempDir dir;
  const fs::path file = WriteVideo(dir.path(), 5);
  SourceOptions options;
  options.type = SourceType::kRtsp;
  options.device = file.string();

  SECTION("the stream comes back and the sequence continues") {
    Collector got;
    auto source = CreateFrameSource(options);
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForFrames(7));
    source->Stop();
    const std::vector<FramePtr> frames = got.frames();
    const std::vector<Clock::time_point> arrivals = got.arrivals();
    for (size_t i = 0; i < frames.size(); ++i) CHECK(frames[i]->sequence == i);
    CHECK(cv::mean(frames[5]->image)[0] == Approx(10).margin(4));  // First frame again.
    CHECK(arrivals[5] - arrivals[4] >= 400ms);
    CHECK(got.end_reasons().empty());  // Live sources do not end on errors.
  }
  SECTION("Stop() interrupts the backoff wait") {
    Collector got;
    auto source = CreateFrameSource(options);
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForFrames(5));
    fs::remove(file);  // Reopening now fails: the source keeps backing off.
    std::this_thread::sleep_for(200ms);
    const Clock::time_point stop_start = Clock::now();
    source->Stop();
    CHECK(Clock::now() - stop_start < 300ms);
    CHECK(got.frames().size() == 5);
    CHECK(got.end_reasons().empty());
  }
}

TEST_CASE("video and device sources that cannot open fail to start", "[capture][video]") {
  TempDir dir;
  Collector got;
  const fs::path missing = dir.path() / "missing.avi";
  CHECK_THROWS_WITH(CreateFrameSource(Video(missing))->Start(got.OnFrame(), got.OnEnd()),
                    Contains(missing.string()));

  const fs::path garbage = dir.path() / "garbage.avi";
  WriteRandomBytes(garbage, 4096);
  CHECK_THROWS_WITH(CreateFrameSource(Video(garbage))->Start(got.OnFrame(), got.OnEnd()),
                    Contains(garbage.string()));

  SourceOptions v4l2;
  v4l2.type = SourceType::kV4l2;
  v4l2.device = "/dev/video-lookout-test-missing";
  CHECK_THROWS_WITH(CreateFrameSource(v4l2)->Start(got.OnFrame(), got.OnEnd()),
                    Contains("v4l2") && Contains(v4l2.device));
  CHECK(got.frames().empty());
  CHECK(got.end_reasons().empty());
}

TEST_CASE("CreateFrameSource checks its options", "[capture]") {
  SourceOptions options;
  options.type = SourceType::kImages;
  CHECK_THROWS_AS(CreateFrameSource(options), std::invalid_argument);  // No folder.
  options.device = "/tmp";
  options.fps = -1.0;
  CHECK_THROWS_AS(CreateFrameSource(options), std::invalid_argument);
  options.fps = 0.0;
  options.width = 640;  // Height missing.
  CHECK_THROWS_AS(CreateFrameSource(options), std::invalid_argument);
  options.width = 0;
  CHECK_NOTHROW(CreateFrameSource(options));

  SourceOptions rtsp;
  rtsp.type = SourceType::kRtsp;
  rtsp.device = "rtsp://viewer:s3cret@192.0.2.1:554/stream1";
  const std::string description = CreateFrameSource(rtsp)->Describe();
  CHECK_THAT(description, Contains("rtsp://viewer:***@192.0.2.1:554/stream1"));
  CHECK_THAT(description, !Contains("s3cret"));

  CHECK(std::string(SourceTypeName(SourceType::kLibcamera)) == "libcamera");
  CHECK(std::string(SourceTypeName(SourceType::kV4l2)) == "v4l2");
  CHECK(std::string(SourceTypeName(SourceType::kVideo)) == "video");
  CHECK(std::string(SourceTypeName(SourceType::kRtsp)) == "rtsp");
  CHECK(std::string(SourceTypeName(SourceType::kImages)) == "images");
}

TEST_CASE("libcamera: no camera here is an error, not a crash", "[capture][libcamera]") {
  SourceOptions options;
  options.type = SourceType::kLibcamera;
  if (!lookout::capture::HaveLibcamera()) {
    CHECK_THROWS_WITH(CreateFrameSource(options), Contains("libcamera"));
    return;
  }
  auto source = CreateFrameSource(options);
  CHECK_THAT(source->Describe(), Contains("libcamera"));
  Collector got;
  CHECK_THROWS_WITH(source->Start(got.OnFrame(), got.OnEnd()), Contains("no camera"));
  source->Stop();
  // The camera manager is a process singleton: a second attempt must work too.
  CHECK_THROWS_WITH(source->Start(got.OnFrame(), got.OnEnd()), Contains("no camera"));
  CHECK(got.frames().empty());
}
