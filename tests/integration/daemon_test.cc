// End to end: the real lookoutd and lookout binaries, a real mosquitto on
// 127.0.0.1, a real Unix socket client and a real MQTT subscriber, the
// bundled model on the bundled photos. Expected labels come from
// tests/data/images/expected_top1.json (chosen by a person from the photos).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include "support/mosquitto_broker.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_support.h"
#include "support/unix_client.h"
#include "support/wait.h"

namespace {

namespace fs = std::filesystem;
using lookout::testing::BinaryDir;
using lookout::testing::Client;
using lookout::testing::Emulator;
using lookout::testing::MosquittoBroker;
using lookout::testing::MqttTestClient;
using lookout::testing::Process;
using lookout::testing::ReadText;
using lookout::testing::RunToEnd;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

// `lookout classify` execs lookout-classify from its own folder. Without
// binfmt_misc an emulated program cannot exec another target program, so a
// cross-built test runs a copy of `lookout` beside a script that starts the
// real lookout-classify through the emulator. Returns the `lookout` to run.
fs::path LookoutForClassify(const fs::path& scratch) {
  const fs::path lookout = BinaryDir() / "bin/lookout";
  const std::vector<std::string> emulator = Emulator();
  if (emulator.empty()) return lookout;
  const fs::path bin = scratch / "bin";
  fs::create_directories(bin);
  fs::copy_file(lookout, bin / "lookout", fs::copy_options::overwrite_existing);
  std::ofstream script(bin / "lookout-classify");
  script << "#!/bin/sh\nexec";
  for (const auto& arg : emulator) script << " '" << arg << "'";
  script << " '" << (BinaryDir() / "bin/lookout-classify").string() << "' \"$@\"\n";
  script.close();
  fs::permissions(bin / "lookout-classify", fs::perms::owner_all | fs::perms::group_read |
                                                 fs::perms::group_exec);
  return bin / "lookout";
}

// Acceptable top-1 class indices per photo of the bundled folder, and the
// photos in the order an image-folder source serves them (sorted by name).
struct Expected {
  std::map<std::string, std::set<int>> top1;
  std::vector<std::string> order;
};
Expected LoadExpected() {
  Expected e;
  const json j = json::parse(ReadText(SourceDir() / "tests/data/images/expected_top1.json"));
  for (const auto& [file, indices] : j.items()) {
    e.top1[file] = indices.get<std::set<int>>();
    e.order.push_back(file);
  }
  std::sort(e.order.begin(), e.order.end());
  return e;
}

// Checks one result event (schema v1) and that its top-1 is acceptable for
// the photo its sequence number points at.
void CheckEvent(const json& event, const Expected& expected, const std::string& camera) {
  INFO(event.dump());
  REQUIRE(event.at("v") == 1);
  REQUIRE(event.at("camera") == camera);
  REQUIRE(event.at("model") == "mobilenet_v2_1.0_224_quant");
  REQUIRE(event.at("ts").is_string());
  REQUIRE(event.at("seq").is_number_unsigned());
  const auto& top_k = event.at("top_k");
  REQUIRE(top_k.is_array());
  REQUIRE_FALSE(top_k.empty());
  REQUIRE(top_k.size() <= 3);
  for (const auto& c : top_k) {
    REQUIRE(c.at("label").is_string());
    REQUIRE(c.at("score").get<double>() >= 0.0);
    REQUIRE(c.at("score").get<double>() <= 1.0);
  }
  const std::string& file = expected.order[event.at("seq").get<size_t>() % expected.order.size()];
  INFO("photo " << file);
  CHECK(expected.top1.at(file).count(top_k[0].at("index").get<int>()) == 1);
  CHECK(event.at("latency_ms").at("inference").get<double>() > 0.0);
}

json WriteConfig(const fs::path& path, const json& config) {
  std::ofstream(path) << config.dump(2);
  return config;
}

json BaseConfig(const fs::path& dir, const std::string& camera) {
  return {
      {"camera",
       {{"name", camera}, {"type", "images"}, {"device", (SourceDir() / "tests/data/images").string()},
        {"fps", 3}, {"loop", true}, {"max_frames", 1000}}},
      {"model",
       {{"path", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string()},
        {"labels", (SourceDir() / "models/imagenet_labels.txt").string()}}},
      {"output", {{"top_k", 3}}},
      {"socket", {{"path", (dir / "lookoutd.sock").string()}, {"mode", "0600"}}},
  };
}

}  // namespace

