// Frame sources on real data: image folders built from the bundled photos,
// a video written with cv::VideoWriter, and the error paths. Pacing and
// reconnect backoff are checked through a TestClock: the waits a source asks
// for, not how long anything took.
#include "support/catch_compat.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "capture/source_testing.h"
#include "lookout/capture/frame_source.h"
#include "support/temp_dir.h"
#include "support/test_support.h"
#include "support/wait.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using lookout::capture::CreateFrameSource;
using lookout::capture::FramePtr;
using lookout::capture::FrameSource;
using lookout::capture::SourceClock;
using lookout::capture::SourceOptions;
using lookout::capture::SourceType;
using lookout::testing::Collector;
using lookout::testing::Contains;
using lookout::testing::kEventDeadline;
using lookout::testing::RequireReturns;
using lookout::testing::Images;
using lookout::testing::TempDir;
using lookout::testing::TestClock;
using lookout::testing::Video;
using lookout::testing::WaitUntil;
using lookout::testing::WriteRandomBytes;
using lookout::testing::WriteVideo;
using Duration = SourceClock::TimePoint::duration;
using Kind = lookout::capture::SourceEvent::Kind;

fs::path BundledImages() { return lookout::testing::SourceDir() / "tests/data/images"; }

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

bool SameImage(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("image folder: frames in name order, corrupt file skipped, end once",
          "[capture][images]") {
  ImageFolder folder;
  Collector got;
  auto clock = std::make_shared<TestClock>(TestClock::kJumps);
  auto source = CreateFrameSource(Images(folder.dir.path(), 50.0, /*loop=*/false, clock));
  CHECK_THAT(source->Describe(), Contains("images:" + folder.dir.path().string()) &&
                                     Contains("4 files") && Contains("50 fps") &&
                                     Contains("once"));
  const auto steady_before = std::chrono::steady_clock::now();
  const auto wall_before = std::chrono::system_clock::now();
  got.Start(*source);
  REQUIRE(got.WaitForEnd());
  const auto steady_after = std::chrono::steady_clock::now();
  const auto wall_after = std::chrono::system_clock::now();
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
    // Stamped by the real clocks while the source ran.
    CHECK(frames[i]->captured >= steady_before);
    CHECK(frames[i]->captured <= steady_after);
    CHECK(frames[i]->wall_time >= wall_before);
    CHECK(frames[i]->wall_time <= wall_after);
  }
  CHECK(got.end_reasons() == std::vector<std::string>{""});
  // The corrupt file, reported once, as it was met (after a.png and b.bmp).
  CHECK(got.log() == std::vector<std::string>{"frame", "frame", "bad_frame", "frame", "end"});
  const auto bad = got.events(Kind::kBadFrame);
  REQUIRE(bad.size() == 1);
  CHECK_THAT(bad[0].message, Contains((folder.dir.path() / "bad.jpg").string()) &&
                                 Contains("cannot decode"));
  // 50 fps: one frame per 1/50 s = 20 ms, the first at once; the undecodable
  // file costs no slot. Frames are due at 0, 20 and 40 ms.
  CHECK(clock->deadlines() == std::vector<Duration>{0ms, 20ms, 40ms});
}

TEST_CASE("image folder: loop mode keeps going until Stop()", "[capture][images]") {
  ImageFolder folder;
  Collector got;
  auto source = CreateFrameSource(Images(folder.dir.path(), 200.0, /*loop=*/true));
  CHECK_THAT(source->Describe(), Contains("loop"));
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForFrames(8));
  RequireReturns("Stop()", [&] { source->Stop(); });
  const size_t count = got.frames().size();
  source->Stop();  // Idempotent.
  // Destroying the source joins any capture thread left, so the count is
  // final: nothing arrived after Stop() returned.
  source.reset();
  CHECK(got.frames().size() == count);
  CHECK(got.end_reasons().empty());  // Stop() is not an end.

  const std::vector<FramePtr> frames = got.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    CHECK(frames[i]->sequence == i);
    CHECK(frames[i]->origin == folder.good[i % 3].first);
  }
}

