// The field table (config/src/fields.h) against hand-written expectations:
// its keys, the defaults ConfigToJson shows, a round trip of a config that
// differs from the defaults in every key, the reference it renders and
// docs/config.md holding that reference.
#include "support/catch_compat.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "lookout/config/config.h"
#include "support/test_support.h"

namespace lookout::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Every key, in reference order.
const std::vector<std::string> kAllPointers = {
    "/camera/name", "/camera/type", "/camera/device", "/camera/width", "/camera/height",
    "/camera/fps", "/camera/loop", "/camera/max_frames", "/camera/max_fps", "/camera/max_frame_pixels",
    "/model/path", "/model/labels", "/model/groups", "/model/threads", "/model/backend",
    "/model/center_crop", "/model/mean", "/model/std",
    "/output/top_k", "/output/score_threshold",
    "/zones",
    "/snapshot/enabled", "/snapshot/max_size", "/snapshot/quality",
    "/socket/enabled", "/socket/path", "/socket/mode", "/socket/group", "/socket/max_clients",
    "/socket/max_client_buffer_bytes",
    "/mqtt/enabled", "/mqtt/host", "/mqtt/port", "/mqtt/client_id", "/mqtt/username",
    "/mqtt/password", "/mqtt/topic_prefix", "/mqtt/qos", "/mqtt/retain", "/mqtt/keepalive_s",
    "/mqtt/reconnect_min_s", "/mqtt/reconnect_max_s", "/mqtt/queue_limit", "/mqtt/results",
    "/mqtt/results_max_per_s", "/mqtt/diagnostics_interval_s",
    "/mqtt/tls/enabled", "/mqtt/tls/ca_file", "/mqtt/tls/cert_file", "/mqtt/tls/key_file",
    "/mqtt/tls/verify",
    "/mqtt/discovery/enabled", "/mqtt/discovery/prefix",
    "/log/level", "/log/repeats_per_minute",
};

std::vector<std::string> TablePointers() {
  std::vector<std::string> pointers;
  for (const auto& field : internal::Fields().fields) pointers.push_back(field->pointer());
  return pointers;
}

