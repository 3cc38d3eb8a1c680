#include "lookout/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace lookout::config {
namespace {

using nlohmann::json;

constexpr size_t kMaxShownStringBytes = 80;
// sizeof(sockaddr_un::sun_path) on Linux, including the terminating NUL.
constexpr size_t kSunPathSize = 108;
constexpr int64_t kMinClientBufferBytes = 4096;

constexpr std::initializer_list<const char*> kTopLevelKeys = {
    "camera", "model", "output", "socket", "mqtt"};
constexpr std::initializer_list<const char*> kCameraKeys = {
    "name", "type", "device", "width", "height", "fps", "loop", "max_frames"};
constexpr std::initializer_list<const char*> kModelKeys = {
    "path", "labels", "threads", "backend", "center_crop", "mean", "std"};
constexpr std::initializer_list<const char*> kOutputKeys = {"top_k", "score_threshold"};
constexpr std::initializer_list<const char*> kSocketKeys = {
    "enabled", "path", "mode", "group", "max_clients", "max_client_buffer_bytes"};
constexpr std::initializer_list<const char*> kMqttKeys = {
    "enabled", "host", "port", "client_id", "username", "password", "topic_prefix",
    "qos", "retain", "keepalive_s", "reconnect_min_s", "reconnect_max_s", "queue_limit",
    "discovery"};
constexpr std::initializer_list<const char*> kDiscoveryKeys = {"enabled", "prefix"};

// RFC 6901: "~" and "/" inside a reference token are escaped.
std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, std::string_view key) {
  return pointer + "/" + EscapePointerToken(key);
}

std::string Quote(const std::string& text) {
  std::string shown = text.size() > kMaxShownStringBytes
                          ? text.substr(0, kMaxShownStringBytes) + "..."
                          : text;
  // dump() escapes control characters; replace keeps a cut UTF-8 sequence
  // from throwing.
  return json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
}

// For type mismatches: the JSON type, and the value when it is short.
std::string DescribeFound(const json& value, bool secret = false) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return secret ? "boolean" : "boolean " + value.dump();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return secret ? "number" : "number " + value.dump();
    case json::value_t::string:
      return secret ? "string" : "string " + Quote(value.get<std::string>());
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "unsupported value";
  }
}

// An object whose keys have been checked against the allowed set.
class ObjectReader {
 public:
  // `value` may be null (the section is absent): every key is then missing.
  ObjectReader(const json* value, std::string pointer,
               std::initializer_list<const char*> keys)
      : object_(value), pointer_(std::move(pointer)) {
    if (object_ == nullptr) return;
    if (!object_->is_object()) {
      throw ConfigError(pointer_, "expected an object, got " + DescribeFound(*object_));
    }
    for (const auto& [key, unused] : object_->items()) {
      if (std::none_of(keys.begin(), keys.end(),
                       [&key = key](const char* allowed) { return key == allowed; })) {
        std::string expected;
        for (const char* allowed : keys) {
          if (!expected.empty()) expected += ", ";
          expected += allowed;
        }
        throw ConfigError(Child(pointer_, key),
                          "unknown key (expected one of: " + expected + ")");
      }
    }
  }

  const json* Find(const char* key) const {
    if (object_ == nullptr) return nullptr;
    auto it = object_->find(key);
    return it == object_->end() ? nullptr : &*it;
  }
  bool Has(const char* key) const { return Find(key) != nullptr; }
  std::string Pointer(const char* key) const { return Child(pointer_, key); }

  void Bool(const char* key, bool& out) const {
    const json* value = Find(key);
    if (value == nullptr) return;
    if (!value->is_boolean()) {
      throw ConfigError(Pointer(key), "expected a boolean, got " + DescribeFound(*value));
    }
    out = value->get<bool>();
  }

  // `secret` keeps the value out of error messages (passwords end up in logs).
  void String(const char* key, std::string& out, bool secret = false) const {
    const json* value = Find(key);
    if (value == nullptr) return;
    if (!value->is_string()) {
      throw ConfigError(Pointer(key),
                        "expected a string, got " + DescribeFound(*value, secret));
    }
    out = value->get<std::string>();
  }

  void Path(const char* key, std::filesystem::path& out) const {
    std::string text;
    if (!Has(key)) return;
    String(key, text);
    out = text;
  }

