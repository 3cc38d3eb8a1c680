// What sources report besides frames (SourceEvent): files that cannot be
// used, truncated videos, lost cameras and streams, and the recovery from
// them; and max_frame_pixels. Backoff and pacing run on a TestClock: the
// tests check the waits a source asks for, never how long anything took.
#include "support/catch_compat.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

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
using lookout::capture::SourceEvent;
using lookout::capture::SourceEventKindName;
using lookout::capture::SourceOptions;
using lookout::capture::SourceType;
using lookout::testing::Collector;
using lookout::testing::Contains;
using lookout::testing::Images;
using lookout::testing::RequireReturns;
using lookout::testing::TempDir;
using lookout::testing::TestClock;
using lookout::testing::Video;
using lookout::testing::WriteRandomBytes;
using lookout::testing::WriteVideo;
using Kind = SourceEvent::Kind;
using Duration = TestClock::Duration;

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A copy of `file` cut to `size` bytes.
fs::path TruncatedCopy(const fs::path& file, const fs::path& copy, uintmax_t size) {
  fs::copy_file(file, copy);
  fs::resize_file(copy, size);
  return copy;
}

// The retry_in of each kReconnecting event.
std::vector<std::chrono::milliseconds> Retries(const Collector& got) {
  std::vector<std::chrono::milliseconds> out;
  for (const SourceEvent& event : got.events(Kind::kReconnecting)) out.push_back(event.retry_in);
  return out;
}

// A TCP port on 127.0.0.1 that refuses connections: bound, then closed
// without listening.
int ClosedTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(addr);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0;
  ::close(fd);
  REQUIRE(bound);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("SourceEventKindName names every kind", "[capture]") {
  CHECK(std::string(SourceEventKindName(Kind::kBadFrame)) == "bad_frame");
  CHECK(std::string(SourceEventKindName(Kind::kError)) == "error");
  CHECK(std::string(SourceEventKindName(Kind::kReconnecting)) == "reconnecting");
  CHECK(std::string(SourceEventKindName(Kind::kRecovered)) == "recovered");
}

TEST_CASE("video file: a truncated file is an error, the whole file a normal end",
          "[capture][video]") {
  TempDir dir;
  // Noisy frames, so that frames rather than the AVI headers fill the file.
  const fs::path whole = WriteVideo(dir.path() / "whole.avi", 100, /*noisy=*/true);
  auto clock = std::make_shared<TestClock>(TestClock::kJumps);

  SECTION("the whole file") {
    Collector got;
    auto source = CreateFrameSource(Video(whole, 0.0, /*loop=*/false, clock));
    got.Start(*source);
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().size() == 100);
    CHECK(got.events().empty());
    CHECK(got.end_reasons() == std::vector<std::string>{""});
  }
  SECTION("cut to half its size") {
    const fs::path half =
        TruncatedCopy(whole, dir.path() / "half.avi", fs::file_size(whole) / 2);
    Collector got;
    auto source = CreateFrameSource(Video(half, 0.0, /*loop=*/false, clock));
    got.Start(*source);
    REQUIRE(got.WaitForEnd());
    source->Stop();
    const size_t frames = got.frames().size();
    CHECK(frames > 10);
    CHECK(frames < 90);
    CHECK(got.log().back() == "end");
    const auto errors = got.events(Kind::kError);
    REQUIRE(errors.size() == 1);
    CHECK(got.events().size() == 1);
    const std::string counts = "after " + std::to_string(frames) + " of 100 frames";
    CHECK_THAT(errors[0].message, Contains(half.string()) && Contains(counts));
    REQUIRE(got.end_reasons().size() == 1);
    CHECK(got.end_reasons()[0] == errors[0].message);
  }
  SECTION("cut right after the start of its frame list: no frame at all") {
    const std::string bytes = ReadBytes(whole);
    const size_t movi = bytes.find("movi");
    REQUIRE(movi != std::string::npos);
    const fs::path empty = TruncatedCopy(whole, dir.path() / "empty.avi", movi + 12);
    Collector got;
    auto source = CreateFrameSource(Video(empty, 0.0, /*loop=*/false, clock));
    got.Start(*source);  // The container opens; its first read fails.
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().empty());
    REQUIRE(got.events(Kind::kError).size() == 1);
    CHECK_THAT(got.events()[0].message,
               Contains(empty.string()) && Contains("cannot read a frame"));
    CHECK(got.end_reasons() == std::vector<std::string>{got.events()[0].message});
  }
}

