// lookoutd on a real libcamera pipeline: libcamera's virtual camera (its
// "virtual" pipeline handler, libcamera 0.4 and later), showing the bundled
// JPEG photos, one camera per photo. Expected labels come from
// tests/data/images/expected_top1.json (chosen by a person from the photos).
//
// libcamera reads the virtual cameras' description only from
// <LIBCAMERA_DATA_DIR>/pipeline/virtual/virtual.yaml (/usr/share/libcamera on
// Debian; no environment variable moves it), so lookoutd runs in a mount
// namespace of its own in which a read-only overlay adds the test's file to
// /usr/share. That needs root. Under qemu (-L SYSROOT) the emulated lookoutd
// looks in the sysroot first, which has no such file, then finds this one.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_support.h"
#include "support/unix_client.h"
#include "support/wait.h"

namespace {

namespace fs = std::filesystem;
using lookout::testing::Accepts;
using lookout::testing::BinaryDir;
using lookout::testing::Client;
using lookout::testing::Process;
using lookout::testing::ReadText;
using lookout::testing::RunToEnd;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

// Why this build cannot run the test, or "" when it can.
std::string WhyNoVirtualCamera() {
#ifdef LOOKOUT_LIBCAMERA_VERSION
  int major = 0, minor = 0;
  if (std::sscanf(LOOKOUT_LIBCAMERA_VERSION, "%d.%d", &major, &minor) == 2 &&
      (major > 0 || minor >= 4)) {
    return "";
  }
  return std::string("libcamera ") + LOOKOUT_LIBCAMERA_VERSION +
         " has no virtual camera (it came with 0.4, Debian 13)";
#else
  return "this build has no libcamera source";
#endif
}

// unshare's --propagation for lookoutd's mount namespace, or "" with the
// reason in `why` when this machine cannot give it one.
std::string Propagation(const fs::path& scratch, std::string* why) {
  if (geteuid() != 0) {
    *why = "mounting libcamera's virtual camera description needs root";
    return "";
  }
  if (RunToEnd({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/true"}, scratch)
          .status == 0) {
    return "private";
  }
  // In a chroot "/" is no mount point and cannot be made private. With no
  // shared mount in sight (scripts/roots.sh's build root runs in a private
  // namespace), nothing mounted in a new namespace propagates anyway.
  if (ReadText("/proc/self/mountinfo").find(" shared:") == std::string::npos) return "unchanged";
  *why = "cannot make a private mount namespace here (unshare --propagation private failed)";
  return "";
}

// `argv` (a target program) started in a new mount namespace where
// /usr/share also shows what `share` holds.
std::vector<std::string> WithShare(const std::string& propagation, const fs::path& share,
                                   const std::vector<std::string>& argv) {
  std::vector<std::string> command = {
      "/usr/bin/unshare", "--mount", "--propagation", propagation, "--", "/bin/sh", "-c",
      "mount -t overlay overlay -o \"lowerdir=$0:/usr/share\" /usr/share && exec \"$@\"",
      share.string()};
  for (const std::string& arg : lookout::testing::HostCommand(argv)) command.push_back(arg);
  return command;
}

// Where libcamera looks for the virtual cameras' description, under `share`.
fs::path VirtualYaml(const fs::path& share) {
  return share / "libcamera/pipeline/virtual/virtual.yaml";
}

// Writes the description of one virtual camera per photo to `yaml`, each
// named after its file (without ".jpg"), at 1280x720 (its default: the
// largest) and 400x224, the smallest even 16:9 size that covers the model's
// 224x224 input. libcamera 0.4's virtual camera overruns its buffer on a JPEG
// of odd width or height, so photos of odd size are shown with their last row
// or column cut off (re-encoded at quality 98, into `photo_dir`). Written
// beside `yaml` and renamed over it, so libcamera never reads half a file.
void WriteVirtualCameras(const fs::path& yaml_path, const fs::path& photo_dir,
                         const std::vector<std::string>& photos) {
  fs::create_directories(yaml_path.parent_path());
  fs::create_directories(photo_dir);
  const fs::path partial = yaml_path.string() + ".partial";
  std::ofstream yaml(partial);
  yaml << "%YAML 1.1\n---\n";
  for (const std::string& photo : photos) {
    fs::path path = SourceDir() / "tests/data/images" / photo;
    const cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(image.empty());
    if (image.cols % 2 != 0 || image.rows % 2 != 0) {
      path = photo_dir / photo;
      REQUIRE(cv::imwrite(path.string(), image(cv::Rect(0, 0, image.cols & ~1, image.rows & ~1)),
                          {cv::IMWRITE_JPEG_QUALITY, 98}));
    }
    yaml << "\"" << fs::path(photo).stem().string() << "\":\n"
         << "  supported_formats:\n"
         << "    - width: 1280\n      height: 720\n"
         << "    - width: 400\n      height: 224\n"
         << "  frames:\n"
         << "    path: \"" << path.string() << "\"\n";
  }
  yaml.close();
  REQUIRE(yaml);
  fs::rename(partial, yaml_path);
}

std::map<std::string, std::set<int>> LoadExpectedTop1() {
  std::map<std::string, std::set<int>> top1;
  const json j = json::parse(ReadText(SourceDir() / "tests/data/images/expected_top1.json"));
  for (const auto& [file, indices] : j.items()) top1[file] = indices.get<std::set<int>>();
  return top1;
}

json CameraConfig(const fs::path& dir, const std::string& camera_id) {
  return {
      {"camera",
       {{"name", "virtual"}, {"type", "libcamera"}, {"device", camera_id}, {"fps", 10},
        {"max_frames", 2000}}},
      {"model",
       {{"path", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string()},
        {"labels", (SourceDir() / "models/imagenet_labels.txt").string()}}},
      {"output", {{"top_k", 3}}},
      {"socket", {{"path", (dir / "lookoutd.sock").string()}, {"mode", "0600"}}},
  };
}

// lookoutd on `dir`/lookoutd.json, in a mount namespace where /usr/share
// also shows `share`.
Process StartLookoutd(const std::string& propagation, const fs::path& share, const fs::path& dir) {
  return Process(WithShare(propagation, share,
                           {(BinaryDir() / "bin/lookoutd").string(), "--config",
                            (dir / "lookoutd.json").string()}),
                 dir / "lookoutd.out", dir / "lookoutd.err");
}

// Waits until lookoutd's socket accepts connections; FAILs if it ends first.
void WaitForSocket(Process& daemon, const fs::path& socket_path) {
  REQUIRE(WaitUntil([&] { return Accepts(socket_path) || !daemon.Running(); }, 120s));
  if (!daemon.Running()) FAIL("lookoutd ended; its stderr:\n" << daemon.Stderr());
}

// Runs lookoutd on `config` in `dir`, checks that the first three events
// label the photo as one of `top1` and that the log names `stream` (the
// streams libcamera delivers), then stops it with SIGTERM.
void LabelsFromCamera(const std::string& propagation, const fs::path& share, const fs::path& dir,
                      const json& config, const std::set<int>& top1, const std::string& stream) {
  fs::create_directories(dir);
  std::ofstream(dir / "lookoutd.json") << config.dump(2);
  const fs::path socket_path = dir / "lookoutd.sock";
  Process daemon = StartLookoutd(propagation, share, dir);
  WaitForSocket(daemon, socket_path);

  Client events(socket_path);
  events.SendLine("subscribe");
  std::optional<std::string> line = events.ReadLine(60s);
  if (!line) FAIL("lookoutd does not answer; its stderr:\n" << daemon.Stderr());
  int64_t last_seq = -1;
  for (int i = 0; i < 3; ++i) {
    line = events.ReadLine(120s);
    if (!line) FAIL("no event; lookoutd's stderr:\n" << daemon.Stderr());
    const json event = json::parse(*line);
    INFO(event.dump());
    CHECK(event.at("camera") == "virtual");
    CHECK(event.at("seq").get<int64_t>() > last_seq);
    last_seq = event.at("seq").get<int64_t>();
    REQUIRE_FALSE(event.at("top_k").empty());
    CHECK(top1.count(event.at("top_k")[0].at("index").get<int>()) == 1);
  }
  if (!daemon.Running()) FAIL("lookoutd ended; its stderr:\n" << daemon.Stderr());
  Client query(socket_path);
  const json stats = query.Request({{"cmd", "stats"}}).at("result");
  INFO(stats.dump());
  CHECK(stats.at("capture_cpu_ms").at("samples").get<int64_t>() >= 1);
  CHECK(stats.at("capture_cpu_ms").at("p50").get<double>() > 0.0);
  CHECK(daemon.Stderr().find(stream) != std::string::npos);

  daemon.Signal(SIGTERM);
  const int status = daemon.Wait(60s);
  INFO("lookoutd stderr:\n" << daemon.Stderr());
  CHECK(status == 0);
}

}  // namespace

TEST_CASE("lookoutd labels the photos libcamera's virtual camera shows", "[integration][libcamera]") {
  if (const std::string why = WhyNoVirtualCamera(); !why.empty()) LOOKOUT_SKIP(why);
  TempDir dir;
  std::string why;
  const std::string propagation = Propagation(dir.path(), &why);
  if (propagation.empty()) LOOKOUT_SKIP(why);

  const std::map<std::string, std::set<int>> expected = LoadExpectedTop1();
  std::vector<std::string> photos;
  for (const auto& [file, indices] : expected) {
    if (fs::path(file).extension() == ".jpg") photos.push_back(file);  // The camera reads JPEG only.
  }
  REQUIRE(photos.size() == 4);
  const fs::path share = dir.path() / "share";
  WriteVirtualCameras(VirtualYaml(share), dir.path() / "photos", photos);

  for (const std::string& photo : photos) {
    INFO("photo " << photo);
    // One stream at the model's scale; the preprocessor converts NV12 and
    // squeezes 16:9 to 1:1.
    const std::string camera = fs::path(photo).stem().string();
    const fs::path run = dir.path() / camera;
    LabelsFromCamera(propagation, share, run, CameraConfig(run, camera), expected.at(photo),
                     "(400x224-NV12 for 224x224");
  }
  // A configured main stream, and frames from a second, low-resolution one.
  const fs::path run = dir.path() / "two-streams";
  json config = CameraConfig(run, "parrot");
  config["camera"]["width"] = 1280;
  config["camera"]["height"] = 720;
  LabelsFromCamera(propagation, share, run, config, expected.at("parrot.jpg"),
                   "(1280x720-NV12, frames from 400x224-NV12 for 224x224");
}

namespace {

// The first event from `events` after `after_seq`, which must label the
// photo as one of `top1`; its seq.
int64_t LabelledEventAfter(Client& events, int64_t after_seq, const std::set<int>& top1,
                           Process& daemon) {
  while (true) {
    const std::optional<std::string> line = events.ReadLine(120s);
    if (!line) FAIL("no event; lookoutd's stderr:\n" << daemon.Stderr());
    const json event = json::parse(*line);
    if (!event.contains("seq")) continue;  // Not a result (e.g. a state change).
    INFO(event.dump());
    const int64_t seq = event.at("seq").get<int64_t>();
    CHECK(seq > after_seq);
    REQUIRE_FALSE(event.at("top_k").empty());
    CHECK(top1.count(event.at("top_k")[0].at("index").get<int>()) == 1);
    return seq;
  }
}

// Waits until `health` shows the camera `state`; returns the health.
json WaitForCameraState(Client& query, const std::string& state, Process& daemon) {
  json health;
  const bool reached = WaitUntil(
      [&] {
        health = query.Request({{"cmd", "health"}}).at("result");
        return health.at("camera").at("state") == state || !daemon.Running();
      },
      120s);
  INFO(health.dump() << "\nlookoutd's stderr:\n" << daemon.Stderr());
  REQUIRE(reached);
  REQUIRE(daemon.Running());
  return health;
}

}  // namespace

// libcamera 0.4 reads virtual.yaml when a camera manager starts, and only
// then. The description the overlay shows is a symbolic link to a file the
// test rewrites: once without the watched camera (the other one stays, for
// libcamera skips virtual cameras for good in a process whose camera
// manager found none), once with it.
TEST_CASE("lookoutd retries a libcamera virtual camera whose description disappears",
          "[integration][libcamera]") {
  if (const std::string why = WhyNoVirtualCamera(); !why.empty()) LOOKOUT_SKIP(why);
  TempDir dir;
  std::string why;
  const std::string propagation = Propagation(dir.path(), &why);
  if (propagation.empty()) LOOKOUT_SKIP(why);

  const std::set<int> top1 = LoadExpectedTop1().at("hot_dog.jpg");
  const fs::path share = dir.path() / "share";
  const fs::path described = dir.path() / "cameras/virtual.yaml";
  fs::create_directories(VirtualYaml(share).parent_path());
  fs::create_symlink(described, VirtualYaml(share));
  const fs::path photos = dir.path() / "photos";
  const auto describe = [&](const std::vector<std::string>& cameras) {
    WriteVirtualCameras(described, photos, cameras);
  };

  // Started with the camera missing: lookoutd starts and keeps looking.
  describe({"parrot.jpg"});
  const fs::path run = dir.path() / "run";
  fs::create_directories(run);
  json config = CameraConfig(run, "hot_dog");
  std::ofstream(run / "lookoutd.json") << config.dump(2);
  const fs::path socket_path = run / "lookoutd.sock";
  Process daemon = StartLookoutd(propagation, share, run);
  WaitForSocket(daemon, socket_path);
  Client query(socket_path);
  json health = WaitForCameraState(query, "reconnecting", daemon);
  CHECK(health.at("status") == "degraded");
  CHECK(health.at("camera").at("error").get<std::string>().find(
            "libcamera:hot_dog: no camera 'hot_dog' (available: parrot)") != std::string::npos);
  json stats;
  CHECK(WaitUntil(
      [&] {
        stats = query.Request({{"cmd", "stats"}}).at("result");
        return stats.at("source_retries").get<int>() >= 2;
      },
      120s));
  CHECK(stats.at("frames_captured") == 0);

  // Described: found at the next retry, and labelled.
  Client events(socket_path);
  events.SendLine("subscribe");
  REQUIRE(events.ReadLine(60s));
  describe({"parrot.jpg", "hot_dog.jpg"});
  int64_t seq = LabelledEventAfter(events, -1, top1, daemon);
  health = WaitForCameraState(query, "running", daemon);
  CHECK(health.at("status") == "ok");
  CHECK_FALSE(health.at("camera").contains("error"));

  // The description disappears while the camera runs: libcamera has read it
  // already, so nothing changes until the camera is opened again, here by a
  // reload that changes the camera's frame rate.
  describe({"parrot.jpg"});
  seq = LabelledEventAfter(events, seq, top1, daemon);
  const int retries_before = query.Request({{"cmd", "stats"}}).at("result").at("source_retries").get<int>();
  config["camera"]["fps"] = 5;
  std::ofstream(run / "lookoutd.json") << config.dump(2);
  daemon.Signal(SIGHUP);
  health = WaitForCameraState(query, "reconnecting", daemon);
  CHECK(health.at("camera").at("error").get<std::string>().find("no camera 'hot_dog'") !=
        std::string::npos);
  CHECK(query.Request({{"cmd", "stats"}}).at("result").at("source_retries").get<int>() >
        retries_before);

  // Described again: the same subscription gets its frames.
  describe({"parrot.jpg", "hot_dog.jpg"});
  LabelledEventAfter(events, -1, top1, daemon);
  WaitForCameraState(query, "running", daemon);
  const std::string log = daemon.Stderr();
  CHECK(log.find("reload: applied") != std::string::npos);
  CHECK(log.find("libcamera:hot_dog: frames again") != std::string::npos);

  daemon.Signal(SIGTERM);
  const int status = daemon.Wait(60s);
  INFO("lookoutd stderr:\n" << daemon.Stderr());
  CHECK(status == 0);
}