std::set<std::string> LeafPointers(const json& document) {
  std::set<std::string> pointers;
  const json flat = document.flatten();
  for (const auto& [pointer, unused] : flat.items()) {
    // flatten() splits arrays into elements: /model/mean/0 is part of /model/mean,
    // /zones/0/region/1 of /zones; an empty array stays a leaf.
    if (pointer.starts_with("/zones")) {
      pointers.insert("/zones");
      continue;
    }
    const size_t element = pointer.find_last_of('/');
    const bool is_element = std::all_of(pointer.begin() + static_cast<long>(element) + 1,
                                        pointer.end(), [](char c) { return c >= '0' && c <= '9'; });
    pointers.insert(is_element ? pointer.substr(0, element) : pointer);
  }
  return pointers;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("the field table has every key, in reference order", "[config]") {
  CHECK(TablePointers() == kAllPointers);
}

TEST_CASE("ConfigToJson of a default Config shows every key with its default", "[config]") {
  const json dumped = ConfigToJson(Config{});
  CHECK(LeafPointers(dumped) == std::set<std::string>(kAllPointers.begin(), kAllPointers.end()));
  for (const std::string& pointer : TablePointers()) {
    CAPTURE(pointer);
    CHECK(dumped.contains(json::json_pointer(pointer)));
  }
  // dump() tells 0 from 0.0, which json's operator== does not.
  const json expected = json::parse(R"({
    "camera": {"name": "camera", "type": "images", "device": "", "width": 0, "height": 0,
               "fps": 0.0, "loop": false, "max_frames": 0, "max_fps": 0.0, "max_frame_pixels": 16777216},
    "model": {"path": "", "labels": "", "groups": "", "threads": 1, "backend": "xnnpack",
              "center_crop": false, "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]},
    "output": {"top_k": 5, "score_threshold": 0.0},
    "zones": [],
    "snapshot": {"enabled": true, "max_size": 640, "quality": 80},
    "socket": {"enabled": true, "path": "/run/lookout/lookoutd.sock", "mode": "0660",
               "group": "", "max_clients": 32, "max_client_buffer_bytes": 1048576},
    "mqtt": {"enabled": false, "host": "localhost", "port": 1883, "client_id": "",
             "username": "", "password": "", "topic_prefix": "", "qos": 1, "retain": false,
             "keepalive_s": 30, "reconnect_min_s": 1, "reconnect_max_s": 60,
             "queue_limit": 1000, "results": "off", "results_max_per_s": 1.0,
             "diagnostics_interval_s": 60,
             "tls": {"enabled": false, "ca_file": "", "cert_file": "", "key_file": "",
                     "verify": true},
             "discovery": {"enabled": true, "prefix": "homeassistant"}},
    "log": {"level": "info", "repeats_per_minute": 5}
  })");
  CHECK(dumped.dump(1) == expected.dump(1));
}

TEST_CASE("a config unlike the defaults in every key dumps and parses back", "[config]") {
  Config c;
  c.camera.name = "porch";
  c.camera.type = SourceType::kVideo;
  c.camera.device = "/srv/clip.mp4";
  c.camera.width = 640;
  c.camera.height = 480;
  c.camera.fps = 7.5;
  c.camera.loop = true;
  c.camera.max_frames = 99;
  c.camera.max_fps = 2.5;
  c.camera.max_frame_pixels = 1000000;
  c.model.path = "/opt/m.tflite";
  c.model.labels = "/opt/labels.txt";
  c.model.groups = "/opt/groups.json";
  c.model.threads = 3;
  c.model.backend = "reference";
  c.model.center_crop = true;
  c.model.mean = {1.0, 2.0, 3.0};
  c.model.std = {4.0, 5.0, 6.5};
  c.output.top_k = 7;
  c.output.score_threshold = -1.25;
  ZoneConfig zone;
  zone.name = "sofa";
  zone.region = {0.25, 0.5, 0.75, 1.0};
  zone.groups = {"cat", "dog"};
  zone.threshold = 0.4;
  zone.confirm_frames = 5;
  zone.min_hold_s = 2.5;
  c.zones = {zone};
  c.snapshot.enabled = false;
  c.snapshot.max_size = 320;
  c.snapshot.quality = 90;
  c.socket.enabled = false;
  c.socket.path = "/tmp/x.sock";
  c.socket.mode = 0640;
  c.socket.group = "video";
  c.socket.max_clients = 2;
  c.socket.max_client_buffer_bytes = 8192;
  c.mqtt.enabled = true;
  c.mqtt.host = "broker";
  c.mqtt.port = 8883;
  c.mqtt.client_id = "cid";
  c.mqtt.username = "user";
  c.mqtt.password = "hunter2";
  c.mqtt.topic_prefix = "a/b";
  c.mqtt.qos = 0;
  c.mqtt.retain = true;
  c.mqtt.keepalive_s = 10;
  c.mqtt.reconnect_min_s = 3;
  c.mqtt.reconnect_max_s = 9;
  c.mqtt.queue_limit = 5;
  c.mqtt.results = "every_frame";
  c.mqtt.results_max_per_s = 0.0;
  c.mqtt.diagnostics_interval_s = 30;
  c.mqtt.tls.enabled = true;
  c.mqtt.tls.ca_file = "/etc/ca.crt";
  c.mqtt.tls.cert_file = "/etc/c.crt";
  c.mqtt.tls.key_file = "/etc/c.key";
  c.mqtt.tls.verify = false;
  c.mqtt.discovery.enabled = false;
  c.mqtt.discovery.prefix = "ha";
  c.log.level = "debug";
  c.log.repeats_per_minute = 20;

  const json dumped = ConfigToJson(c);
  const json expected = json::parse(R"({
    "camera": {"name": "porch", "type": "video", "device": "/srv/clip.mp4", "width": 640,
               "height": 480, "fps": 7.5, "loop": true, "max_frames": 99, "max_fps": 2.5,
               "max_frame_pixels": 1000000},
    "model": {"path": "/opt/m.tflite", "labels": "/opt/labels.txt",
              "groups": "/opt/groups.json", "threads": 3,
              "backend": "reference", "center_crop": true, "mean": [1.0, 2.0, 3.0],
              "std": [4.0, 5.0, 6.5]},
    "output": {"top_k": 7, "score_threshold": -1.25},
    "zones": [{"name": "sofa", "region": [0.25, 0.5, 0.75, 1.0], "groups": ["cat", "dog"],
               "threshold": 0.4, "confirm_frames": 5, "min_hold_s": 2.5}],
    "snapshot": {"enabled": false, "max_size": 320, "quality": 90},
    "socket": {"enabled": false, "path": "/tmp/x.sock", "mode": "0640", "group": "video",
               "max_clients": 2, "max_client_buffer_bytes": 8192},
    "mqtt": {"enabled": true, "host": "broker", "port": 8883, "client_id": "cid",
             "username": "user", "password": "***", "topic_prefix": "a/b", "qos": 0,
             "retain": true, "keepalive_s": 10, "reconnect_min_s": 3, "reconnect_max_s": 9,
             "queue_limit": 5, "results": "every_frame", "results_max_per_s": 0.0,
             "diagnostics_interval_s": 30,
             "tls": {"enabled": true, "ca_file": "/etc/ca.crt", "cert_file": "/etc/c.crt",
                     "key_file": "/etc/c.key", "verify": false},
             "discovery": {"enabled": false, "prefix": "ha"}},
    "log": {"level": "debug", "repeats_per_minute": 20}
  })");
  CHECK(dumped.dump(1) == expected.dump(1));

  // The test covers every key only if each differs from its default.
  const json defaults = ConfigToJson(Config{}).flatten();
  const json flat = dumped.flatten();
  for (const auto& [pointer, value] : flat.items()) {
    CAPTURE(pointer);
    if (pointer.starts_with("/zones/0/")) {
      // The default is no zone: compare with a default zone's key instead.
      const std::string key = pointer.substr(9, pointer.find('/', 9) - 9);
      const json default_zone = json::parse(R"({"region": [0.0, 0.0, 1.0, 1.0], "groups": [],
          "threshold": 0.5, "confirm_frames": 3, "min_hold_s": 0.0})");
      if (default_zone.contains(key)) CHECK(dumped["zones"][0][key] != default_zone[key]);
      continue;
    }
    CHECK(value != defaults.at(pointer));
  }

  Config parsed_back = c;
  parsed_back.mqtt.password = "***";  // ConfigToJson never shows it
  CHECK(ParseConfig(dumped.dump()) == parsed_back);
}