TEST_CASE("video file: a looping truncated file reports every short pass and goes on",
          "[capture][video]") {
  TempDir dir;
  const fs::path whole = WriteVideo(dir.path() / "whole.avi", 100, /*noisy=*/true);
  const fs::path half = TruncatedCopy(whole, dir.path() / "half.avi", fs::file_size(whole) / 2);
  auto clock = std::make_shared<TestClock>(TestClock::kJumps);
  Collector got;
  auto source = CreateFrameSource(Video(half, 0.0, /*loop=*/true, clock));
  got.Start(*source);
  REQUIRE(got.WaitForEvents(Kind::kError, 2));
  REQUIRE(got.WaitForEvents(Kind::kRecovered, 2));
  source->Stop();
  CHECK(got.end_reasons().empty());
  // Each pass: its frames, kError at its short end, kRecovered with the next
  // pass's first frame.
  const std::vector<std::string> log = got.log();
  size_t pass_length = 0;
  while (log[pass_length] == "frame") ++pass_length;
  REQUIRE(pass_length > 10);
  REQUIRE(log.size() >= 2 * pass_length + 4);
  CHECK(log[pass_length] == "error");
  CHECK(log[pass_length + 1] == "recovered");
  CHECK(log[2 * pass_length + 2] == "error");
  CHECK(log[2 * pass_length + 3] == "recovered");
}

TEST_CASE("video file: fps 0 on a file without a usable rate plays unpaced", "[capture][video]") {
  TempDir dir;
  const fs::path file = WriteVideo(dir.path() / "clip.avi", 5);
  // The stream header's rate (strh dwRate, after fccType, fccHandler, flags,
  // priority, language, initial frames and scale) claims 100000 fps.
  std::string bytes = ReadBytes(file);
  const size_t strh = bytes.find("strh");
  REQUIRE(strh != std::string::npos);
  const uint32_t rate = 100000;  // Little-endian, like the AVI (and this machine).
  std::memcpy(&bytes[strh + 8 + 24], &rate, sizeof(rate));
  const fs::path absurd = dir.path() / "absurd.avi";
  WriteBytes(absurd, bytes);

  auto clock = std::make_shared<TestClock>(TestClock::kJumps);
  Collector got;
  auto source = CreateFrameSource(Video(absurd, 0.0, /*loop=*/false, clock));
  got.Start(*source);
  CHECK_THAT(source->Describe(), Contains("unpaced: no native rate"));
  REQUIRE(got.WaitForEnd());
  source->Stop();
  CHECK(got.frames().size() == 5);
  CHECK(clock->waits().empty());
  CHECK(got.end_reasons() == std::vector<std::string>{""});

  // An explicit rate still paces it.
  auto paced_clock = std::make_shared<TestClock>(TestClock::kJumps);
  Collector paced;
  auto paced_source = CreateFrameSource(Video(absurd, 50.0, /*loop=*/false, paced_clock));
  CHECK_THAT(paced_source->Describe(), Contains("50 fps paced"));
  paced.Start(*paced_source);
  REQUIRE(paced.WaitForEnd());
  paced_source->Stop();
  CHECK(paced_clock->deadlines() == std::vector<Duration>{0ms, 20ms, 40ms, 60ms, 80ms});
}

TEST_CASE("video file: frames over max_frame_pixels are dropped", "[capture][video]") {
  TempDir dir;
  const fs::path file = WriteVideo(dir.path() / "clip.avi", 5);  // 64x48 = 3072 pixels.
  SourceOptions options = Video(file, 0.0, /*loop=*/false,
                                std::make_shared<TestClock>(TestClock::kJumps));

  SECTION("a limit the frames are within") {
    options.max_frame_pixels = 3072;
    Collector got;
    auto source = CreateFrameSource(options);
    got.Start(*source);
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().size() == 5);
    CHECK(got.events().empty());
  }
  SECTION("a limit below their size") {
    options.max_frame_pixels = 3071;
    Collector got;
    auto source = CreateFrameSource(options);
    got.Start(*source);
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().empty());
    const auto bad = got.events(Kind::kBadFrame);
    REQUIRE(bad.size() == 5);
    CHECK_THAT(bad[0].message, Contains(file.string()) &&
                                   Contains("64x48 = 3072 pixels exceeds max_frame_pixels 3071"));
    REQUIRE(got.end_reasons().size() == 1);
    CHECK_THAT(got.end_reasons()[0], Contains(file.string()) && Contains("max_frame_pixels"));
  }
}