TEST_CASE("image folder: Stop() interrupts a long pacing wait", "[capture][images]") {
  ImageFolder folder;
  Collector got;
  // The real clock, one frame an hour: Stop() can come back within the
  // deadline only by ending the wait for the second frame.
  auto clock = std::make_shared<TestClock>(TestClock::kReal);
  auto source = CreateFrameSource(Images(folder.dir.path(), 1.0 / 3600, /*loop=*/false, clock));
  source->Start(got.OnFrame(), got.OnEnd());
  REQUIRE(got.WaitForFrames(1));
  REQUIRE(clock->WaitForWaits(2));
  const std::vector<TestClock::Wait> waits = clock->waits();
  CHECK(waits[1].until - waits[0].until == 3600s);  // The second frame, an hour after the first.
  RequireReturns("Stop()", [&] { source->Stop(); });
  CHECK(got.frames().size() == 1);
  CHECK(got.end_reasons().empty());
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
  REQUIRE(WaitUntil([&] { return frames >= 2; }));
  source->Stop();  // Joins the thread the callback stopped: no callback runs after it.
  CHECK(frames == 2);
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

TEST_CASE("video file: every frame in order, then the end", "[capture][video]") {
  TempDir dir;
  constexpr int kFrames = 12;
  const fs::path file = WriteVideo(dir.path() / "clip.avi", kFrames);
  Collector got;
  // fps 0: the file's own rate (25 fps), on a clock that jumps to each frame.
  auto clock = std::make_shared<TestClock>(TestClock::kJumps);
  auto source = CreateFrameSource(Video(file, 0.0, /*loop=*/false, clock));
  CHECK_THAT(source->Describe(), Contains("video:" + file.string()) && Contains("native rate") &&
                                     Contains("once"));
  got.Start(*source);
  CHECK_THAT(source->Describe(), Contains("native 25 fps paced"));
  REQUIRE(got.WaitForEnd());
  source->Stop();
  std::vector<Duration> due;
  for (int i = 0; i < kFrames; ++i) due.push_back(i * 40ms);
  CHECK(clock->deadlines() == due);
  CHECK(got.events().empty());  // The whole file: no trouble to report.
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
  const fs::path file = WriteVideo(dir.path() / "clip.avi", 5);

  SECTION("paced at 100 fps") {
    Collector got;
    auto clock = std::make_shared<TestClock>(TestClock::kJumps);
    auto source = CreateFrameSource(Video(file, 100.0, /*loop=*/false, clock));
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().size() == 5);
    // 100 fps: one frame per 10 ms, the first at once.
    CHECK(clock->deadlines() == std::vector<Duration>{0ms, 10ms, 20ms, 30ms, 40ms});
  }
  SECTION("looping restarts at the first frame") {
    Collector got;
    auto clock = std::make_shared<TestClock>(TestClock::kJumps);
    auto source = CreateFrameSource(Video(file, 0.0, /*loop=*/true, clock));
    got.Start(*source);
    REQUIRE(got.WaitForFrames(12));
    source->Stop();
    const std::vector<FramePtr> frames = got.frames();
    CHECK(got.end_reasons().empty());
    CHECK(got.events().empty());
    for (size_t i = 0; i < 12; ++i) {
      CHECK(frames[i]->sequence == i);
      CHECK(cv::mean(frames[i]->image)[0] == Approx(20 * (i % 5) + 10).margin(4));
    }
  }
}

