#include "lookout/config/config.h"

#include "support/catch_compat.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_dir.h"
#include "support/test_support.h"

namespace lookout::config {
namespace {

namespace fs = std::filesystem;
using lookout::testing::TempDir;
using nlohmann::json;

// The smallest valid document; bad cases are patches onto it.
const char* const kMinimal = R"({
  "camera": {"name": "cam1", "type": "images", "device": "/srv/frames"},
  "model": {"path": "/opt/models/m.tflite"}
})";

std::optional<ConfigError> ErrorOf(const std::string& text) {
  try {
    ParseConfig(text, "/etc/lookout");
  } catch (const ConfigError& e) {
    return e;
  }
  return std::nullopt;
}

std::string Patched(const std::string& patch) {
  json doc = json::parse(kMinimal);
  doc.merge_patch(json::parse(patch));
  return doc.dump();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

TEST_CASE("a full config parses to the expected values", "[config]") {
  const Config c = ParseConfig(R"({
    "camera": {"name": "front-door_2", "type": "v4l2", "device": "/dev/video2",
               "width": 1280, "height": 720, "fps": 12.5, "loop": true, "max_frames": 500},
    "model": {"path": "/opt/m.tflite", "labels": "/opt/labels.txt", "threads": 4,
              "center_crop": true, "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
    "output": {"top_k": 3, "score_threshold": -2.5},
    "socket": {"enabled": true, "path": "/tmp/l.sock", "mode": "0600", "group": "video",
               "max_clients": 4, "max_client_buffer_bytes": 65536},
    "mqtt": {"enabled": true, "host": "broker.lan", "port": 8883, "client_id": "lk1",
             "username": "u", "password": "p", "topic_prefix": "home/cams/front",
             "qos": 2, "retain": true, "keepalive_s": 60, "reconnect_min_s": 2,
             "reconnect_max_s": 120, "queue_limit": 0,
             "discovery": {"enabled": false, "prefix": "ha"}}
  })");

  CHECK(c.camera.name == "front-door_2");
  CHECK(c.camera.type == SourceType::kV4l2);
  CHECK(c.camera.device == "/dev/video2");
  CHECK(c.camera.width == 1280);
  CHECK(c.camera.height == 720);
  CHECK(c.camera.fps == 12.5);
  CHECK(c.camera.loop);
  CHECK(c.camera.max_frames == 500);

  CHECK(c.model.path == fs::path("/opt/m.tflite"));
  CHECK(c.model.labels == fs::path("/opt/labels.txt"));
  CHECK(c.model.threads == 4);
  CHECK(c.model.center_crop);
  CHECK(c.model.mean == std::array<double, 3>{123.675, 116.28, 103.53});
  CHECK(c.model.std == std::array<double, 3>{58.395, 57.12, 57.375});

  CHECK(c.output.top_k == 3);
  CHECK(c.output.score_threshold == -2.5);

  CHECK(c.socket.enabled);
  CHECK(c.socket.path == fs::path("/tmp/l.sock"));
  CHECK(c.socket.mode == 0600);
  CHECK(c.socket.group == "video");
  CHECK(c.socket.max_clients == 4);
  CHECK(c.socket.max_client_buffer_bytes == 65536);

  CHECK(c.mqtt.enabled);
  CHECK(c.mqtt.host == "broker.lan");
  CHECK(c.mqtt.port == 8883);
  CHECK(c.mqtt.client_id == "lk1");
  CHECK(c.mqtt.username == "u");
  CHECK(c.mqtt.password == "p");
  CHECK(c.mqtt.topic_prefix == "home/cams/front");
  CHECK(c.mqtt.qos == 2);
  CHECK(c.mqtt.retain);
  CHECK(c.mqtt.keepalive_s == 60);
  CHECK(c.mqtt.reconnect_min_s == 2);
  CHECK(c.mqtt.reconnect_max_s == 120);
  CHECK(c.mqtt.queue_limit == 0);
  CHECK_FALSE(c.mqtt.discovery.enabled);
  CHECK(c.mqtt.discovery.prefix == "ha");
}

TEST_CASE("omitted keys keep the struct defaults", "[config]") {
  const Config c = ParseConfig(kMinimal);
  Config expected;
  expected.camera.name = "cam1";
  expected.camera.type = SourceType::kImages;
  expected.camera.device = "/srv/frames";
  expected.model.path = "/opt/models/m.tflite";
  expected.mqtt.client_id = "lookout-cam1";
  expected.mqtt.topic_prefix = "lookout/cam1";
  CHECK(c == expected);
  CHECK(c.socket.mode == 0660);
  CHECK(c.mqtt.port == 1883);
  CHECK(c.model.mean == std::array<double, 3>{127.5, 127.5, 127.5});
}

TEST_CASE("client_id and topic_prefix derive from the camera name", "[config]") {
  SECTION("derived when absent or empty") {
    const Config c = ParseConfig(Patched(R"({"camera": {"name": "garage"},
                                            "mqtt": {"client_id": ""}})"));
    CHECK(c.mqtt.client_id == "lookout-garage");
    CHECK(c.mqtt.topic_prefix == "lookout/garage");
  }
  SECTION("explicit values win") {
    const Config c = ParseConfig(Patched(R"({"mqtt": {"client_id": "x", "topic_prefix": "a/b"}})"));
    CHECK(c.mqtt.client_id == "x");
    CHECK(c.mqtt.topic_prefix == "a/b");
  }
  SECTION("the default camera name") {
    const Config c = ParseConfig(Patched(R"({"camera": {"name": null}})"));
    CHECK(c.camera.name == "camera");
    CHECK(c.mqtt.topic_prefix == "lookout/camera");
  }
}

TEST_CASE("relative paths resolve against the base folder", "[config]") {
  SECTION("model, labels and an images folder") {
    const Config c = ParseConfig(R"({
      "camera": {"type": "images", "device": "frames/day1"},
      "model": {"path": "models/m.tflite", "labels": "../shared/labels.txt"}
    })", "/etc/lookout");
    CHECK(c.model.path == fs::path("/etc/lookout/models/m.tflite"));
    CHECK(c.model.labels == fs::path("/etc/shared/labels.txt"));
    CHECK(c.camera.device == "/etc/lookout/frames/day1");
  }
  SECTION("a video file, but not a video URL") {
    CHECK(ParseConfig(R"({"camera": {"type": "video", "device": "clip.mp4"},
                          "model": {"path": "/m.tflite"}})", "/data")
              .camera.device == "/data/clip.mp4");
    CHECK(ParseConfig(R"({"camera": {"type": "video", "device": "http://cam/x.mjpg"},
                          "model": {"path": "/m.tflite"}})", "/data")
              .camera.device == "http://cam/x.mjpg");
  }
  SECTION("absolute paths and non-file devices are left alone") {
    const Config c = ParseConfig(R"({
      "camera": {"type": "v4l2", "device": "0"},
      "model": {"path": "/abs/m.tflite", "labels": ""}
    })", "/etc/lookout");
    CHECK(c.camera.device == "0");
    CHECK(c.model.path == fs::path("/abs/m.tflite"));
    CHECK(c.model.labels.empty());
  }
  SECTION("no base folder: paths stay relative") {
    const Config c = ParseConfig(R"({"camera": {"device": "frames"},
                                     "model": {"path": "m.tflite"}})");
    CHECK(c.model.path == fs::path("m.tflite"));
    CHECK(c.camera.device == "frames");
  }
}

