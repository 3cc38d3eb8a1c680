#include "lookout/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "rules.h"

namespace lookout::config {
namespace {

using internal::DescribeFound;
using internal::EscapePointerToken;
using internal::FieldTable;
using internal::Quote;
using internal::Section;
using nlohmann::json;

// nlohmann/json keeps the last of duplicate keys silently; a config with two
// "mqtt" sections is almost certainly a mistake, so the parse callback tracks
// the pointer of the current position and refuses repeats.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        frames_.push_back({false, {}, {}, 0});
        break;
      case json::parse_event_t::array_start:
        frames_.push_back({true, {}, {}, 0});
        break;
      case json::parse_event_t::key: {
        Frame& top = frames_.back();
        std::string key = parsed.get<std::string>();
        if (!top.keys.insert(key).second) {
          throw ConfigError(ParentPointer() + "/" + EscapePointerToken(key), "duplicate key");
        }
        top.key = std::move(key);
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        NextElement();
        break;
      case json::parse_event_t::value:
        NextElement();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_array;
    std::set<std::string> keys;
    std::string key;
    size_t index;
  };

  void NextElement() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }

  // Pointer of the innermost open object.
  std::string ParentPointer() const {
    std::string pointer;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      pointer += "/" + (frames_[i].is_array ? std::to_string(frames_[i].index)
                                            : EscapePointerToken(frames_[i].key));
    }
    return pointer;
  }

  std::vector<Frame> frames_;
};

// nlohmann's what() starts with "[json.exception.parse_error.101] "; the
// bracketed id means nothing to a user.
std::string WithoutExceptionId(const std::string& what) {
  auto pos = what.find("] ");
  return pos == std::string::npos ? what : what.substr(pos + 2);
}

json ParseJson(const std::string& text) {
  try {
    return json::parse(text, DuplicateKeyCheck());
  } catch (const json::parse_error& e) {
    throw ConfigError("", "invalid JSON at byte " + std::to_string(e.byte) + ": " +
                              WithoutExceptionId(e.what()));
  } catch (const json::exception& e) {
    // E.g. out_of_range for a number literal like 1e999.
    throw ConfigError("", "invalid JSON: " + WithoutExceptionId(e.what()));
  }
}

bool IsUrl(const std::string& text) { return text.find("://") != std::string::npos; }

std::filesystem::path Resolve(const std::filesystem::path& path,
                              const std::filesystem::path& base_dir) {
  if (path.empty() || path.is_absolute() || base_dir.empty() || IsUrl(path.string())) {
    return path;
  }
  return (base_dir / path).lexically_normal();
}

// Reads every key the table knows: each section present must be an object
// without unknown keys, each key present must pass its rule, and required
// keys must be there. Keys are read in table order: the first bad one is
// reported.
void ReadFields(const json& document, Config& config) {
  const FieldTable& table = internal::Fields();
  for (const Section& section : table.sections) {
    const json::json_pointer at(section.pointer);
    // Sections come after their parent, which has been checked to be an
    // object (or is absent).
    const json* object = document.contains(at) ? &document.at(at) : nullptr;
    if (object != nullptr) {
      if (!object->is_object()) {
        throw ConfigError(section.pointer, "expected an object, got " + DescribeFound(*object));
      }
      const std::vector<std::string> keys = table.Keys(section.pointer);
      for (const auto& [key, unused] : object->items()) {
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
        std::string expected;
        for (const std::string& allowed : keys) {
          expected += (expected.empty() ? "" : ", ") + allowed;
        }
        throw ConfigError(section.pointer + "/" + EscapePointerToken(key),
                          "unknown key (expected one of: " + expected + ")");
      }
    }
    for (const auto& field : table.fields) {
      if (field->parent() != section.pointer) continue;
      const auto value = object != nullptr ? object->find(field->key()) : json::const_iterator();
      if (object != nullptr && value != object->end()) {
        field->Read(*value, config);
      } else if (field->required()) {
        throw ConfigError(field->pointer(), "required");
      }
    }
  }
}