TEST_CASE("video file: a looping file that disappears is retried until it is back",
          "[capture][video]") {
  TempDir dir;
  const fs::path file = WriteVideo(dir.path() / "clip.avi", 5);
  const fs::path kept = dir.path() / "kept.avi";
  fs::copy_file(file, kept);
  // The clock stands still: each frame (25 fps) and each retry waits until
  // the test moves it on.
  auto clock = std::make_shared<TestClock>(TestClock::kStill);
  Collector got;
  auto source = CreateFrameSource(Video(file, 0.0, /*loop=*/true, clock));
  got.Start(*source);
  REQUIRE(got.WaitForFrames(1));
  // The open file plays to its end; reopening it for the next pass fails.
  fs::remove(file);
  // Let each frame's wait (40 ms) end, up to the first retry's (500 ms).
  size_t retry = 0;
  while (true) {
    REQUIRE(clock->WaitForWaits(retry + 1));
    const TestClock::Wait wait = clock->waits()[retry];
    if (wait.length() >= 500ms) break;
    clock->AdvanceTo(wait.until);
    ++retry;
  }
  CHECK(clock->waits()[retry].length() == 500ms);
  CHECK(got.frames().size() == 5);
  REQUIRE(got.events().size() == 1);
  const SourceEvent lost = got.events()[0];
  CHECK(lost.kind == Kind::kReconnecting);
  CHECK(lost.retry_in == 500ms);
  CHECK_THAT(lost.message, Contains(file.string()) && Contains("no such file"));

  // Still gone at the first retry: the delay doubles.
  clock->AdvanceTo(clock->waits()[retry].until);
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 2));
  REQUIRE(clock->WaitForWaits(retry + 2));
  CHECK(Retries(got) == std::vector<std::chrono::milliseconds>{500ms, 1s});
  CHECK(clock->waits()[retry + 1].length() == 1s);

  // Back: the next retry opens it, and frames flow again from its start.
  fs::copy_file(kept, file);
  clock->AdvanceTo(clock->waits()[retry + 1].until);
  REQUIRE(got.WaitForEvents(Kind::kRecovered, 1));
  REQUIRE(got.WaitForFrames(6));
  RequireReturns("Stop()", [&] { source->Stop(); });
  const std::vector<std::string> log = got.log();
  REQUIRE(log.size() >= 9);
  CHECK(std::vector<std::string>(log.begin() + 5, log.begin() + 9) ==
        std::vector<std::string>{"reconnecting", "reconnecting", "recovered", "frame"});
  CHECK(cv::mean(got.frames()[5]->image)[0] == Approx(10).margin(4));  // The first frame again.
  CHECK(got.end_reasons().empty());
}

TEST_CASE("rtsp: a stream that refuses connections starts anyway and is retried with backoff",
          "[capture][rtsp]") {
  const int port = ClosedTcpPort();
  SourceOptions options;
  options.type = SourceType::kRtsp;
  options.device = "rtsp://127.0.0.1:" + std::to_string(port) + "/x";
  auto clock = std::make_shared<TestClock>(TestClock::kStill);
  options.clock = clock;
  Collector got;
  auto source = CreateFrameSource(options);
  REQUIRE_NOTHROW(got.Start(*source));  // Opening happens on the capture thread.
  // Each refused attempt: a kReconnecting, then a wait of that length.
  for (size_t attempt = 1; attempt <= 4; ++attempt) {
    REQUIRE(got.WaitForEvents(Kind::kReconnecting, attempt));
    REQUIRE(clock->WaitForWaits(attempt));
    clock->EndLastWait();
  }
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 5));
  REQUIRE(clock->WaitForWaits(5));
  CHECK(Retries(got) == std::vector<std::chrono::milliseconds>{500ms, 1s, 2s, 4s, 8s});
  CHECK(clock->lengths() == std::vector<Duration>{500ms, 1s, 2s, 4s, 8s});
  CHECK_THAT(got.events()[0].message, Contains(options.device) && Contains("cannot open"));
  // The clock alone would never end this wait.
  RequireReturns("Stop()", [&] { source->Stop(); });
  CHECK(got.frames().empty());
  CHECK(got.end_reasons().empty());
  CHECK(got.events(Kind::kRecovered).empty());
}