TEST_CASE("libcamera needs no device", "[config]") {
  const Config c = ParseConfig(R"({"camera": {"type": "libcamera"},
                                   "model": {"path": "/m.tflite"}})");
  CHECK(c.camera.type == SourceType::kLibcamera);
  CHECK(c.camera.device.empty());
}

TEST_CASE("a disabled socket may have any path", "[config]") {
  const std::string long_path(200, 'x');
  const Config c =
      ParseConfig(Patched(R"({"socket": {"enabled": false, "path": ")" + long_path + "\"}}"));
  CHECK_FALSE(c.socket.enabled);
}

TEST_CASE("zones: defaults per key, groups resolved against the config folder", "[config]") {
  const Config c = ParseConfig(Patched(R"({
      "model": {"labels": "labels.txt", "groups": "groups.json"},
      "zones": [{"name": "driveway", "region": [0, 0.5, 0.5, 1], "groups": ["car", "truck"]},
                {"name": "door"}]})"),
                               "/etc/lookout");
  CHECK(c.model.groups == "/etc/lookout/groups.json");
  REQUIRE(c.zones.size() == 2);
  CHECK(c.zones[0].name == "driveway");
  CHECK(c.zones[0].region == std::array<double, 4>{0.0, 0.5, 0.5, 1.0});
  CHECK(c.zones[0].groups == std::vector<std::string>{"car", "truck"});
  CHECK(c.zones[0].threshold == 0.5);
  CHECK(c.zones[0].confirm_frames == 3);
  CHECK(c.zones[0].min_hold_s == 0.0);
  CHECK(c.zones[1].region == std::array<double, 4>{0.0, 0.0, 1.0, 1.0});
  CHECK(c.zones[1].groups.empty());
  CHECK(ZonesOrDefault(c).size() == 2);

  const std::vector<ZoneConfig> implicit = ZonesOrDefault(ParseConfig(kMinimal));
  REQUIRE(implicit.size() == 1);
  CHECK(implicit[0].name == "frame");
  CHECK(implicit[0].region == std::array<double, 4>{0.0, 0.0, 1.0, 1.0});
}