TEST_CASE("lookoutd labels photos on the socket and over MQTT, and stops cleanly on SIGTERM",
          "[integration]") {
  const Expected expected = LoadExpected();
  REQUIRE(expected.order.size() == 6);
  TempDir dir;
  MosquittoBroker broker;
  MqttTestClient subscriber(broker.port());
  subscriber.Subscribe("lookout/itest/#");
  subscriber.Subscribe("homeassistant/#");

  json config = BaseConfig(dir.path(), "itest");
  config["mqtt"] = {{"enabled", true}, {"host", "127.0.0.1"}, {"port", broker.port()},
                    {"topic_prefix", "lookout/itest"}, {"qos", 1}, {"results", "every_frame"},
                    {"results_max_per_s", 0}};
  WriteConfig(dir.path() / "lookoutd.json", config);
  const fs::path socket_path = dir.path() / "lookoutd.sock";
  Process daemon({(BinaryDir() / "bin/lookoutd").string(), "--config", (dir.path() / "lookoutd.json").string()},
                 dir.path() / "lookoutd.out", dir.path() / "lookoutd.err");
  INFO("lookoutd stderr:\n" << daemon.Stderr());
  REQUIRE(WaitUntil([&] { return lookout::testing::Accepts(socket_path) || !daemon.Running(); }, 60s));
  REQUIRE(daemon.Running());

  // The event stream: at least one pass over the six photos.
  Client stream(socket_path);
  const json reply = stream.Request({{"cmd", "subscribe"}, {"id", 1}});
  REQUIRE(reply.at("ok") == true);
  REQUIRE(reply.at("id") == 1);
  std::set<std::string> photos_seen;
  uint64_t last_seq = 0;
  for (int i = 0; i < 40 && photos_seen.size() < expected.order.size(); ++i) {
    const auto line = stream.ReadLine(60s);
    REQUIRE(line.has_value());
    const json event = json::parse(*line);
    CheckEvent(event, expected, "itest");
    const uint64_t seq = event.at("seq");
    if (!photos_seen.empty()) CHECK(seq > last_seq);
    last_seq = seq;
    photos_seen.insert(expected.order[seq % expected.order.size()]);
  }
  CHECK(photos_seen.size() == expected.order.size());

  // Queries on a second connection; a malformed line does not end it.
  Client query(socket_path);
  const json stats = query.Request({{"cmd", "stats"}});
  INFO(stats.dump());
  REQUIRE(stats.at("ok") == true);
  CHECK(stats.at("result").at("frames_captured").get<int64_t>() >= 6);
  CHECK(stats.at("result").at("frames_inferred").get<int64_t>() >= 6);
  CHECK(stats.at("result").at("latency_ms").at("inference").at("p50").get<double>() > 0.0);
  query.SendLine("{\"cmd\": ");
  const json error = query.ReadJson();
  CHECK(error.at("ok") == false);
  CHECK(error.at("error").get<std::string>().find("JSON") != std::string::npos);
  const json health = query.Request({{"cmd", "health"}});
  CHECK(health.at("result").at("status") == "ok");
  CHECK(health.at("result").at("camera").at("state") == "running");
  query.SendLine("version");  // a bare command word works too
  const json version = query.ReadJson();
  CHECK(version.at("result").at("model") == "mobilenet_v2_1.0_224_quant");
  const json latest = query.Request({{"cmd", "latest"}});
  CheckEvent(latest.at("result"), expected, "itest");

  // MQTT: retained online, result events, Home Assistant discovery.
  REQUIRE(subscriber.WaitForCount("lookout/itest/result", 6, 60s));
  for (const auto& m : subscriber.Messages("lookout/itest/result")) {
    CheckEvent(json::parse(m.payload), expected, "itest");
  }
  const auto availability = subscriber.Messages("lookout/itest/availability");
  REQUIRE_FALSE(availability.empty());
  CHECK(availability.front().payload == "online");
  REQUIRE(subscriber.WaitForCount("homeassistant/sensor/lookout_itest/top_label/config", 1));
  const json discovery =
      json::parse(subscriber.Messages("homeassistant/sensor/lookout_itest/top_label/config").front().payload);
  CHECK(discovery.at("state_topic") == "lookout/itest/result");
  CHECK(discovery.at("availability_topic") == "lookout/itest/availability");

  // SIGTERM: exit 0, offline published, socket file removed.
  daemon.Signal(SIGTERM);
  CHECK(daemon.Wait(30s) == 0);
  CHECK(WaitUntil([&] {
    const auto a = subscriber.Messages("lookout/itest/availability");
    return !a.empty() && a.back().payload == "offline";
  }));
  CHECK_FALSE(fs::exists(socket_path));
  // A late subscriber gets the retained availability: offline.
  MqttTestClient late(broker.port());
  late.Subscribe("lookout/itest/availability");
  REQUIRE(late.WaitForCount("lookout/itest/availability", 1));
  CHECK(late.Messages("lookout/itest/availability").front().payload == "offline");
  CHECK(late.Messages("lookout/itest/availability").front().retain);
}