TEST_CASE("v4l2: a missing device starts anyway and is retried with backoff", "[capture][v4l2]") {
  SourceOptions options;
  options.type = SourceType::kV4l2;
  options.device = "/dev/video-lookout-test-missing";
  auto clock = std::make_shared<TestClock>(TestClock::kStill);
  options.clock = clock;
  Collector got;
  auto source = CreateFrameSource(options);
  REQUIRE_NOTHROW(got.Start(*source));
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 1));
  REQUIRE(clock->WaitForWaits(1));
  clock->EndLastWait();
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 2));
  CHECK(Retries(got) == std::vector<std::chrono::milliseconds>{500ms, 1s});
  CHECK_THAT(got.events()[0].message, Contains("v4l2:" + options.device) &&
                                          Contains("no such device file"));
  RequireReturns("Stop()", [&] { source->Stop(); });
  CHECK(got.frames().empty());
  CHECK(got.end_reasons().empty());
}

#ifdef LOOKOUT_HAVE_LIBCAMERA
TEST_CASE("libcamera: a camera that is not there starts anyway and is retried with backoff",
          "[capture][libcamera]") {
  SourceOptions options;
  options.type = SourceType::kLibcamera;
  options.device = "lookout-test-no-such-camera";
  Collector got;
  auto source = CreateFrameSource(options);
  REQUIRE_NOTHROW(got.Start(*source));
  // libcamera's waits run on the real clock: 0.5 s, then 1 s (and 2 s after
  // that, which may have begun by the time this looks).
  REQUIRE(got.WaitForEvents(Kind::kReconnecting, 2));
  const std::vector<std::chrono::milliseconds> retries = Retries(got);
  REQUIRE(retries.size() >= 2);
  CHECK(retries[0] == 500ms);
  CHECK(retries[1] == 1s);
  for (const SourceEvent& event : got.events(Kind::kReconnecting)) {
    CHECK_THAT(event.message, Contains("libcamera:" + options.device + ": no camera"));
  }
  CHECK_THAT(source->Describe(), Contains("libcamera:" + options.device));
  RequireReturns("Stop()", [&] { source->Stop(); });
  CHECK(got.frames().empty());
  CHECK(got.end_reasons().empty());
  CHECK(got.events(Kind::kRecovered).empty());
}
#endif

namespace {

// An images folder of files that are odd but decodable (1x1, 16-bit, CMYK,
// a plain photo) and files that cannot be used (empty, corrupt, huge), in
// name order a..h.
struct OddFolder {
  TempDir dir;
  OddFolder() {
    const fs::path& d = dir.path();
    REQUIRE(cv::imwrite((d / "a_1x1.png").string(),
                        cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 20, 30))));
    std::ofstream(d / "b_empty.png");
    WriteRandomBytes(d / "c_corrupt.jpg", 4096);
    // 5000x5000 zeros: a PNG of ~80 kB that would decode to 75 MB.
    REQUIRE(cv::imwrite((d / "d_huge.png").string(), cv::Mat::zeros(5000, 5000, CV_8UC3)));
    REQUIRE(cv::imwrite((d / "e_16bit.png").string(),
                        cv::Mat(30, 40, CV_16UC3, cv::Scalar(1000, 30000, 65535))));
    // 16x8, made with libjpeg as CMYK (Adobe's inverted convention), which
    // OpenCV converts: the left half cyan, the right half yellow.
    fs::copy_file(lookout::testing::SourceDir() / "tests/capture/data/cmyk_16x8.jpg",
                  d / "f_cmyk.jpg");
    fs::copy_file(lookout::testing::SourceDir() / "tests/data/images/hot_dog.jpg",
                  d / "h_photo.jpg");
  }
};

}  // namespace