  // Integers only: 5.0 is refused like 5.5, there is no rounding. Without
  // `max` the field's type bounds the value.
  template <typename T>
  void Int(const char* key, T& out, int64_t min,
           std::optional<int64_t> max = std::nullopt) const {
    const json* value = Find(key);
    if (value == nullptr) return;
    const int64_t limit = max.value_or(std::numeric_limits<T>::max());
    auto fail = [&](const std::string& found, bool above_type_limit) {
      std::string expected =
          max || above_type_limit
              ? "expected an integer in [" + std::to_string(min) + ", " +
                    std::to_string(limit) + "]"
              : "expected an integer >= " + std::to_string(min);
      throw ConfigError(Pointer(key), expected + ", got " + found);
    };
    if (value->is_number_unsigned()) {
      // nlohmann stores every non-negative integer literal as unsigned.
      const uint64_t v = value->get<uint64_t>();
      if (min > 0 && v < static_cast<uint64_t>(min)) fail(value->dump(), false);
      if (v > static_cast<uint64_t>(limit)) fail(value->dump(), true);
      out = static_cast<T>(v);
    } else if (value->is_number_integer()) {
      const int64_t v = value->get<int64_t>();
      if (v < min) fail(value->dump(), false);
      if (v > limit) fail(value->dump(), true);
      out = static_cast<T>(v);
    } else if (value->is_number()) {
      fail(value->dump(), false);
    } else {
      fail(DescribeFound(*value), false);
    }
  }

  // Any finite number; `min` (exclusive when `min_exclusive`) if given.
  void Number(const char* key, double& out, std::optional<double> min = std::nullopt,
              bool min_exclusive = false) const {
    const json* value = Find(key);
    if (value == nullptr) return;
    out = ReadNumber(*value, Pointer(key), min, min_exclusive);
  }

  static double ReadNumber(const json& value, const std::string& pointer,
                           std::optional<double> min, bool min_exclusive) {
    std::string expected = "expected a number";
    if (min) {
      std::ostringstream bound;
      bound << *min;
      expected += (min_exclusive ? " > " : " >= ") + bound.str();
    }
    if (!value.is_number()) {
      throw ConfigError(pointer, expected + ", got " + DescribeFound(value));
    }
    double v = value.get<double>();
    // The parser turns literals like 1e999 into infinity.
    bool ok = std::isfinite(v) && (!min || (min_exclusive ? v > *min : v >= *min));
    if (!ok) throw ConfigError(pointer, expected + ", got " + value.dump());
    return v;
  }

  // Exactly N numbers, each checked like Number().
  template <size_t N>
  void NumberArray(const char* key, std::array<double, N>& out,
                   std::optional<double> min = std::nullopt,
                   bool min_exclusive = false) const {
    const json* value = Find(key);
    if (value == nullptr) return;
    std::string element_kind = "numbers";
    if (min) {
      std::ostringstream bound;
      bound << *min;
      element_kind += (min_exclusive ? " > " : " >= ") + bound.str();
    }
    const std::string expected =
        "expected an array of " + std::to_string(N) + " " + element_kind + " (R, G, B)";
    if (!value->is_array()) {
      throw ConfigError(Pointer(key), expected + ", got " + DescribeFound(*value));
    }
    if (value->size() != N) {
      throw ConfigError(Pointer(key), expected + ", got " + std::to_string(value->size()) +
                                          (value->size() == 1 ? " element" : " elements"));
    }
    std::array<double, N> result{};
    for (size_t i = 0; i < N; ++i) {
      result[i] = ReadNumber((*value)[i], Pointer(key) + "/" + std::to_string(i), min,
                             min_exclusive);
    }
    out = result;
  }

 private:
  const json* object_;
  std::string pointer_;
};

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

void CheckTopic(const std::string& pointer, const std::string& topic) {
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos) {
    throw ConfigError(pointer, "expected an MQTT topic without the wildcards '+' and '#' or "
                               "NUL characters, got " + Quote(topic));
  }
  if (!topic.empty() && topic.back() == '/') {
    throw ConfigError(pointer, "expected no trailing '/' (subtopics are appended), got " +
                                   Quote(topic));
  }
}

bool IsValidCameraName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

CameraConfig ParseCamera(const json* value, const std::filesystem::path& base_dir) {
  ObjectReader r(value, "/camera", kCameraKeys);
  CameraConfig c;

  r.String("name", c.name);
  if (!IsValidCameraName(c.name)) {
    throw ConfigError(r.Pointer("name"),
                      "expected a name matching [A-Za-z0-9_-]+, got " + Quote(c.name));
  }

  if (const json* type = r.Find("type")) {
    constexpr const char* kExpected =
        "expected one of \"libcamera\", \"v4l2\", \"video\", \"rtsp\", \"images\"";
    if (!type->is_string()) {
      throw ConfigError(r.Pointer("type"),
                        std::string(kExpected) + ", got " + DescribeFound(*type));
    }
    std::optional<SourceType> parsed = ParseSourceType(type->get<std::string>());
    if (!parsed) {
      throw ConfigError(r.Pointer("type"),
                        std::string(kExpected) + ", got " + Quote(type->get<std::string>()));
    }
    c.type = *parsed;
  }

  r.String("device", c.device);
  const std::string type_name = Quote(SourceTypeName(c.type));
  if (c.type != SourceType::kLibcamera) {
    if (!r.Has("device")) {
      throw ConfigError(r.Pointer("device"), "required (for camera type " + type_name + ")");
    }
    if (c.device.empty()) {
      throw ConfigError(r.Pointer("device"),
                        "must not be empty (for camera type " + type_name + ")");
    }
  }
  if (c.type == SourceType::kRtsp && !IsUrl(c.device)) {
    throw ConfigError(r.Pointer("device"),
                      "expected a stream URL like \"rtsp://host:554/stream\", got " +
                          Quote(c.device));
  }
  if (c.type == SourceType::kImages || c.type == SourceType::kVideo) {
    c.device = Resolve(c.device, base_dir).string();
  }

  r.Int("width", c.width, 0);
  r.Int("height", c.height, 0);
  r.Number("fps", c.fps, 0.0);
  r.Bool("loop", c.loop);
  r.Int("max_frames", c.max_frames, 0);
  return c;
}

