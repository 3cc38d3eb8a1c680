// Zones end to end: the real lookoutd, the bundled model, real photos and a
// real mosquitto that is restarted three times while lookoutd runs. An
// image folder plays two scenes of 20 frames each (4 frames/s; 1 under an
// emulator); every frame is two
// photos side by side, one per zone. The expected state of each zone comes
// from the photos' labels (tests/data/images/expected_top1.json, chosen by
// a person) mapped through the shipped groups file, not from lookoutd.
#include <algorithm>
#include <cstdint>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include "support/ha_discovery_schema.h"
#include "support/mosquitto_broker.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_support.h"
#include "support/unix_client.h"
#include "support/wait.h"

namespace {

namespace fs = std::filesystem;
using lookout::testing::BinaryDir;
using lookout::testing::BrokerOptions;
using lookout::testing::Client;
using lookout::testing::MosquittoBroker;
using lookout::testing::MqttTestClient;
using lookout::testing::Process;
using lookout::testing::ReadText;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

// The group (of models/imagenet_groups.json) a person's label for `photo`
// falls in: expected_top1.json's first index, its line in the label file
// (which starts with "background"), the group listing that line.
std::string GroupOf(const std::string& photo) {
  const json expected = json::parse(ReadText(SourceDir() / "tests/data/images/expected_top1.json"));
  const int index = expected.at(photo).at(0).get<int>();
  std::ifstream labels_file(SourceDir() / "models/imagenet_labels.txt");
  std::vector<std::string> labels;
  for (std::string line; std::getline(labels_file, line);) labels.push_back(line);
  const std::string label = labels.at(static_cast<size_t>(index) + 1);
  const json groups = json::parse(ReadText(SourceDir() / "models/imagenet_groups.json"));
  for (const auto& [group, members] : groups.items()) {
    for (const auto& member : members) {
      if (member == label) return group;
    }
  }
  return "";
}

cv::Mat Square(const std::string& photo) {
  const cv::Mat image = cv::imread((SourceDir() / "tests/data/images" / photo).string(), cv::IMREAD_COLOR);
  REQUIRE_FALSE(image.empty());
  cv::Mat out;
  cv::resize(image, out, cv::Size(320, 320), 0, 0, cv::INTER_AREA);
  return out;
}

// Values of a topic with consecutive repeats collapsed: the changes a
// subscriber saw (republished states and QoS 1 resends repeat a value).
std::vector<std::string> Changes(const std::vector<lookout::testing::ReceivedMessage>& messages) {
  std::vector<std::string> values;
  for (const auto& m : messages) {
    if (values.empty() || values.back() != m.payload) values.push_back(m.payload);
  }
  return values;
}

// RFC 4648 base64, decoded here rather than with lookoutd's encoder.
std::string Base64Decode(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const size_t v = kAlphabet.find(c);
    REQUIRE(v != std::string::npos);
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("zones: real photos, two zones, confirmed states over MQTT through three broker restarts",
          "[integration][zones]") {
  const std::string cat = "chelsea.png", dog = "welsh_springer_spaniel.jpg", bird = "parrot.jpg",
                    flicker = "hot_dog.jpg";
  const std::string cat_group = GroupOf(cat), dog_group = GroupOf(dog), bird_group = GroupOf(bird);
  REQUIRE(cat_group == "cat");
  REQUIRE(dog_group == "dog");
  REQUIRE(bird_group == "bird");
  REQUIRE(GroupOf(flicker).empty());  // A hot dog is in no group.

  // Scene A (frames 0-19): left a cat, right a dog; frame 10's left is a
  // hot dog for one frame. Scene B (20-39): left the dog, right the bird.
  TempDir dir;
  const fs::path frames = dir.path() / "frames";
  fs::create_directories(frames);
  for (int i = 0; i < 40; ++i) {
    const bool a = i < 20;
    const std::string left = a ? (i == 10 ? flicker : cat) : dog;
    const std::string right = a ? dog : bird;
    cv::Mat frame;
    cv::hconcat(Square(left), Square(right), frame);
    char name[32];
    std::snprintf(name, sizeof(name), "frame_%03d.png", i);
    REQUIRE(cv::imwrite((frames / name).string(), frame));
  }

  BrokerOptions broker_options;
  broker_options.persistence = true;  // The subscriber's session survives the restarts.
  MosquittoBroker broker(broker_options);
  lookout::testing::MqttTestClientOptions sub_options;
  sub_options.client_id = "zones-subscriber";
  sub_options.clean_session = false;
  MqttTestClient subscriber(broker.port(), sub_options);
  subscriber.Subscribe("lookout/zt/#", 1);

  // Under qemu inference is tens of times slower: a slower camera keeps
  // enough processed frames per scene to confirm its states.
  const double fps = lookout::testing::Emulator().empty() ? 4 : 1;
  const json config = {
      {"camera", {{"name", "zt"}, {"type", "images"}, {"device", frames.string()}, {"fps", fps}}},
      {"model",
       {{"path", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string()},
        {"labels", (SourceDir() / "models/imagenet_labels.txt").string()},
        {"groups", (SourceDir() / "models/imagenet_groups.json").string()}}},
      {"zones",
       {{{"name", "left"}, {"region", {0, 0, 0.5, 1}}, {"groups", {"cat", "dog"}}, {"threshold", 0.5},
         {"confirm_frames", 3}},
        {{"name", "right"}, {"region", {0.5, 0, 1, 1}}, {"groups", {"dog", "bird"}}, {"threshold", 0.5},
         {"confirm_frames", 3}}}},
      {"snapshot", {{"max_size", 320}}},
      {"socket", {{"path", (dir.path() / "lookoutd.sock").string()}}},
      {"mqtt",
       {{"enabled", true}, {"host", "127.0.0.1"}, {"port", broker.port()}, {"topic_prefix", "lookout/zt"},
        {"qos", 1}, {"reconnect_min_s", 1}, {"reconnect_max_s", 1}, {"results", "every_frame"},
        {"results_max_per_s", 0}}},
  };
  std::ofstream(dir.path() / "lookoutd.json") << config.dump(2);
  const fs::path socket_path = dir.path() / "lookoutd.sock";
  Process daemon({(BinaryDir() / "bin/lookoutd").string(), "--config", (dir.path() / "lookoutd.json").string()},
                 dir.path() / "lookoutd.out", dir.path() / "lookoutd.err");
  INFO("lookoutd stderr:\n" << daemon.Stderr());
  REQUIRE(WaitUntil([&] { return lookout::testing::Accepts(socket_path) || !daemon.Running(); }, 60s));
  REQUIRE(daemon.Running());
  Client stream(socket_path);
  REQUIRE(stream.Request({{"cmd", "subscribe"}}).at("ok") == true);

  // Reads the socket's stream; restarts the broker after frames 8, 18 and 28.
  std::vector<uint64_t> socket_results;
  std::vector<json> socket_changes;
  json state_reply, snapshot_reply;
  int cli_snapshot = -1;
  std::string cli_snapshot_out;
  int restarts = 0;
  const std::vector<uint64_t> restart_after = {8, 18, 28};
  while (true) {
    const auto line = stream.ReadLine(60s);
    if (!line) break;  // lookoutd closed the socket: end of input.
    const json event = json::parse(*line);
    if (event.value("type", "") == "state") {
      socket_changes.push_back(event);
      if (snapshot_reply.is_null() && event.at("zone") == "left" && event.at("state_changed") == true) {
        // While lookoutd runs: every zone's state, and the left zone's JPEG.
        Client query(socket_path);
        state_reply = query.Request({{"cmd", "state"}});
        snapshot_reply = query.Request({{"cmd", "snapshot"}, {"zone", "left"}});
        const auto result = lookout::testing::RunToEnd(
            {(BinaryDir() / "bin/lookout").string(), "query", "--socket", socket_path.string(), "--zone",
             "left", "--output", (dir.path() / "left.jpg").string(), "snapshot"},
            dir.path(), 60s);
        cli_snapshot = result.status;
        cli_snapshot_out = result.out + result.err;
      }
      continue;
    }
    const uint64_t seq = event.at("seq");
    socket_results.push_back(seq);
    if (restarts < 3 && seq >= restart_after[static_cast<size_t>(restarts)]) {
      broker.Stop();
      std::this_thread::sleep_for(600ms);
      broker.Start();
      ++restarts;
    }
  }
  CHECK(restarts == 3);
  INFO("state: " << state_reply.dump());
  REQUIRE(state_reply.at("ok") == true);
  CHECK(state_reply.at("result").at("zones").at("left").at("state") == cat_group);
  CHECK(state_reply.at("result").at("zones").contains("right"));
  REQUIRE(snapshot_reply.at("ok") == true);
  const json& snapshot = snapshot_reply.at("result");
  CHECK(snapshot.at("content_type") == "image/jpeg");
  CHECK(snapshot.at("state") == cat_group);
  const std::string socket_jpeg = Base64Decode(snapshot.at("jpeg_base64").get<std::string>());
  CHECK(socket_jpeg.size() == snapshot.at("bytes").get<size_t>());
  const cv::Mat socket_image =
      cv::imdecode(std::vector<uchar>(socket_jpeg.begin(), socket_jpeg.end()), cv::IMREAD_COLOR);
  CHECK(socket_image.cols == 320);
  CHECK(socket_image.rows == 160);
  // `lookout query --zone left --output F snapshot` writes the same JPEG.
  INFO("lookout query: " << cli_snapshot_out);
  CHECK(cli_snapshot == 0);
  CHECK_THAT(cli_snapshot_out, lookout::testing::Contains("\"file\":"));
  CHECK(ReadText(dir.path() / "left.jpg") == socket_jpeg);
  CHECK(daemon.Wait(60s) == 0);
  REQUIRE_FALSE(socket_results.empty());

  // Retained, for a subscriber arriving now: the final states.
  MqttTestClient late(broker.port());
  late.Subscribe("lookout/zt/#");
  late.Subscribe("homeassistant/#");
  REQUIRE(late.WaitForCount("lookout/zt/right/" + bird_group, 1));
  auto retained = [&](const std::string& topic) {
    const auto messages = late.Messages(topic);
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].retain);
    return messages[0].payload;
  };
  CHECK(retained("lookout/zt/left/state") == dog_group);
  CHECK(retained("lookout/zt/right/state") == bird_group);
  CHECK(retained("lookout/zt/left/cat") == "OFF");
  CHECK(retained("lookout/zt/left/dog") == "ON");
  CHECK(retained("lookout/zt/right/dog") == "OFF");
  CHECK(retained("lookout/zt/right/bird") == "ON");
  CHECK(retained("lookout/zt/availability") == "offline");
  const json attributes = json::parse(retained("lookout/zt/left/attributes"));
  CHECK(attributes.at("score").get<double>() >= 0.5);
  CHECK(attributes.at("seq").get<uint64_t>() >= 22);  // Scene B from frame 20, confirmed on its 3rd.
  for (const std::string zone : {"left", "right"}) {
    const std::string jpeg = retained("lookout/zt/" + zone + "/snapshot");
    const cv::Mat decoded = cv::imdecode(std::vector<uchar>(jpeg.begin(), jpeg.end()), cv::IMREAD_COLOR);
    REQUIRE_FALSE(decoded.empty());
    CHECK(jpeg.substr(0, 2) == "\xFF\xD8");  // JPEG's SOI marker
    CHECK(decoded.cols == 320);               // 640x320 frames, longest side 320
    CHECK(decoded.rows == 160);
  }
  // Every discovery config: retained and valid for Home Assistant.
  // 2 zones x (sensor, event, image) + 4 group binary_sensors + 4 diagnostics + top label and score.
  const size_t expected_configs = 6 + 4 + 4 + 2;
  auto count_configs = [&] {
    size_t n = 0;
    for (const auto& m : late.Messages()) n += m.topic.ends_with("/config");
    return n;
  };
  CHECK(WaitUntil([&] { return count_configs() >= expected_configs; }));
  size_t configs = 0;
  for (const auto& m : late.Messages()) {
    if (!m.topic.ends_with("/config")) continue;
    ++configs;
    INFO(m.topic << " " << m.payload);
    CHECK(m.retain);
    CHECK(lookout::testing::CheckDiscoveryConfig(m.topic, json::parse(m.payload), "homeassistant").empty());
  }
  CHECK(configs == expected_configs);