TEST_CASE("image folder: unusable files are skipped with kBadFrame once each, odd ones decode",
          "[capture][images]") {
  OddFolder folder;
  SourceOptions options = Images(folder.dir.path(), 100.0, /*loop=*/true,
                                 std::make_shared<TestClock>(TestClock::kJumps));
  options.max_frame_pixels = 1000000;
  Collector got;
  auto source = CreateFrameSource(options);
  got.Start(*source);
  REQUIRE(got.WaitForFrames(3 * 4));  // Three passes over the four usable files.
  source->Stop();
  CHECK(got.end_reasons().empty());

  const std::vector<FramePtr> frames = got.frames();
  const std::vector<std::string> usable = {"a_1x1.png", "e_16bit.png", "f_cmyk.jpg", "h_photo.jpg"};
  for (size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    CHECK(frames[i]->origin == usable[i % 4]);
    CHECK(frames[i]->image.type() == CV_8UC3);
  }
  CHECK(frames[0]->image.size() == cv::Size(1, 1));
  CHECK(frames[0]->image.at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
  CHECK(frames[1]->image.size() == cv::Size(40, 30));
  CHECK(frames[1]->image.at<cv::Vec3b>(0, 0)[2] == 255);  // 65535 scaled to 8 bits.
  CHECK(frames[2]->image.size() == cv::Size(16, 8));
  const cv::Vec3b cyan = frames[2]->image.at<cv::Vec3b>(4, 2);
  const cv::Vec3b yellow = frames[2]->image.at<cv::Vec3b>(4, 13);
  CHECK((cyan[0] > 200 && cyan[1] > 200 && cyan[2] < 60));
  CHECK((yellow[0] < 60 && yellow[1] > 200 && yellow[2] > 200));

  // Over three passes, each unusable file is reported once, in name order,
  // with its path and what is wrong with it.
  const auto bad = got.events(Kind::kBadFrame);
  REQUIRE(bad.size() == 3);
  CHECK(got.events().size() == 3);
  const fs::path& d = folder.dir.path();
  CHECK_THAT(bad[0].message, Contains((d / "b_empty.png").string()) && Contains("empty file"));
  CHECK_THAT(bad[1].message, Contains((d / "c_corrupt.jpg").string()) && Contains("cannot decode"));
  CHECK(bad[2].message == "images: skipping " + (d / "d_huge.png").string() +
                              ": 5000x5000 = 25000000 pixels exceeds max_frame_pixels 1000000");
  const std::vector<std::string> log = got.log();
  CHECK(std::vector<std::string>(log.begin(), log.begin() + 7) ==
        std::vector<std::string>{"frame", "bad_frame", "bad_frame", "bad_frame", "frame", "frame",
                                 "frame"});
}

TEST_CASE("image folder: nothing within max_frame_pixels ends with a reason naming the limit",
          "[capture][images]") {
  TempDir dir;
  REQUIRE(cv::imwrite((dir.path() / "a.png").string(), cv::Mat::zeros(100, 100, CV_8UC3)));
  SourceOptions options = Images(dir.path(), 100.0, /*loop=*/true,
                                 std::make_shared<TestClock>(TestClock::kJumps));
  options.max_frame_pixels = 9999;
  Collector got;
  auto source = CreateFrameSource(options);
  got.Start(*source);
  REQUIRE(got.WaitForEnd());
  source->Stop();
  CHECK(got.frames().empty());
  REQUIRE(got.events(Kind::kBadFrame).size() == 1);
  CHECK_THAT(got.events()[0].message,
             Contains("100x100 = 10000 pixels exceeds max_frame_pixels 9999"));
  REQUIRE(got.end_reasons().size() == 1);
  CHECK_THAT(got.end_reasons()[0],
             Contains(dir.path().string()) && Contains("max_frame_pixels 9999"));
}

TEST_CASE("event callback: optional, copied at Start(), and may stop the source",
          "[capture][images]") {
  TempDir dir;
  REQUIRE(cv::imwrite((dir.path() / "a.png").string(), cv::Mat::zeros(4, 4, CV_8UC3)));
  WriteRandomBytes(dir.path() / "b.png", 100);
  REQUIRE(cv::imwrite((dir.path() / "c.png").string(), cv::Mat::zeros(4, 4, CV_8UC3)));

  SECTION("no event callback: the source runs as before") {
    Collector got;
    auto source = CreateFrameSource(Images(dir.path(), 1000.0));
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(got.WaitForEnd());
    source->Stop();
    CHECK(got.frames().size() == 2);
    CHECK(got.end_reasons() == std::vector<std::string>{""});
  }
  SECTION("Stop() from inside the event callback") {
    Collector got;
    auto source = CreateFrameSource(Images(dir.path(), 1000.0));
    std::atomic<int> events{0};
    source->SetEventCallback([&](const SourceEvent&) {
      ++events;
      source->Stop();
    });
    source->Start(got.OnFrame(), got.OnEnd());
    REQUIRE(lookout::testing::WaitUntil([&] { return got.frames().size() == 1 && events == 1; }));
    source->Stop();  // Joins the capture thread: no callback after it.
    CHECK(events == 1);
    CHECK(got.frames().size() == 1);  // c.png never came.
    CHECK(got.end_reasons().empty());
    // A second run, with the callback replaced before it.
    Collector second;
    second.Start(*source);
    REQUIRE(second.WaitForEnd());
    source->Stop();
    CHECK(events == 1);
    CHECK(second.events(Kind::kBadFrame).size() == 1);
    CHECK(second.frames().size() == 2);
  }
}