ModelConfig ParseModel(const json* value, const std::filesystem::path& base_dir) {
  ObjectReader r(value, "/model", kModelKeys);
  ModelConfig m;
  if (!r.Has("path")) throw ConfigError(r.Pointer("path"), "required");
  r.Path("path", m.path);
  if (m.path.empty()) throw ConfigError(r.Pointer("path"), "must not be empty");
  m.path = Resolve(m.path, base_dir);
  r.Path("labels", m.labels);
  m.labels = Resolve(m.labels, base_dir);
  r.Int("threads", m.threads, 1, 64);
  r.String("backend", m.backend);
  if (m.backend != "xnnpack" && m.backend != "reference") {
    throw ConfigError(r.Pointer("backend"), "expected one of \"xnnpack\", \"reference\", got " + Quote(m.backend));
  }
  r.Bool("center_crop", m.center_crop);
  r.NumberArray("mean", m.mean);
  r.NumberArray("std", m.std, 0.0, /*min_exclusive=*/true);
  return m;
}

OutputConfig ParseOutput(const json* value) {
  ObjectReader r(value, "/output", kOutputKeys);
  OutputConfig o;
  r.Int("top_k", o.top_k, 1, 100);
  // Not limited to [0, 1]: models without a softmax output logits.
  r.Number("score_threshold", o.score_threshold);
  return o;
}

uint32_t ParseMode(const ObjectReader& r) {
  const json* value = r.Find("mode");
  constexpr const char* kExpected = "expected an octal string like \"0660\" (at most \"0777\")";
  if (!value->is_string()) {
    throw ConfigError(r.Pointer("mode"), std::string(kExpected) + ", got " +
                                             DescribeFound(*value));
  }
  const std::string text = value->get<std::string>();
  bool ok = text.size() >= 3 && text.size() <= 4 &&
            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  uint32_t mode = 0;
  if (ok) {
    for (char c : text) mode = mode * 8 + static_cast<uint32_t>(c - '0');
    ok = mode <= 0777;
  }
  if (!ok) throw ConfigError(r.Pointer("mode"), std::string(kExpected) + ", got " + Quote(text));
  return mode;
}

SocketConfig ParseSocket(const json* value) {
  ObjectReader r(value, "/socket", kSocketKeys);
  SocketConfig s;
  r.Bool("enabled", s.enabled);
  r.Path("path", s.path);
  if (s.enabled) {
    if (s.path.empty()) throw ConfigError(r.Pointer("path"), "must not be empty");
    const size_t bytes = s.path.native().size();
    if (bytes >= kSunPathSize) {
      throw ConfigError(r.Pointer("path"),
                        "expected a path shorter than " + std::to_string(kSunPathSize) +
                            " bytes (the Unix socket address limit), got " +
                            std::to_string(bytes) + " bytes");
    }
  }
  if (r.Has("mode")) s.mode = ParseMode(r);
  r.String("group", s.group);
  r.Int("max_clients", s.max_clients, 1);
  r.Int("max_client_buffer_bytes", s.max_client_buffer_bytes, kMinClientBufferBytes);
  return s;
}

DiscoveryConfig ParseDiscovery(const json* value) {
  ObjectReader r(value, "/mqtt/discovery", kDiscoveryKeys);
  DiscoveryConfig d;
  r.Bool("enabled", d.enabled);
  r.String("prefix", d.prefix);
  if (d.prefix.empty()) throw ConfigError(r.Pointer("prefix"), "must not be empty");
  CheckTopic(r.Pointer("prefix"), d.prefix);
  return d;
}

