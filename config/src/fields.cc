#include "fields.h"

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
    table_.sections.push_back({pointer_, std::move(title)});
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
  table.sections.push_back({"", "the document"});

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
          "Frames per second. `images`: pacing (`0` = 1 fps); others: requested rate "
          "(`0` = native).")
      .Optional<&CameraConfig::loop>("loop", Boolean{},
          "`images`, `video`: start again at the end instead of stopping.")
      .Optional<&CameraConfig::max_frames>("max_frames", Integer{.min = 0},
          "Stop the daemon after this many captured frames; `0` = never.");

  SectionBuilder<&Config::model>(table, "/model", "the network")
      .Required<&ModelConfig::path>("path", Text{.non_empty = true},
          "The `.tflite` model file; relative: to the config file's folder.")
      .Optional<&ModelConfig::labels>("labels", Text{},
          "Label file, one label per line; empty = class indices only. Relative: to the "
          "config file's folder.")
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
      .Optional<&MqttConfig::qos>("qos", Integer{.min = 0, .max = 2}, "QoS of result events.")
      .Optional<&MqttConfig::retain>("retain", Boolean{}, "Retain result events.")
      .Optional<&MqttConfig::keepalive_s>("keepalive_s", Integer{.min = 5, .max = 3600},
          "Keepalive in seconds.")
      .Optional<&MqttConfig::reconnect_min_s>("reconnect_min_s", Integer{.min = 1},
          "First reconnect delay in seconds; the delay doubles after each failure.")
      .Optional<&MqttConfig::reconnect_max_s>("reconnect_max_s", Integer{.min = 1},
          "Cap of the reconnect delay in seconds; at least `reconnect_min_s`.")
      .Optional<&MqttConfig::queue_limit>("queue_limit", Integer{.min = 0},
          "Events kept while the broker is unreachable; older ones are dropped and counted.");
  mqtt.Subsection<&MqttConfig::discovery>("discovery", "Home Assistant MQTT discovery")
      .Optional<&DiscoveryConfig::enabled>("enabled", Boolean{},
          "Publish Home Assistant discovery messages (when `/mqtt/enabled`).")
      .Optional<&DiscoveryConfig::prefix>("prefix", Text{.non_empty = true, .topic = true},
          "Home Assistant's discovery prefix.");
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
  std::vector<std::string> keys;
  for (const auto& field : fields) {
    if (field->parent() == section) keys.push_back(field->key());
  }
  for (const Section& sub : sections) {
    if (!sub.pointer.empty() && ParentPointer(sub.pointer) == section) {
      keys.push_back(LastToken(sub.pointer));
    }
  }
  return keys;
}

const FieldTable& Fields() {
  static const FieldTable table = BuildTable();
  return table;
}

}  // namespace lookout::config::internal