TEST_CASE("the reference shows each key's type, range, default and description", "[config]") {
  const std::string reference = ConfigReferenceMarkdown();
  CHECK_THAT(reference, lookout::testing::StartsWith(
                            "<!-- BEGIN GENERATED: lookout config reference"));
  CHECK_THAT(reference, lookout::testing::EndsWith("\n<!-- END GENERATED -->\n"));
  for (const std::string& pointer : kAllPointers) {
    CAPTURE(pointer);
    CHECK_THAT(reference, lookout::testing::Contains("\n| `" + pointer + "` | "));
  }
  CHECK_THAT(reference, lookout::testing::Contains(
                            "\n| `/mqtt/port` | integer | [1, 65535] | `1883` | Broker port. |\n"));
  CHECK_THAT(reference, lookout::testing::Contains(
                            "\n| `/model/path` | string | non-empty | **required** | "));
  CHECK_THAT(reference, lookout::testing::Contains(
                            "\n| `/socket/mode` | string | 3 or 4 octal digits, at most "
                            "`\"0777\"` | `\"0660\"` | "));
  CHECK_THAT(reference, lookout::testing::Contains(
                            "\n| `/model/std` | array of 3 numbers (R, G, B) | each > 0 | "
                            "`[127.5,127.5,127.5]` | "));
  CHECK_THAT(reference, lookout::testing::Contains(
                            "\n| `/socket/max_client_buffer_bytes` | integer | >= 4096 | "
                            "`1048576` | "));
  CHECK_THAT(reference, lookout::testing::Contains("\n### `/mqtt/discovery`: "));
  for (const char* type : {"libcamera", "v4l2", "video", "rtsp", "images"}) {
    CHECK_THAT(reference,
               lookout::testing::Contains("\n- `\"" + std::string(type) + "\"`: "));
  }
}

