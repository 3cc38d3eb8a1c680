#include "fields.h"

#include <algorithm>
#include <utility>

namespace lookout::config::internal {
namespace {

// A field whose member is reached from Config through the pointers to
// members `Path` (outermost first): `Rule` reads and writes it, and a rule
// that does not fit the member's type fails to compile.
template <typename Rule, auto... Path>
class BoundField final : public Field {
 public:
  BoundField(std::string pointer, Rule rule, std::string doc, bool required)
      : Field(std::move(pointer), std::move(doc), required), rule_(std::move(rule)) {}

  void Read(const json& value, Config& config) const override {
    rule_.Read(value, pointer(), (config .* ... .* Path));
  }
  json Write(const Config& config) const override {
    return rule_.Write((config .* ... .* Path));
  }
  std::string Type() const override { return rule_.Type(); }
  std::string Allowed() const override { return rule_.Allowed(); }
  std::vector<Option> Options() const override {
    if constexpr (requires { rule_.options; }) {
      return rule_.options;
    } else {
      return {};
    }
  }
  std::vector<ElementKey> ElementKeys() const override {
    if constexpr (requires { rule_.element_keys(); }) {
      return rule_.element_keys();
    } else {
      return {};
    }
  }

 private:
  Rule rule_;
};

// Adds one section and its fields; `Path` leads from Config to the
// section's struct.
template <auto... Path>
class SectionBuilder {
 public:
  SectionBuilder(FieldTable& table, std::string pointer, std::string title)
      : table_(table), pointer_(std::move(pointer)) {
    table_.sections.push_back({pointer_, std::move(title), table_.fields.size()});
  }

  template <auto Member, typename Rule>
  SectionBuilder& Optional(const char* key, Rule rule, std::string doc) {
    return Add<Member>(key, std::move(rule), std::move(doc), false);
  }
  template <auto Member, typename Rule>
  SectionBuilder& Required(const char* key, Rule rule, std::string doc) {
    return Add<Member>(key, std::move(rule), std::move(doc), true);
  }
  // An object inside this section ("/mqtt/discovery").
  template <auto Member>
  SectionBuilder<Path..., Member> Subsection(const char* key, std::string title) {
    return SectionBuilder<Path..., Member>(table_, pointer_ + "/" + key, std::move(title));
  }

 private:
  template <auto Member, typename Rule>
  SectionBuilder& Add(const char* key, Rule rule, std::string doc, bool required) {
    table_.fields.push_back(std::make_unique<BoundField<Rule, Path..., Member>>(
        pointer_ + "/" + key, std::move(rule), std::move(doc), required));
    return *this;
  }