TEST_CASE("live sources reconnect with backoff after a read failure", "[capture][video]") {
  // FFmpeg opens local files as readily as RTSP URLs, so an "rtsp" source on
  // a short clip exercises the live path for real: EOF reads as a lost
  // stream, which is released and reopened after the backoff (0.5 s, doubling
  // to 30 s while reopening fails). The clock stands still: the source waits
  // until the test moves it on.
  TempDir dir;
  const fs::path file = WriteVideo(dir.path() / "clip.avi", 5);
  auto clock = std::make_shared<TestClock>(TestClock::kStill);
  SourceOptions options;
  options.type = SourceType::kRtsp;
  options.device = file.string();
  options.clock = clock;
  Collector got;
  auto source = CreateFrameSource(options);
  got.Start(*source);
  REQUIRE(got.WaitForFrames(5));
  // The sixth read meets the end of the clip: the source waits to reconnect.
  REQUIRE(clock->WaitForWaits(1));
  CHECK(clock->waits()[0].length() == 500ms);
  CHECK(got.frames().size() == 5);  // Nothing while the clock stands still.
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 1));
  CHECK(got.events()[0].retry_in == 500ms);
  CHECK_THAT(got.events()[0].message, Contains("rtsp:" + file.string()) && Contains("read failed"));

  SECTION("the stream comes back and the sequence continues") {
    clock->AdvanceTo(clock->waits()[0].until);
    REQUIRE(got.WaitForFrames(10));
    // The end of the clip again, after good frames: the backoff starts over.
    REQUIRE(clock->WaitForWaits(2));
    CHECK(clock->waits()[1].length() == 500ms);
    RequireReturns("Stop()", [&] { source->Stop(); });
    const std::vector<FramePtr> frames = got.frames();
    REQUIRE(frames.size() == 10);
    for (size_t i = 0; i < frames.size(); ++i) CHECK(frames[i]->sequence == i);
    CHECK(cv::mean(frames[5]->image)[0] == Approx(10).margin(4));  // First frame again.
    CHECK(got.end_reasons().empty());  // Live sources do not end on errors.
    // Each loss is announced, and the first frame after it is preceded by kRecovered.
    const std::vector<std::string> log = got.log();
    REQUIRE(log.size() >= 13);
    CHECK(std::vector<std::string>(log.begin() + 5, log.begin() + 8) ==
          std::vector<std::string>{"reconnecting", "recovered", "frame"});
    CHECK(log[12] == "reconnecting");
  }
  SECTION("the backoff doubles while reopening fails, and Stop() interrupts it") {
    fs::remove(file);  // Reopening now fails: the source keeps backing off.
    for (size_t waits = 1; waits < 8; ++waits) {
      clock->AdvanceTo(clock->waits().back().until);
      REQUIRE(clock->WaitForWaits(waits + 1));
    }
    CHECK(clock->lengths() == std::vector<Duration>{500ms, 1s, 2s, 4s, 8s, 16s, 30s, 30s});
    REQUIRE(got.WaitForEvents(Kind::kReconnecting, 8));
    std::vector<std::chrono::milliseconds> retries;
    for (const auto& event : got.events(Kind::kReconnecting)) retries.push_back(event.retry_in);
    CHECK(retries == std::vector<std::chrono::milliseconds>{500ms, 1s, 2s, 4s, 8s, 16s, 30s, 30s});
    CHECK_THAT(got.events().back().message, Contains("cannot open the stream"));
    // The clock alone would never end this wait.
    RequireReturns("Stop()", [&] { source->Stop(); });
    CHECK(got.frames().size() == 5);
    CHECK(got.end_reasons().empty());
    CHECK(got.events(Kind::kRecovered).empty());
  }
}

TEST_CASE("video files that cannot open fail to start", "[capture][video]") {
  TempDir dir;
  Collector got;
  const fs::path missing = dir.path() / "missing.avi";
  CHECK_THROWS_WITH(CreateFrameSource(Video(missing))->Start(got.OnFrame(), got.OnEnd()),
                    Contains(missing.string()));

  const fs::path garbage = dir.path() / "garbage.avi";
  WriteRandomBytes(garbage, 4096);
  CHECK_THROWS_WITH(CreateFrameSource(Video(garbage))->Start(got.OnFrame(), got.OnEnd()),
                    Contains(garbage.string()));
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

TEST_CASE("libcamera: no camera here is retried, not a crash, and a source starts again",
          "[capture][libcamera]") {
  SourceOptions options;
  options.type = SourceType::kLibcamera;
  if (!lookout::capture::HaveLibcamera()) {
    CHECK_THROWS_WITH(CreateFrameSource(options), Contains("libcamera"));
    return;
  }
  auto source = CreateFrameSource(options);
  CHECK_THAT(source->Describe(), Contains("libcamera:first camera"));
  // The camera manager is a process singleton: the second run must be able
  // to create it again.
  for (int run = 1; run <= 2; ++run) {
    INFO("run " << run);
    Collector got;
    REQUIRE_NOTHROW(got.Start(*source));
    REQUIRE(got.WaitForEvents(lookout::capture::SourceEvent::Kind::kReconnecting, 1));
    CHECK_THAT(got.events()[0].message, Contains("libcamera:first camera: no camera found"));
    source->Stop();
    CHECK(got.frames().empty());
    CHECK(got.end_reasons().empty());
  }
}