TEST_CASE("integer and number ranges in the reference are those the parser enforces",
          "[config]") {
  const std::string minimal =
      R"({"camera": {"device": "/f"}, "model": {"path": "/m.tflite"}})";
  int checked = 0;
  for (const auto& field : internal::Fields().fields) {
    const std::string allowed = field->Allowed();
    json document = json::parse(minimal);
    std::string expected;
    const std::string type = field->Type();
    if (type == "integer" && allowed.starts_with("[")) {
      // "[min, max]": max + 1 is refused, naming the same range.
      const int64_t max = std::stoll(allowed.substr(allowed.find(", ") + 2));
      document[json::json_pointer(field->pointer())] = max + 1;
      expected = "expected an integer in " + allowed + ", got " + std::to_string(max + 1);
    } else if ((type == "integer" || type == "number") && allowed.starts_with(">= ")) {
      // ">= min": min - 1 is refused, naming the same bound.
      const int64_t min = std::stoll(allowed.substr(3));
      document[json::json_pointer(field->pointer())] = min - 1;
      expected = (type == "integer" ? "expected an integer " : "expected a number ") + allowed +
                 ", got " + std::to_string(min - 1);
    } else {
      continue;
    }
    CAPTURE(field->pointer(), document.dump());
    try {
      ParseConfig(document.dump());
      FAIL_CHECK("accepted");
    } catch (const ConfigError& e) {
      CHECK(e.pointer() == field->pointer());
      CHECK(std::string(e.what()) == field->pointer() + ": " + expected);
    }
    ++checked;
  }
  // 16 integers, /camera/fps, /camera/max_fps and /mqtt/results_max_per_s.
  CHECK(checked == 21);
}

TEST_CASE("docs/config.md holds the current generated reference", "[config]") {
  const fs::path path = lookout::testing::SourceDir() / "docs" / "config.md";
  const std::string doc = ReadText(path);
  const std::string reference = ConfigReferenceMarkdown();
  const size_t at = doc.find(reference);
  INFO(path.string() << " does not hold ConfigReferenceMarkdown()'s text: regenerate it with "
                        "`cmake --build build --target config_doc` and commit the result");
  REQUIRE(at != std::string::npos);
  // One block only, so that a stale copy cannot sit beside the current one.
  CHECK(doc.find("<!-- BEGIN GENERATED: lookout config reference") == at);
  CHECK(doc.find("<!-- BEGIN GENERATED", at + 1) == std::string::npos);
}

TEST_CASE("the JSON examples in docs/config.md parse", "[config]") {
  const std::string doc = ReadText(lookout::testing::SourceDir() / "docs" / "config.md");
  int count = 0;
  for (size_t at = doc.find("```json\n"); at != std::string::npos;
       at = doc.find("```json\n", at)) {
    at += 8;
    const size_t end = doc.find("```", at);
    REQUIRE(end != std::string::npos);
    const std::string example = doc.substr(at, end - at);
    CAPTURE(example);
    CHECK_NOTHROW(ParseConfig(example));
    at = end + 3;
    ++count;
  }
  CHECK(count == 2);
}

}  // namespace
}  // namespace lookout::config