// The rules that involve more than one key or the base folder, checked once
// every key has passed its own rule. The table's description of each key
// involved states them too.
void ApplyCrossKeyRules(const json& document, const std::filesystem::path& base_dir,
                        Config& config) {
  CameraConfig& camera = config.camera;
  const std::string type_name = Quote(SourceTypeName(camera.type));
  if (camera.type != SourceType::kLibcamera) {
    if (!document.contains(json::json_pointer("/camera/device"))) {
      throw ConfigError("/camera/device", "required (for camera type " + type_name + ")");
    }
    if (camera.device.empty()) {
      throw ConfigError("/camera/device",
                        "must not be empty (for camera type " + type_name + ")");
    }
  }
  if (camera.type == SourceType::kRtsp && !IsUrl(camera.device)) {
    throw ConfigError("/camera/device",
                      "expected a stream URL like \"rtsp://host:554/stream\", got " +
                          Quote(camera.device));
  }
  if (camera.type == SourceType::kImages || camera.type == SourceType::kVideo) {
    camera.device = Resolve(camera.device, base_dir).string();
  }

  config.model.path = Resolve(config.model.path, base_dir);
  config.model.labels = Resolve(config.model.labels, base_dir);
  config.model.groups = Resolve(config.model.groups, base_dir);
  if (!config.model.groups.empty() && config.model.labels.empty()) {
    throw ConfigError("/model/groups", "needs /model/labels: groups name labels");
  }
  for (size_t i = 0; i < config.zones.size(); ++i) {
    if (!config.zones[i].groups.empty() && config.model.groups.empty()) {
      throw ConfigError("/zones/" + std::to_string(i) + "/groups",
                        "needs /model/groups: the file that defines the groups");
    }
  }

  const SocketConfig& socket = config.socket;
  if (socket.enabled) {
    if (socket.path.empty()) throw ConfigError("/socket/path", "must not be empty");
    const size_t bytes = socket.path.native().size();
    if (bytes >= internal::kSunPathSize) {
      throw ConfigError("/socket/path",
                        "expected a path shorter than " + std::to_string(internal::kSunPathSize) +
                            " bytes (the Unix socket address limit), got " +
                            std::to_string(bytes) + " bytes");
    }
  }

  MqttConfig& mqtt = config.mqtt;
  if (mqtt.enabled && mqtt.host.empty()) {
    throw ConfigError("/mqtt/host", "must not be empty when MQTT is enabled");
  }
  if (mqtt.reconnect_max_s < mqtt.reconnect_min_s) {
    throw ConfigError("/mqtt/reconnect_max_s",
                      "expected an integer >= reconnect_min_s (" +
                          std::to_string(mqtt.reconnect_min_s) + "), got " +
                          std::to_string(mqtt.reconnect_max_s));
  }
  TlsConfig& tls = mqtt.tls;
  tls.ca_file = Resolve(tls.ca_file, base_dir);
  tls.cert_file = Resolve(tls.cert_file, base_dir);
  tls.key_file = Resolve(tls.key_file, base_dir);
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw ConfigError(tls.cert_file.empty() ? "/mqtt/tls/cert_file" : "/mqtt/tls/key_file",
                      "required with /mqtt/tls/" +
                          std::string(tls.cert_file.empty() ? "key_file" : "cert_file"));
  }
  if (mqtt.client_id.empty()) mqtt.client_id = DefaultMqttClientId(camera.name);
  if (mqtt.topic_prefix.empty()) mqtt.topic_prefix = DefaultMqttTopicPrefix(camera.name);
}

}  // namespace

std::vector<ZoneConfig> ZonesOrDefault(const Config& config) {
  if (!config.zones.empty()) return config.zones;
  ZoneConfig frame;
  frame.name = "frame";
  return {frame};
}

bool IsValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

bool IsReservedZoneName(const std::string& name) {
  return name == "result" || name == "availability" || name == "diagnostics";
}

std::string DefaultMqttClientId(const std::string& camera) { return "lookout-" + camera; }
std::string DefaultMqttTopicPrefix(const std::string& camera) { return "lookout/" + camera; }

Config ParseConfig(const std::string& json_text, const std::filesystem::path& base_dir) {
  const json document = ParseJson(json_text);
  Config config;
  ReadFields(document, config);
  ApplyCrossKeyRules(document, base_dir, config);
  return config;
}

Config LoadConfigFile(const std::filesystem::path& path) {
  const std::string cannot_read = "cannot read config file " + path.string() + ": ";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError("", cannot_read + "is a directory");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("", cannot_read + (errno != 0 ? std::strerror(errno) : "open failed"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("", cannot_read + "read failed");

  // Absolute, so that resolved paths survive the daemon changing directory.
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  std::filesystem::path base_dir = (ec ? path : absolute).parent_path();
  try {
    return ParseConfig(text.str(), base_dir);
  } catch (const ConfigError& e) {
    // Document-level errors (invalid JSON) mean nothing without the file.
    if (!e.pointer().empty()) throw;
    throw ConfigError("", path.string() + ": " + e.what());
  }
}

json ConfigToJson(const Config& config) {
  json out = json::object();
  for (const auto& field : internal::Fields().fields) {
    out[json::json_pointer(field->pointer())] = field->Write(config);
  }
  return out;
}

}  // namespace lookout::config