TEST_CASE("lookoutd --check-config names the bad key and starts nothing", "[integration]") {
  TempDir dir;
  json config = BaseConfig(dir.path(), "bad");
  config["camera"]["fpz"] = 5;
  WriteConfig(dir.path() / "bad.json", config);
  const auto r = RunToEnd({(BinaryDir() / "bin/lookoutd").string(), "--check-config",
                           (dir.path() / "bad.json").string()}, dir.path());
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK(r.err.find("/camera/fpz") != std::string::npos);

  config = BaseConfig(dir.path(), "bad");
  config["mqtt"] = {{"enabled", true}, {"port", 70000}};
  WriteConfig(dir.path() / "bad2.json", config);
  const auto r2 = RunToEnd({(BinaryDir() / "bin/lookoutd").string(), "--config",
                            (dir.path() / "bad2.json").string()}, dir.path());
  INFO(r2.err);
  CHECK(r2.status == 2);
  CHECK(r2.err.find("/mqtt/port") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "lookoutd.sock"));

  const auto missing = RunToEnd({(BinaryDir() / "bin/lookoutd").string(), "--check-config",
                              (dir.path() / "bad.json").string() + ".missing"}, dir.path());
  CHECK(missing.status != 0);
}

TEST_CASE("lookoutd refuses a truncated model before opening its socket", "[integration]") {
  TempDir dir;
  const auto bytes = lookout::testing::ReadFileBytes(SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite");
  const fs::path truncated = dir.path() / "truncated.tflite";
  std::ofstream(truncated, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), 1000);
  json config = BaseConfig(dir.path(), "trunc");
  config["model"]["path"] = truncated.string();
  WriteConfig(dir.path() / "lookoutd.json", config);
  const auto r = RunToEnd({(BinaryDir() / "bin/lookoutd").string(), "--config",
                           (dir.path() / "lookoutd.json").string()}, dir.path(), 60s);
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("truncated.tflite") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "lookoutd.sock"));
}

TEST_CASE("lookout classify --json labels the bundled photos", "[integration]") {
  const Expected expected = LoadExpected();
  TempDir dir;
  std::vector<std::string> argv = {LookoutForClassify(dir.path()).string(), "classify", "--json", "--top-k", "2",
                                   "--model", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string(),
                                   "--labels", (SourceDir() / "models/imagenet_labels.txt").string()};
  for (const auto& file : expected.order) argv.push_back((SourceDir() / "tests/data/images" / file).string());
  const auto r = RunToEnd(argv, dir.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.out);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    const std::string file = fs::path(j.at("image").get<std::string>()).filename().string();
    INFO(line);
    REQUIRE(j.at("top_k").size() == 2);
    CHECK(expected.top1.at(file).count(j.at("top_k")[0].at("index").get<int>()) == 1);
    ++n;
  }
  CHECK(n == expected.order.size());
}

TEST_CASE("lookout run copies raw tensors and refuses a wrong-size input", "[integration]") {
  TempDir dir;
  const std::string model = (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string();
  const fs::path bad = dir.path() / "short.raw", out = dir.path() / "out.raw";
  std::ofstream(bad, std::ios::binary) << std::string(1000, '\x80');
  const std::string lookout = (BinaryDir() / "bin/lookout").string();

  // Byte for byte what TensorFlow Lite's reference kernels give for the
  // same input (a bundled golden case).
  const fs::path golden = SourceDir() / "tests/data/golden";
  const auto ok = RunToEnd({lookout, "run", "--backend", "reference", "--model", model, "--input",
                            (golden / "mobilenet_v2_1.0_224_quant__parrot.in.raw").string(), "--output", out.string()},
                           dir.path());
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  CHECK(lookout::testing::ReadFileBytes(out) ==
        lookout::testing::ReadFileBytes(golden / "mobilenet_v2_1.0_224_quant__parrot.ref.out"));

  const auto refused = RunToEnd({lookout, "run", "--model", model, "--input", bad.string(), "--output",
                                 (dir.path() / "out2.raw").string()}, dir.path());
  CHECK(refused.status != 0);
  CHECK(refused.err.find("1000 bytes") != std::string::npos);
  CHECK(refused.err.find("150528") != std::string::npos);
}