struct BadCase {
  std::string patch;  // merged into kMinimal
  std::string pointer;
  std::string message;  // a substring of what()
};

TEST_CASE("bad values name the key and what was expected", "[config]") {
  const std::vector<BadCase> cases = {
      // Unknown keys.
      {R"({"modle": {}})", "/modle", "unknown key (expected one of: camera, model, output"},
      {R"({"camera": {"typo": 1}})", "/camera/typo",
       "unknown key (expected one of: name, type, device, width"},
      {R"({"mqtt": {"discovery": {"typo": true}}})", "/mqtt/discovery/typo",
       "unknown key (expected one of: enabled, prefix)"},
      {R"({"camera": {"a/b~c": 1}})", "/camera/a~1b~0c", "unknown key"},
      // Wrong types.
      {R"({"camera": {"loop": "yes"}})", "/camera/loop", "expected a boolean, got string \"yes\""},
      {R"({"mqtt": {"port": "1883"}})", "/mqtt/port", "expected an integer in [1, 65535], got string"},
      {R"({"mqtt": {"port": 1883.5}})", "/mqtt/port", "expected an integer in [1, 65535], got 1883.5"},
      {R"({"model": {"path": 5}})", "/model/path", "expected a string, got number 5"},
      {R"({"camera": [1]})", "/camera", "expected an object, got array"},
      {R"({"mqtt": {"discovery": true}})", "/mqtt/discovery", "expected an object, got boolean"},
      {R"({"output": {"score_threshold": "high"}})", "/output/score_threshold",
       "expected a number, got string"},
      {R"({"socket": {"group": 0}})", "/socket/group", "expected a string, got number 0"},
      // Out of range.
      {R"({"mqtt": {"port": 70000}})", "/mqtt/port", "expected an integer in [1, 65535], got 70000"},
      {R"({"mqtt": {"port": 0}})", "/mqtt/port", "got 0"},
      {R"({"mqtt": {"qos": 3}})", "/mqtt/qos", "expected an integer in [0, 2], got 3"},
      {R"({"mqtt": {"keepalive_s": 1}})", "/mqtt/keepalive_s", "in [5, 3600]"},
      {R"({"mqtt": {"reconnect_min_s": 0}})", "/mqtt/reconnect_min_s", "expected an integer >= 1"},
      {R"({"mqtt": {"reconnect_min_s": 30, "reconnect_max_s": 10}})", "/mqtt/reconnect_max_s",
       "expected an integer >= reconnect_min_s (30), got 10"},
      {R"({"mqtt": {"queue_limit": -1}})", "/mqtt/queue_limit", "expected an integer >= 0, got -1"},
      {R"({"mqtt": {"queue_limit": 3000000000}})", "/mqtt/queue_limit",
       "expected an integer in [0, 2147483647], got 3000000000"},
      {R"({"model": {"threads": 0}})", "/model/threads", "expected an integer in [1, 64], got 0"},
      {R"({"model": {"threads": 65}})", "/model/threads", "got 65"},
      {R"({"model": {"threads": 1e3}})", "/model/threads", "got 1000.0"},
      {R"({"model": {"backend": "tpu"}})", "/model/backend", "expected one of \"xnnpack\", \"reference\", got \"tpu\""},
      {R"({"model": {"backend": 1}})", "/model/backend",
       R"(expected one of "xnnpack", "reference", got number 1)"},
      {R"({"output": {"top_k": 0}})", "/output/top_k", "expected an integer in [1, 100], got 0"},
      {R"({"output": {"top_k": 101}})", "/output/top_k", "got 101"},
      {R"({"camera": {"fps": -1}})", "/camera/fps", "expected a number >= 0, got -1"},
      {R"({"camera": {"width": -640}})", "/camera/width", "expected an integer >= 0, got -640"},
      {R"({"camera": {"max_frames": -1}})", "/camera/max_frames", "expected an integer >= 0"},
      {R"({"socket": {"max_clients": 0}})", "/socket/max_clients", "expected an integer >= 1"},
      {R"({"socket": {"max_client_buffer_bytes": 1024}})", "/socket/max_client_buffer_bytes",
       "expected an integer >= 4096, got 1024"},
      // Enum and names.
      {R"({"camera": {"type": "usb"}})", "/camera/type",
       R"(expected one of "libcamera", "v4l2", "video", "rtsp", "images", got "usb")"},
      {R"({"camera": {"type": 2}})", "/camera/type", "got number 2"},
      {R"({"camera": {"name": "front door"}})", "/camera/name",
       "expected a name matching [A-Za-z0-9_-]+, got \"front door\""},
      {R"({"camera": {"name": "a/#"}})", "/camera/name", "[A-Za-z0-9_-]+"},
      {R"({"camera": {"name": ""}})", "/camera/name", "[A-Za-z0-9_-]+"},
      // Socket mode.
      {R"({"socket": {"mode": "rw-rw----"}})", "/socket/mode",
       "expected an octal string like \"0660\""},
      {R"({"socket": {"mode": "0680"}})", "/socket/mode", "got \"0680\""},
      {R"({"socket": {"mode": "4755"}})", "/socket/mode", "at most \"0777\""},
      {R"({"socket": {"mode": "66"}})", "/socket/mode", "octal string"},
      {R"({"socket": {"mode": 660}})", "/socket/mode", "octal string like \"0660\" (at most \"0777\"), got number 660"},
      {R"({"socket": {"path": ""}})", "/socket/path", "must not be empty"},
      {"{\"socket\": {\"path\": \"/run/" + std::string(110, 'x') + "\"}}", "/socket/path",
       "shorter than 108 bytes"},
      // Required keys.
      {R"({"model": {"path": null}})", "/model/path", "required"},
      {R"({"model": null})", "/model/path", "required"},
      {R"({"model": {"path": ""}})", "/model/path", "must not be empty"},
      {R"({"camera": {"type": "v4l2", "device": null}})", "/camera/device",
       "required (for camera type \"v4l2\")"},
      {R"({"camera": {"device": null}})", "/camera/device", "required (for camera type \"images\")"},
      {R"({"camera": {"type": "video", "device": ""}})", "/camera/device", "must not be empty"},
      {R"({"camera": {"type": "rtsp", "device": "192.168.1.5"}})", "/camera/device",
       "expected a stream URL"},
      // Mean and std.
      {R"({"model": {"mean": [1, 2]}})", "/model/mean",
       "expected an array of 3 numbers (R, G, B), got 2 elements"},
      {R"({"model": {"mean": 127.5}})", "/model/mean", "expected an array of 3 numbers"},
      {R"({"model": {"mean": [1, 2, "3"]}})", "/model/mean/2", "expected a number, got string"},
      {R"({"model": {"std": [1, 0, 1]}})", "/model/std/1", "expected a number > 0, got 0"},
      {R"({"model": {"std": [1, 1, -2]}})", "/model/std/2", "> 0"},
      // MQTT strings.
      {R"({"mqtt": {"enabled": true, "host": ""}})", "/mqtt/host", "must not be empty"},
      {R"({"mqtt": {"topic_prefix": "home/#"}})", "/mqtt/topic_prefix", "wildcards"},
      {R"({"mqtt": {"topic_prefix": "home/+/cam"}})", "/mqtt/topic_prefix", "wildcards"},
      {R"({"mqtt": {"topic_prefix": "home/\u0000"}})", "/mqtt/topic_prefix", "NUL"},
      {R"({"mqtt": {"topic_prefix": "home/"}})", "/mqtt/topic_prefix", "trailing '/'"},
      {R"({"mqtt": {"discovery": {"prefix": ""}}})", "/mqtt/discovery/prefix", "must not be empty"},
      {R"({"mqtt": {"discovery": {"prefix": "ha/#"}}})", "/mqtt/discovery/prefix", "wildcards"},
      {R"({"mqtt": {"results": "always"}})", "/mqtt/results",
       R"(expected one of "off", "on_change", "every_frame", got "always")"},
      {R"({"mqtt": {"tls": {"cert_file": "c.pem"}}})", "/mqtt/tls/key_file",
       "required with /mqtt/tls/cert_file"},
      {R"({"mqtt": {"tls": {"key_file": "k.pem"}}})", "/mqtt/tls/cert_file",
       "required with /mqtt/tls/key_file"},
      {R"({"snapshot": {"max_size": 8}})", "/snapshot/max_size",
       "expected an integer in [16, 4096], got 8"},
      {R"({"camera": {"max_fps": -0.5}})", "/camera/max_fps", "expected a number >= 0, got -0.5"},
      // Zones.
      {R"({"zones": {"name": "a"}})", "/zones", "expected an array of zone objects, got object"},
      {R"({"zones": [1]})", "/zones/0", "expected a zone object, got number 1"},
      {R"({"zones": [{"region": [0, 0, 1, 1]}]})", "/zones/0/name", "required"},
      {R"({"zones": [{"name": "a"}, {"name": "b", "regoin": []}]})", "/zones/1/regoin",
       "unknown key (expected one of: name, region, groups, threshold, confirm_frames, "
       "min_hold_s)"},
      {R"({"zones": [{"name": "sofa"}, {"name": "sofa"}]})", "/zones/1/name",
       "duplicate zone name \"sofa\""},
      {R"({"zones": [{"name": "my zone"}]})", "/zones/0/name", "[A-Za-z0-9_-]+"},
      {R"({"zones": [{"name": "result"}]})", "/zones/0/name", "topic of the camera itself"},
      {R"({"zones": [{"name": "a", "region": [0, 0, 1]}]})", "/zones/0/region",
       "expected an array of 4 numbers [x0, y0, x1, y1], each in [0, 1], got 3 elements"},
      {R"({"zones": [{"name": "a", "region": [0, 0, 1.5, 1]}]})", "/zones/0/region/2",
       "expected a number in [0, 1], got 1.5"},
      {R"({"zones": [{"name": "a", "region": [0.5, 0, 0.5, 1]}]})", "/zones/0/region/2",
       "expected x1 > x0 (0.5), got 0.5"},
      {R"({"zones": [{"name": "a", "region": [0, 0.9, 1, 0.1]}]})", "/zones/0/region/3",
       "expected y1 > y0 (0.9), got 0.1"},
      {R"({"zones": [{"name": "a", "confirm_frames": 0}]})", "/zones/0/confirm_frames",
       "expected an integer in [1, 1000], got 0"},
      {R"({"zones": [{"name": "a", "min_hold_s": -1}]})", "/zones/0/min_hold_s",
       "expected a number >= 0, got -1"},
      {R"({"zones": [{"name": "a", "threshold": "x"}]})", "/zones/0/threshold",
       "expected a number, got string"},
      {R"({"zones": [{"name": "a", "groups": "cat"}]})", "/zones/0/groups",
       "expected an array of group names"},
      {R"({"zones": [{"name": "a", "groups": ["cat", "cat"]}]})", "/zones/0/groups/1",
       "duplicate group \"cat\""},
      {R"({"zones": [{"name": "a", "groups": ["cat"]}]})", "/zones/0/groups",
       "needs /model/groups"},
      {R"({"model": {"groups": "g.json"}})", "/model/groups", "needs /model/labels"},
  };

  for (const BadCase& c : cases) {
    CAPTURE(c.patch);
    const std::optional<ConfigError> error = ErrorOf(Patched(c.patch));
    REQUIRE(error.has_value());
    CHECK(error->pointer() == c.pointer);
    CHECK_THAT(error->what(), lookout::testing::Contains(c.message));
    CHECK_THAT(error->what(), lookout::testing::StartsWith(c.pointer + ": "));
  }
}

TEST_CASE("documents that are not a config object", "[config]") {
  struct RawCase {
    std::string text;
    std::string pointer;
    std::string message;
  };
  const std::vector<RawCase> cases = {
      {"{not json", "", "invalid JSON at byte 3"},
      {"", "", "invalid JSON at byte"},
      {"{\"camera\": {}} trailing", "", "invalid JSON"},
      {R"({"output": {"score_threshold": 1e999}})", "", "invalid JSON: number overflow"},
      {"[1, 2]", "", "expected an object, got array"},
      {"\"text\"", "", "expected an object, got string"},
      {"null", "", "expected an object, got null"},
      {R"({"mqtt": {"port": 1, "port": 2}})", "/mqtt/port", "duplicate key"},
      {R"({"model": {}, "model": {}})", "/model", "duplicate key"},
      {R"({"a": [{"x": 1}, {"y": 1, "y": 2}]})", "/a/1/y", "duplicate key"},
  };
  for (const RawCase& c : cases) {
    CAPTURE(c.text);
    const std::optional<ConfigError> error = ErrorOf(c.text);
    REQUIRE(error.has_value());
    CHECK(error->pointer() == c.pointer);
    CHECK_THAT(error->what(), lookout::testing::Contains(c.message));
    if (c.pointer.empty()) CHECK_THAT(error->what(), !lookout::testing::StartsWith(":"));
  }
}

TEST_CASE("a password never appears in error messages", "[config]") {
  const std::optional<ConfigError> error = ErrorOf(Patched(R"({"mqtt": {"password": 987654}})"));
  REQUIRE(error.has_value());
  CHECK(error->pointer() == "/mqtt/password");
  CHECK_THAT(error->what(), !lookout::testing::Contains("987654"));
}

TEST_CASE("LoadConfigFile resolves against the file's folder", "[config]") {
  TempDir dir;
  fs::create_directories(dir.path() / "etc");
  WriteFile(dir.path() / "etc" / "lookoutd.json",
            R"({"camera": {"device": "frames"}, "model": {"path": "m.tflite"}})");

  const Config c = LoadConfigFile(dir.path() / "etc" / "lookoutd.json");
  CHECK(c.model.path == dir.path() / "etc" / "m.tflite");
  CHECK(c.camera.device == (dir.path() / "etc" / "frames").string());

  SECTION("a relative config path still yields absolute paths") {
    const fs::path saved = fs::current_path();
    fs::current_path(dir.path());
    const Config relative = LoadConfigFile("etc/lookoutd.json");
    fs::current_path(saved);
    CHECK(relative.model.path == dir.path() / "etc" / "m.tflite");
  }
}

TEST_CASE("LoadConfigFile errors name the file", "[config]") {
  TempDir dir;
  SECTION("missing file") {
    const fs::path missing = dir.path() / "nope.json";
    try {
      LoadConfigFile(missing);
      FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.pointer().empty());
      CHECK(std::string(e.what()) ==
            "cannot read config file " + missing.string() + ": No such file or directory");
    }
  }
  SECTION("a directory") {
    try {
      LoadConfigFile(dir.path());
      FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.pointer().empty());
      CHECK_THAT(e.what(), lookout::testing::EndsWith("is a directory"));
    }
  }
  SECTION("invalid JSON") {
    WriteFile(dir.path() / "bad.json", "{\"camera\": ");
    try {
      LoadConfigFile(dir.path() / "bad.json");
      FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.pointer().empty());
      CHECK_THAT(e.what(), lookout::testing::StartsWith((dir.path() / "bad.json").string() +
                                             ": invalid JSON at byte"));
    }
  }
  SECTION("bad value keeps its pointer") {
    WriteFile(dir.path() / "port.json",
              R"({"model": {"path": "/m"}, "camera": {"device": "/f"}, "mqtt": {"port": -1}})");
    try {
      LoadConfigFile(dir.path() / "port.json");
      FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.pointer() == "/mqtt/port");
    }
  }
}