  // What the live subscriber saw through the restarts: one state message
  // per real change, none from the hot dog's single frame.
  CHECK(Changes(subscriber.Messages("lookout/zt/left/state")) == std::vector<std::string>{cat_group, dog_group});
  CHECK(Changes(subscriber.Messages("lookout/zt/right/state")) == std::vector<std::string>{dog_group, bird_group});
  CHECK(Changes(subscriber.Messages("lookout/zt/left/cat")) == std::vector<std::string>{"ON", "OFF"});
  CHECK(Changes(subscriber.Messages("lookout/zt/left/dog")) == std::vector<std::string>{"OFF", "ON"});
  // The event entity's messages: exactly the two changes per zone, in order.
  for (const std::string zone : {"left", "right"}) {
    std::vector<std::string> states;
    std::set<uint64_t> seqs;
    for (const auto& m : subscriber.Messages("lookout/zt/" + zone + "/event")) {
      const json event = json::parse(m.payload);
      CHECK(event.at("event_type") == "state_changed");
      if (!seqs.insert(event.at("seq").get<uint64_t>()).second) continue;  // a QoS 1 resend
      if (event.at("state_changed") == true) states.push_back(event.at("state"));
    }
    CHECK(states == (zone == "left" ? std::vector<std::string>{cat_group, dog_group}
                                    : std::vector<std::string>{dog_group, bird_group}));
  }
  // The socket had the same changes.
  std::vector<std::string> socket_left;
  for (const json& e : socket_changes) {
    if (e.at("zone") == "left" && e.at("state_changed") == true) socket_left.push_back(e.at("state"));
  }
  CHECK(socket_left == std::vector<std::string>{cat_group, dog_group});