MqttConfig ParseMqtt(const json* value) {
  ObjectReader r(value, "/mqtt", kMqttKeys);
  MqttConfig m;
  r.Bool("enabled", m.enabled);
  r.String("host", m.host);
  if (m.enabled && m.host.empty()) {
    throw ConfigError(r.Pointer("host"), "must not be empty when MQTT is enabled");
  }
  r.Int("port", m.port, 1, 65535);
  r.String("client_id", m.client_id);
  r.String("username", m.username);
  r.String("password", m.password, /*secret=*/true);
  r.String("topic_prefix", m.topic_prefix);
  CheckTopic(r.Pointer("topic_prefix"), m.topic_prefix);
  r.Int("qos", m.qos, 0, 2);
  r.Bool("retain", m.retain);
  r.Int("keepalive_s", m.keepalive_s, 5, 3600);
  r.Int("reconnect_min_s", m.reconnect_min_s, 1);
  r.Int("reconnect_max_s", m.reconnect_max_s, 1);
  if (m.reconnect_max_s < m.reconnect_min_s) {
    throw ConfigError(r.Pointer("reconnect_max_s"),
                      "expected an integer >= reconnect_min_s (" +
                          std::to_string(m.reconnect_min_s) + "), got " +
                          std::to_string(m.reconnect_max_s));
  }
  r.Int("queue_limit", m.queue_limit, 0);
  m.discovery = ParseDiscovery(r.Find("discovery"));
  return m;
}

std::string FormatMode(uint32_t mode) {
  std::ostringstream out;
  out << '0' << std::oct << (mode & 0777);
  std::string text = out.str();
  // "0" + at least three digits: 0660, 0600, 0007 (not 07).
  while (text.size() < 4) text.insert(1, "0");
  return text;
}

}  // namespace

const char* SourceTypeName(SourceType type) {
  switch (type) {
    case SourceType::kLibcamera:
      return "libcamera";
    case SourceType::kV4l2:
      return "v4l2";
    case SourceType::kVideo:
      return "video";
    case SourceType::kRtsp:
      return "rtsp";
    case SourceType::kImages:
      return "images";
  }
  return "unknown";
}

std::optional<SourceType> ParseSourceType(std::string_view name) {
  for (SourceType type : {SourceType::kLibcamera, SourceType::kV4l2, SourceType::kVideo,
                          SourceType::kRtsp, SourceType::kImages}) {
    if (name == SourceTypeName(type)) return type;
  }
  return std::nullopt;
}

Config ParseConfig(const std::string& json_text, const std::filesystem::path& base_dir) {
  const json document = ParseJson(json_text);
  ObjectReader top(&document, "", kTopLevelKeys);

  Config config;
  config.camera = ParseCamera(top.Find("camera"), base_dir);
  config.model = ParseModel(top.Find("model"), base_dir);
  config.output = ParseOutput(top.Find("output"));
  config.socket = ParseSocket(top.Find("socket"));
  config.mqtt = ParseMqtt(top.Find("mqtt"));

  if (config.mqtt.client_id.empty()) config.mqtt.client_id = "lookout-" + config.camera.name;
  if (config.mqtt.topic_prefix.empty()) {
    config.mqtt.topic_prefix = "lookout/" + config.camera.name;
  }
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
  const CameraConfig& c = config.camera;
  const ModelConfig& m = config.model;
  const SocketConfig& s = config.socket;
  const MqttConfig& q = config.mqtt;
  return json{
      {"camera",
       {{"name", c.name},
        {"type", SourceTypeName(c.type)},
        {"device", c.device},
        {"width", c.width},
        {"height", c.height},
        {"fps", c.fps},
        {"loop", c.loop},
        {"max_frames", c.max_frames}}},
      {"model",
       {{"path", m.path.string()},
        {"labels", m.labels.string()},
        {"threads", m.threads},
        {"backend", m.backend},
        {"center_crop", m.center_crop},
        {"mean", m.mean},
        {"std", m.std}}},
      {"output", {{"top_k", config.output.top_k},
                  {"score_threshold", config.output.score_threshold}}},
      {"socket",
       {{"enabled", s.enabled},
        {"path", s.path.string()},
        {"mode", FormatMode(s.mode)},
        {"group", s.group},
        {"max_clients", s.max_clients},
        {"max_client_buffer_bytes", s.max_client_buffer_bytes}}},
      {"mqtt",
       {{"enabled", q.enabled},
        {"host", q.host},
        {"port", q.port},
        {"client_id", q.client_id},
        {"username", q.username},
        {"password", q.password.empty() ? "" : "***"},
        {"topic_prefix", q.topic_prefix},
        {"qos", q.qos},
        {"retain", q.retain},
        {"keepalive_s", q.keepalive_s},
        {"reconnect_min_s", q.reconnect_min_s},
        {"reconnect_max_s", q.reconnect_max_s},
        {"queue_limit", q.queue_limit},
        {"discovery", {{"enabled", q.discovery.enabled}, {"prefix", q.discovery.prefix}}}}},
  };
}

}  // namespace lookout::config