TEST_CASE("every example config parses", "[config]") {
  const fs::path examples = lookout::testing::SourceDir() / "config" / "examples";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".json") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(LoadConfigFile(entry.path()));
    ++count;
  }
  CHECK(count >= 3);

  const Config pi = LoadConfigFile(examples / "lookoutd.json");
  CHECK(pi.camera.type == SourceType::kLibcamera);
  CHECK(pi.model.path ==
        fs::path("/usr/local/share/lookout/models/mobilenet_v2_1.0_224_quant.tflite"));
  CHECK(pi.model.labels == fs::path("/usr/local/share/lookout/models/imagenet_labels.txt"));
  CHECK(pi.socket.path == fs::path("/run/lookout/lookoutd.sock"));
  CHECK(pi.mqtt.enabled);
  CHECK(pi.mqtt.host == "localhost");
  CHECK(pi.mqtt.discovery.enabled);

  CHECK(LoadConfigFile(examples / "usb-webcam.json").camera.type == SourceType::kV4l2);
  CHECK(LoadConfigFile(examples / "rtsp.json").camera.type == SourceType::kRtsp);
}

TEST_CASE("ConfigToJson round-trips and hides the password", "[config]") {
  Config c = LoadConfigFile(lookout::testing::SourceDir() / "config" / "examples" / "lookoutd.json");
  c.socket.mode = 0600;
  c.model.mean = {0.1, 0.2, 0.3};
  CHECK(ParseConfig(ConfigToJson(c).dump()) == c);

  c.mqtt.password = "hunter2";
  const json j = ConfigToJson(c);
  CHECK(j["mqtt"]["password"] == "***");
  CHECK(j["socket"]["mode"] == "0600");
  CHECK(j["camera"]["type"] == "libcamera");
  CHECK(j.dump().find("hunter2") == std::string::npos);

  c.mqtt.password.clear();
  CHECK(ConfigToJson(c)["mqtt"]["password"] == "");
}

TEST_CASE("source type names round-trip", "[config]") {
  for (SourceType type : {SourceType::kLibcamera, SourceType::kV4l2, SourceType::kVideo,
                          SourceType::kRtsp, SourceType::kImages}) {
    CHECK(ParseSourceType(SourceTypeName(type)) == type);
  }
  CHECK_FALSE(ParseSourceType("usb").has_value());
  CHECK_FALSE(ParseSourceType("V4L2").has_value());
  CHECK(std::string(SourceTypeName(SourceType::kV4l2)) == "v4l2");
}

}  // namespace
}  // namespace lookout::config