  FieldTable& table_;
  std::string pointer_;
};

Option SourceOption(SourceType type, std::string doc) {
  return {SourceTypeName(type), std::move(doc)};
}

FieldTable BuildTable() {
  FieldTable table;
  table.sections.push_back({"", "the document", 0});

  SectionBuilder<&Config::camera>(table, "/camera", "the frame source")
      .Optional<&CameraConfig::name>("name", Text{.name = true},
          "Camera name in events and MQTT topics.")
      .Optional<&CameraConfig::type>("type", Choice{{
          SourceOption(SourceType::kLibcamera,
              "Raspberry Pi camera (libcamera). `device`: camera id; empty = the first "
              "camera."),
          SourceOption(SourceType::kV4l2,
              "USB webcam / V4L2 (OpenCV). `device`: `/dev/videoN` or an index such as "
              "`\"0\"`."),
          SourceOption(SourceType::kVideo, "Video file (OpenCV). `device`: file path or URL."),
          SourceOption(SourceType::kRtsp,
              "RTSP/HTTP stream (OpenCV). `device`: URL, e.g. `rtsp://host:554/stream1`."),
          SourceOption(SourceType::kImages,
              "Folder of still images, sorted by name. `device`: folder path."),
      }}, "Where frames come from (values below).")
      .Optional<&CameraConfig::device>("device", Text{},
          "What to open, by `type`. Required and non-empty unless `type` is `libcamera`; "
          "`rtsp` needs a URL (`scheme://...`); relative `images` and `video` paths are "
          "relative to the config file's folder.")
      .Optional<&CameraConfig::width>("width", Integer{.min = 0},
          "Requested capture width in pixels; `0` = the source's default.")
      .Optional<&CameraConfig::height>("height", Integer{.min = 0},
          "Requested capture height in pixels; `0` = the source's default.")
      .Optional<&CameraConfig::fps>("fps", Number{.min = 0.0},
          "Frames per second. `images`: pacing (`0` = 1 fps); `video`: pacing (`0` = the "
          "file's own rate, or as fast as frames decode when it states none); cameras and "
          "streams: requested rate (`0` = native).")
      .Optional<&CameraConfig::loop>("loop", Boolean{},
          "`images`, `video`: start again at the end instead of stopping.")
      .Optional<&CameraConfig::max_frames>("max_frames", Integer{.min = 0},
          "Stop the daemon after this many captured frames; `0` = never.")
      .Optional<&CameraConfig::max_fps>("max_fps", Number{.min = 0.0},
          "Cap of processed frames per second, independent of the camera's rate (a Pi stays "
          "cool); frames above it are skipped and counted (`frames_skipped`). `0` = every "
          "frame.")
      .Optional<&CameraConfig::max_frame_pixels>("max_frame_pixels", Integer{.min = 0},
          "Largest frame accepted, in pixels (width × height; the default is 4096 × 4096). "
          "Larger image files are refused from their header, before decoding; larger frames "
          "from other sources are dropped. Both are counted (`frames_bad`) and logged. `0` = "
          "no limit.");

  SectionBuilder<&Config::model>(table, "/model", "the network")
      .Required<&ModelConfig::path>("path", Text{.non_empty = true},
          "The `.tflite` model file; relative: to the config file's folder.")
      .Optional<&ModelConfig::labels>("labels", Text{},
          "Label file, one label per line; empty = class indices only. Relative: to the "
          "config file's folder.")
      .Optional<&ModelConfig::groups>("groups", Text{},
          "Label groups file: a JSON object, group name → array of labels "
          "(`models/imagenet_groups.json`, [docs/groups.md](groups.md)); empty = no groups. "
          "Needs `labels`. Relative: to the config file's folder.")
      .Optional<&ModelConfig::threads>("threads", Integer{.min = 1, .max = 64},
          "Threads of the inference thread pool (XNNPACK and the reference kernels share "
          "it).")
      .Optional<&ModelConfig::backend>("backend", Choice{{
          {"xnnpack",
           "XNNPACK operators for convolutions, FC, ADD, MUL and pooling; outputs within a "
           "few LSB of TFLite's reference, as TFLite's XNNPACK delegate."},
          {"reference", "TFLite's reference integer arithmetic: byte-exact, slower."},
      }}, "How the network runs (values below).")
      .Optional<&ModelConfig::center_crop>("center_crop", Boolean{},
          "Crop the frame's centre to the model input's aspect ratio before resizing.")
      .Optional<&ModelConfig::mean>("mean", Rgb{},
          "Per-channel mean on the 0..255 scale; the model sees `(pixel - mean) / std`.")
      .Optional<&ModelConfig::std>("std", Rgb{.element = {.min = 0.0, .min_exclusive = true}},
          "Per-channel standard deviation on the 0..255 scale.");

  SectionBuilder<&Config::output>(table, "/output", "what an event carries")
      .Optional<&OutputConfig::top_k>("top_k", Integer{.min = 1, .max = 100},
          "Classes per event.")
      .Optional<&OutputConfig::score_threshold>("score_threshold", Number{},
          "Drop classes whose dequantized score is below this. Not limited to [0, 1]: "
          "models without a softmax output logits.");

  table.fields.push_back(std::make_unique<BoundField<ZoneList, &Config::zones>>(
      "/zones", ZoneList{},
      "Regions of the frame, each classified on its own per processed frame, each with a "
      "confirmed state (keys of each zone below). Empty: one zone, `frame`, the whole frame.",
      false));

  SectionBuilder<&Config::snapshot>(table, "/snapshot", "JPEG snapshots of state changes")
      .Optional<&SnapshotConfig::enabled>("enabled", Boolean{},
          "On each zone state change, encode the frame (zone box drawn) as a JPEG: published "
          "retained on `<prefix>/<zone>/snapshot`, and kept for the socket's `snapshot`.")
      .Optional<&SnapshotConfig::max_size>("max_size", Integer{.min = 16, .max = 4096},
          "Longest side in pixels; larger frames are shrunk, smaller ones kept.")
      .Optional<&SnapshotConfig::quality>("quality", Integer{.min = 1, .max = 100},
          "JPEG quality.");

  SectionBuilder<&Config::socket>(table, "/socket", "local Unix socket (JSON lines)")
      .Optional<&SocketConfig::enabled>("enabled", Boolean{}, "Serve events on the socket.")
      .Optional<&SocketConfig::path>("path", Text{},
          "Socket file. When `enabled`: non-empty and shorter than " +
              std::to_string(kSunPathSize) + " bytes (the Unix socket address limit).")
      .Optional<&SocketConfig::mode>("mode", FileMode{}, "Permissions of the socket file.")
      .Optional<&SocketConfig::group>("group", Text{},
          "Group owning the socket file; empty = unchanged.")
      .Optional<&SocketConfig::max_clients>("max_clients", Integer{.min = 1},
          "Further connections are refused.")
      .Optional<&SocketConfig::max_client_buffer_bytes>("max_client_buffer_bytes",
          Integer{.min = 4096}, "A client whose unsent output exceeds this is dropped.");

  SectionBuilder<&Config::mqtt> mqtt(table, "/mqtt", "MQTT publisher");
  mqtt.Optional<&MqttConfig::enabled>("enabled", Boolean{}, "Publish events to a broker.")
      .Optional<&MqttConfig::host>("host", Text{}, "Broker host; non-empty when `enabled`.")
      .Optional<&MqttConfig::port>("port", Integer{.min = 1, .max = 65535}, "Broker port.")
      .Optional<&MqttConfig::client_id>("client_id", Text{},
          "MQTT client id; empty = `lookout-<camera name>`.")
      .Optional<&MqttConfig::username>("username", Text{}, "Empty = no authentication.")
      .Optional<&MqttConfig::password>("password", Text{.secret = true},
          "Never printed: errors leave it out, `lookoutd --check-config` shows `\"***\"`.")
      .Optional<&MqttConfig::topic_prefix>("topic_prefix", Text{.topic = true},
          "Prefix of all topics; empty = `lookout/<camera name>`.")
      .Optional<&MqttConfig::qos>("qos", Integer{.min = 0, .max = 2}, "QoS of results, zone states, events and snapshots (availability and discovery: 1).")
      .Optional<&MqttConfig::retain>("retain", Boolean{}, "Retain the per-frame result events (zone states are always retained).")
      .Optional<&MqttConfig::keepalive_s>("keepalive_s", Integer{.min = 5, .max = 3600},
          "Keepalive in seconds.")
      .Optional<&MqttConfig::reconnect_min_s>("reconnect_min_s", Integer{.min = 1},
          "First reconnect delay in seconds; the delay doubles after each failure.")
      .Optional<&MqttConfig::reconnect_max_s>("reconnect_max_s", Integer{.min = 1},
          "Cap of the reconnect delay in seconds; at least `reconnect_min_s`.")
      .Optional<&MqttConfig::queue_limit>("queue_limit", Integer{.min = 0},
          "Messages kept while the broker is unreachable, delivered in order on reconnect; "
          "older ones are dropped and counted. `0` = no queue: nothing is kept.")
      .Optional<&MqttConfig::results>("results", Choice{{
          {"off", "No per-frame results on MQTT: zone states, ON/OFF and events carry what "
                  "changed (suits Home Assistant)."},
          {"on_change", "A frame's result when its top label differs from the last one "
                        "published."},
          {"every_frame", "Every processed frame's result."},
      }}, "Per-frame result events on `<prefix>/result` (values below); the socket always "
          "has them.")
      .Optional<&MqttConfig::results_max_per_s>("results_max_per_s", Number{.min = 0.0},
          "Cap of result events per second on MQTT (`every_frame`, `on_change`); `0` = no cap.")
      .Optional<&MqttConfig::diagnostics_interval_s>("diagnostics_interval_s",
          Integer{.min = 5, .max = 3600},
          "Seconds between `<prefix>/diagnostics` messages (fps, inference ms, dropped frames, "
          "camera state).");
  mqtt.Subsection<&MqttConfig::tls>("tls", "TLS to the broker")
      .Optional<&TlsConfig::enabled>("enabled", Boolean{},
          "Connect with TLS (usually port 8883).")
      .Optional<&TlsConfig::ca_file>("ca_file", Text{},
          "CA certificate(s), PEM, the broker's certificate must chain to; empty = the "
          "system's CAs. Relative: to the config file's folder.")
      .Optional<&TlsConfig::cert_file>("cert_file", Text{},
          "Client certificate, PEM, for brokers that require one; needs `key_file`.")
      .Optional<&TlsConfig::key_file>("key_file", Text{},
          "Client private key, PEM, unencrypted; needs `cert_file`.")
      .Optional<&TlsConfig::verify>("verify", Boolean{},
          "Verify the broker's certificate and host name. `false` only for testing: anyone "
          "can then impersonate the broker.");
  mqtt.Subsection<&MqttConfig::discovery>("discovery", "Home Assistant MQTT discovery")
      .Optional<&DiscoveryConfig::enabled>("enabled", Boolean{},
          "Publish Home Assistant discovery messages (when `/mqtt/enabled`).")
      .Optional<&DiscoveryConfig::prefix>("prefix", Text{.non_empty = true, .topic = true},
          "Home Assistant's discovery prefix.");

  SectionBuilder<&Config::log>(table, "/log", "lookoutd's log")
      .Optional<&LogConfig::level>("level", Choice{{
          {"trace", "Everything, including each frame."},
          {"debug", "Also what third-party libraries say in passing."},
          {"info", "Start, stop, reloads, reconnects, and third-party warnings."},
          {"warn", "Problems only."},
          {"error", "Failures only."},
      }}, "Least severe level logged (values below); `lookoutd --log-level` overrides it.")
      .Optional<&LogConfig::repeats_per_minute>("repeats_per_minute", Integer{.min = 1, .max = 10000},
          "Identical lines (ours, or a library's such as libpng's) printed per minute; the "
          "rest are counted, and the count is logged once the minute is over.");
  return table;
}

}  // namespace

std::string ParentPointer(const std::string& pointer) {
  const size_t slash = pointer.rfind('/');
  return slash == std::string::npos ? "" : pointer.substr(0, slash);
}

std::string LastToken(const std::string& pointer) {
  const size_t slash = pointer.rfind('/');
  return slash == std::string::npos ? pointer : pointer.substr(slash + 1);
}

std::vector<std::string> FieldTable::Keys(const std::string& section) const {
  // (place, key): a subsection goes before the field added right after it.
  std::vector<std::pair<std::pair<size_t, int>, std::string>> ordered;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i]->parent() == section) ordered.push_back({{i, 1}, fields[i]->key()});
  }
  for (const Section& sub : sections) {
    if (!sub.pointer.empty() && ParentPointer(sub.pointer) == section) {
      ordered.push_back({{sub.first_field, 0}, LastToken(sub.pointer)});
    }
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> keys;
  for (auto& [place, key] : ordered) keys.push_back(std::move(key));
  return keys;
}

const FieldTable& Fields() {
  static const FieldTable table = BuildTable();
  return table;
}

}  // namespace lookout::config::internal
