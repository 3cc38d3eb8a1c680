// lookoutd as systemd runs it: signals (SIGHUP reloads, the rest handled or
// ignored on purpose, SIGTERM during start-up exits 0), sd_notify messages
// on a NOTIFY_SOCKET the test listens on, --check-config, the socket
// folder's error text, and the repeat limit on libraries' standard error.
// The real lookoutd, the bundled model and photos.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>

#include "support/process.h"
#include "support/tcp_port.h"
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
using lookout::testing::RunToEnd;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

json Config(const fs::path& dir, const fs::path& images) {
  return {
      {"camera", {{"name", "ops"}, {"type", "images"}, {"device", images.string()}, {"fps", 5}, {"loop", true}}},
      {"model",
       {{"path", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string()},
        {"labels", (SourceDir() / "models/imagenet_labels.txt").string()}}},
      {"output", {{"top_k", 3}}},
      {"socket", {{"path", (dir / "lookoutd.sock").string()}, {"mode", "0600"}}},
  };
}

void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string Lookoutd() { return (BinaryDir() / "bin/lookoutd").string(); }

// The receiving end of sd_notify(): a datagram socket whose path lookoutd
// finds in NOTIFY_SOCKET (set in this process's environment while the
// daemon is spawned, as systemd sets it in the unit's).
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Call once the daemon is spawned: later children do not inherit it.
  void Unexport() { ::unsetenv("NOTIFY_SOCKET"); }

  // The next message, or nullopt after `timeout`.
  std::optional<std::string> Next(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  // Reads messages until one has a line equal to `line`; returns that
  // message, or nullopt after `timeout`. Skipped messages go to `seen`.
  std::optional<std::string> WaitFor(const std::string& line, std::chrono::milliseconds timeout,
                                     std::vector<std::string>* seen = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::optional<std::string> message = Next(left);
      if (!message) return std::nullopt;
      if (("\n" + *message + "\n").find("\n" + line + "\n") != std::string::npos) return message;
      if (seen) seen->push_back(*message);
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

// The first subscribed event whose top_k has `size` entries, among the next
// `lines` lines of `stream`.
bool SeesTopKSize(Client& stream, size_t size, int lines) {
  for (int i = 0; i < lines; ++i) {
    const std::optional<std::string> line = stream.ReadLine(60s);
    if (!line) return false;
    const json event = json::parse(*line);
    if (event.value("type", "") == "result" && event.at("top_k").size() == size) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("lookoutd reloads on SIGHUP: a valid change applies with the socket's clients kept, an invalid one is refused by its JSON path",
          "[integration]") {
  TempDir dir;
  const fs::path config_path = dir.path() / "lookoutd.json";
  json config = Config(dir.path(), SourceDir() / "tests/data/images");
  Write(config_path, config.dump(2));
  NotifySocket notify(dir.path() / "notify.sock");
  Process daemon({Lookoutd(), "--config", config_path.string()}, dir.path() / "out", dir.path() / "err");
  notify.Unexport();
  INFO(daemon.Stderr());
  REQUIRE(notify.WaitFor("READY=1", 120s));
  Client stream(dir.path() / "lookoutd.sock");
  REQUIRE(stream.Request({{"cmd", "subscribe"}}).at("ok") == true);
  REQUIRE(SeesTopKSize(stream, 3, 5));

  // A valid change: top_k 3 -> 2 (the pipeline is rebuilt).
  config["output"]["top_k"] = 2;
  Write(config_path, config.dump(2));
  daemon.Signal(SIGHUP);
  std::vector<std::string> before;
  const auto reloading = notify.WaitFor("RELOADING=1", 60s, &before);
  REQUIRE(reloading);
  CHECK(reloading->find("MONOTONIC_USEC=") != std::string::npos);
  REQUIRE(notify.WaitFor("READY=1", 60s));
  // The same connection, still subscribed, now gets 2 labels per event.
  CHECK(SeesTopKSize(stream, 2, 20));
  CHECK(WaitUntil([&] { return daemon.Stderr().find("reload: applied in") != std::string::npos; }, 10s));

  // An invalid file: refused, naming the key; the running configuration stays.
  json bad = config;
  bad["camera"]["fpz"] = 5;
  Write(config_path, bad.dump(2));
  daemon.Signal(SIGHUP);
  REQUIRE(notify.WaitFor("RELOADING=1", 60s));
  REQUIRE(notify.WaitFor("READY=1", 60s));
  CHECK(WaitUntil([&] { return daemon.Stderr().find("reload refused") != std::string::npos; }, 10s));
  CHECK(daemon.Stderr().find("/camera/fpz: unknown key") != std::string::npos);

  // A valid file naming a model that is not there: refused by its path too.
  json missing = config;
  missing["model"]["path"] = (dir.path() / "gone.tflite").string();
  Write(config_path, missing.dump(2));
  daemon.Signal(SIGHUP);
  REQUIRE(notify.WaitFor("RELOADING=1", 60s));
  REQUIRE(notify.WaitFor("READY=1", 60s));
  CHECK(WaitUntil([&] { return daemon.Stderr().find("/model/path: " + (dir.path() / "gone.tflite").string()) != std::string::npos; }, 10s));
  CHECK(SeesTopKSize(stream, 2, 20));

  Client query(dir.path() / "lookoutd.sock");
  const json stats = query.Request({{"cmd", "stats"}}).at("result");
  INFO(stats.dump());
  CHECK(stats.at("reloads") == 1);
  CHECK(stats.at("reloads_refused") == 2);
  CHECK(query.Request({{"cmd", "health"}}).at("result").at("status") == "ok");

  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(60s) == 0);
  CHECK_FALSE(fs::exists(dir.path() / "lookoutd.sock"));
}

TEST_CASE("a reload whose camera cannot start goes back to the running one, and when that cannot start either lookoutd exits 1",
          "[integration]") {
  TempDir dir;
  // The running camera: a looping video of 300 grey 64x48 frames at 5
  // frames/s (a minute a pass, so it never needs reopening here).
  const fs::path video = dir.path() / "grey.avi";
  {
    cv::VideoWriter writer(video.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 5.0,
                           cv::Size(64, 48));
    REQUIRE(writer.isOpened());
    for (int i = 0; i < 300; ++i) writer.write(cv::Mat(48, 64, CV_8UC3, cv::Scalar::all(128)));
  }
  // What a reload asks for: a readable file that is no video.
  const fs::path not_video = dir.path() / "not-a-video.mp4";
  Write(not_video, std::string(4096, 'x'));

  const fs::path config_path = dir.path() / "lookoutd.json";
  json config = Config(dir.path(), video);
  config["camera"]["type"] = "video";
  Write(config_path, config.dump(2));
  Process daemon({Lookoutd(), "--config", config_path.string()}, dir.path() / "out", dir.path() / "err");
  INFO(daemon.Stderr());
  const fs::path socket_path = dir.path() / "lookoutd.sock";
  REQUIRE(WaitUntil([&] { return Accepts(socket_path) || !daemon.Running(); }, 120s));
  Client stream(socket_path);
  REQUIRE(stream.Request({{"cmd", "subscribe"}}).at("ok") == true);
  REQUIRE(SeesTopKSize(stream, 3, 5));

  // The new camera cannot start: the running one starts again.
  json next = config;
  next["camera"]["device"] = not_video.string();
  Write(config_path, next.dump(2));
  daemon.Signal(SIGHUP);
  CHECK(WaitUntil([&] { return daemon.Stderr().find("going back to the running configuration") != std::string::npos; },
                  60s));
  CHECK(SeesTopKSize(stream, 3, 20));
  Client query(socket_path);
  const json stats = query.Request({{"cmd", "stats"}}).at("result");
  INFO(stats.dump());
  CHECK(stats.at("reloads_refused") == 1);
  CHECK(query.Request({{"cmd", "health"}}).at("result").at("status") == "ok");

  // Again, with the running camera's file gone too: nothing can run.
  fs::remove(video);
  daemon.Signal(SIGHUP);
  CHECK(daemon.Wait(60s) == 1);
  const std::string log = daemon.Stderr();
  CHECK(log.find("stopping: capture failed: ") != std::string::npos);
  CHECK(log.find(video.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(socket_path));
}

TEST_CASE("lookoutd logs its status on SIGUSR1, ignores SIGUSR2, SIGPIPE and SIGALRM, and exits 0 on SIGTERM while starting",
          "[integration]") {
  TempDir dir;
  const fs::path config_path = dir.path() / "lookoutd.json";
  Write(config_path, Config(dir.path(), SourceDir() / "tests/data/images").dump(2));
  {
    Process daemon({Lookoutd(), "--config", config_path.string()}, dir.path() / "out", dir.path() / "err");
    REQUIRE(WaitUntil([&] { return Accepts(dir.path() / "lookoutd.sock"); }, 120s));
    for (int signo : {SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM}) daemon.Signal(signo);
    CHECK(WaitUntil([&] { return daemon.Stderr().find("status: camera ops (running)") != std::string::npos; }, 10s));
    Client query(dir.path() / "lookoutd.sock");
    CHECK(query.Request({{"cmd", "health"}}).at("result").at("status") == "ok");
    CHECK(daemon.Running());
    daemon.Signal(SIGTERM);
    CHECK(daemon.Wait(60s) == 0);
  }
  // SIGTERM while the model loads (the line before it is printed, the
  // socket is not open yet): a clean exit, not death by the signal (143).
  Process daemon({Lookoutd(), "--config", config_path.string()}, dir.path() / "out2", dir.path() / "err2");
  REQUIRE(WaitUntil([&] { return daemon.Stderr().find("starting: loading") != std::string::npos; }, 60s));
  daemon.Signal(SIGTERM);
  INFO(daemon.Stderr());
  CHECK(daemon.Wait(60s) == 0);
  CHECK(daemon.Stderr().find("SIGTERM") != std::string::npos);
}

TEST_CASE("a socket folder that does not exist is named with the system's reason", "[integration]") {
  TempDir dir;
  json config = Config(dir.path(), SourceDir() / "tests/data/images");
  const fs::path socket = dir.path() / "missing" / "lookoutd.sock";
  config["socket"]["path"] = socket.string();
  Write(dir.path() / "lookoutd.json", config.dump(2));
  const auto run = RunToEnd({Lookoutd(), "--config", (dir.path() / "lookoutd.json").string()}, dir.path(), 120s);
  INFO(run.err);
  CHECK(run.status == 1);
  CHECK(run.err.find("socket " + socket.string() + ": cannot bind: No such file or directory") != std::string::npos);
  const auto check = RunToEnd({Lookoutd(), "--check-config", (dir.path() / "lookoutd.json").string()}, dir.path(), 120s);
  INFO(check.err);
  CHECK(check.status == 2);
  CHECK(check.err.find("/socket/path: folder " + socket.parent_path().string() + ": No such file or directory") !=
        std::string::npos);
}

TEST_CASE("lookoutd --check-config checks the files, model, labels and groups a configuration names", "[integration]") {
  TempDir dir;
  const json good = Config(dir.path(), SourceDir() / "tests/data/images");
  const auto check = [&](const json& config) {
    Write(dir.path() / "check.json", config.dump(2));
    return RunToEnd({Lookoutd(), "--check-config", (dir.path() / "check.json").string()}, dir.path(), 120s);
  };
  {
    const auto r = check(good);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(json::parse(r.out).at("output").at("top_k") == 3);
  }
  struct Case {
    std::string what;
    json config;
    std::string expected;  // In standard error.
  };
  std::vector<Case> cases;
  json c = good;
  c["model"]["path"] = (dir.path() / "none.tflite").string();
  cases.push_back({"missing model", c, "/model/path: " + (dir.path() / "none.tflite").string() + ": No such file or directory"});
  c = good;
  c["model"]["path"] = (SourceDir() / "models/imagenet_labels.txt").string();
  cases.push_back({"not a model", c, "/model/path: "});
  c = good;
  Write(dir.path() / "ten.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  c["model"]["labels"] = (dir.path() / "ten.txt").string();
  cases.push_back({"labels for another model", c, "/model/labels: label file " + (dir.path() / "ten.txt").string() + " has 10 labels"});
  c = good;
  c["model"]["groups"] = (dir.path() / "no-groups.json").string();
  cases.push_back({"missing groups file", c, "/model/groups: "});
  c = good;
  c["model"]["groups"] = (SourceDir() / "models/imagenet_groups.json").string();
  c["zones"] = json::array({{{"name", "porch"}, {"groups", {"unicorn"}}}});
  cases.push_back({"unknown group", c, "/zones/0/groups/0: no group \"unicorn\""});
  c = good;
  c["camera"]["device"] = (dir.path() / "no-photos").string();
  cases.push_back({"missing image folder", c, "/camera/device: " + (dir.path() / "no-photos").string() + ": No such file or directory"});
  for (const Case& k : cases) {
    INFO(k.what);
    const auto r = check(k.config);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(k.expected) != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("libraries' repeated lines on standard error are limited to repeats_per_minute, the rest counted", "[integration]") {
  TempDir dir;
  // A photo cut short: libjpeg decodes what is there and prints "Premature
  // end of JPEG file" on standard error, once per decode, i.e. per frame.
  const fs::path images = dir.path() / "images";
  fs::create_directories(images);
  const std::vector<uint8_t> photo = lookout::testing::ReadFileBytes(SourceDir() / "tests/data/images/hot_dog.jpg");
  std::ofstream(images / "cut.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(photo.data()), static_cast<std::streamsize>(photo.size() * 6 / 10));
  json config = Config(dir.path(), images);
  config["camera"]["fps"] = 20;
  config["camera"]["max_frames"] = 12;
  config["log"] = {{"repeats_per_minute", 2}};
  Write(dir.path() / "lookoutd.json", config.dump(2));
  const auto run = RunToEnd({Lookoutd(), "--config", (dir.path() / "lookoutd.json").string()}, dir.path(), 120s);
  INFO(run.err);
  REQUIRE(run.status == 0);
  const std::string warning = "libjpeg: Premature end of JPEG file";
  size_t shown = 0;
  std::optional<int> not_shown;
  std::istringstream lines(run.err);
  const std::regex summary("^info: ([0-9]+) repeats not shown: " + warning + "$");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, summary)) {
      not_shown = std::stoi(m[1]);
    } else if (line.find(warning) != std::string::npos) {
      ++shown;
      CHECK(line == "info: " + warning);  // A library's warning is info, named by its source.
    }
  }
  CHECK(shown == 2);
  REQUIRE(not_shown.has_value());
  // 12 frames were captured, each a decode; the source may have decoded
  // one more before it stopped.
  CHECK(*not_shown >= 12 - 2);
  CHECK(*not_shown <= 13 - 2);
}

TEST_CASE("an RTSP camera that refuses connections: lookoutd starts, retries with backoff and says so in health",
          "[integration]") {
  TempDir dir;
  json config = Config(dir.path(), SourceDir() / "tests/data/images");
  // A port nothing listens on (FreeTcpPort() closes what it bound).
  const int port = lookout::testing::FreeTcpPort();
  config["camera"] = {{"name", "gone"}, {"type", "rtsp"}, {"device", "rtsp://127.0.0.1:" + std::to_string(port) + "/stream"}};
  Write(dir.path() / "lookoutd.json", config.dump(2));
  Process daemon({Lookoutd(), "--config", (dir.path() / "lookoutd.json").string()}, dir.path() / "out",
                 dir.path() / "err");
  INFO(daemon.Stderr());
  REQUIRE(WaitUntil([&] { return Accepts(dir.path() / "lookoutd.sock"); }, 120s));
  Client query(dir.path() / "lookoutd.sock");
  json health, stats;
  // The backoff starts at 0.5 s and doubles: two retries within a few seconds.
  CHECK(WaitUntil(
      [&] {
        stats = query.Request({{"cmd", "stats"}}).at("result");
        return stats.at("source_retries").get<int>() >= 2;
      },
      60s));
  health = query.Request({{"cmd", "health"}}).at("result");
  INFO(health.dump() << stats.dump());
  CHECK(health.at("status") == "degraded");
  CHECK(health.at("camera").at("state") == "reconnecting");
  CHECK(health.at("camera").at("error").get<std::string>().find("127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
  CHECK(stats.at("frames_captured") == 0);
  CHECK(daemon.Running());
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(60s) == 0);
}