  // Result events: in order and complete through the restarts. The socket
  // saw every frame from its subscription on; MQTT has all of those, each
  // once after QoS 1 resends are set aside, in the same order.
  std::vector<uint64_t> mqtt_results;
  uint64_t newest = 0;
  for (const auto& m : subscriber.Messages("lookout/zt/result")) {
    const uint64_t seq = json::parse(m.payload).at("seq");
    // Anything older than the newest seen is a QoS 1 resend after a
    // reconnect: at most libmosquitto's in-flight window (20) back.
    CHECK(seq + 20 >= newest);
    newest = std::max(newest, seq);
    if (std::find(mqtt_results.begin(), mqtt_results.end(), seq) != mqtt_results.end()) continue;
    mqtt_results.push_back(seq);
  }
  CHECK(std::is_sorted(mqtt_results.begin(), mqtt_results.end()));
  const auto first = std::find(mqtt_results.begin(), mqtt_results.end(), socket_results.front());
  REQUIRE(first != mqtt_results.end());
  CHECK(std::vector<uint64_t>(first, mqtt_results.end()) == socket_results);
  INFO("result events: socket " << socket_results.size() << ", MQTT " << mqtt_results.size()
                                << ", messages on the result topic " << subscriber.Messages("lookout/zt/result").size());
  CHECK(socket_results.back() == 39);
  // The counts, for the record (Catch prints a WARN even when all passes).
  WARN("frames processed (socket) " << socket_results.size() << "; MQTT result messages "
       << subscriber.Messages("lookout/zt/result").size() << ", distinct " << mqtt_results.size()
       << "; left/state messages " << subscriber.Messages("lookout/zt/left/state").size() << " (changes "
       << Changes(subscriber.Messages("lookout/zt/left/state")).size() << "), right/state messages "
       << subscriber.Messages("lookout/zt/right/state").size() << " (changes "
       << Changes(subscriber.Messages("lookout/zt/right/state")).size() << "); left/event messages "
       << subscriber.Messages("lookout/zt/left/event").size() << ", right/event "
       << subscriber.Messages("lookout/zt/right/event").size() << "; broker restarts " << restarts);
}
