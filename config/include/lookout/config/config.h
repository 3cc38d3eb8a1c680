// Typed configuration of lookoutd, parsed from JSON. Every key is optional
// unless noted; defaults live in these structs. Parsing refuses unknown keys
// and bad values before anything starts, naming the JSON pointer of the bad
// key ("/mqtt/port: expected an integer in [1, 65535], got 70000"). One
// table of keys drives parsing, ConfigToJson() and the reference
// (ConfigReferenceMarkdown(), in docs/config.md).
#ifndef LOOKOUT_CONFIG_CONFIG_H_
#define LOOKOUT_CONFIG_CONFIG_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lookout/capture/source_type.h"

namespace lookout::config {

/// Where frames come from (`/camera/type`): capture's type, one definition,
/// with its names ("libcamera", "v4l2", "video", "rtsp", "images").
using capture::ParseSourceType;
using capture::SourceType;
using capture::SourceTypeName;

/// `/camera`: the frame source.
struct CameraConfig {
  std::string name = "camera";   ///< Camera name: in events and MQTT topics ([A-Za-z0-9_-]+).
  SourceType type = SourceType::kImages;
  std::string device;            ///< Required (but libcamera): path, device, URL or camera id (see SourceType).
  int32_t width = 0;             ///< Requested capture width in pixels, >= 0; 0 = source default.
  int32_t height = 0;            ///< Requested capture height in pixels, >= 0; 0 = source default.
  double fps = 0.0;              ///< Frame rate (frames/s), >= 0; images: pacing (0 = 1 fps); video: pacing (0 = the file's rate); others: request (0 = native).
  bool loop = false;             ///< Images and video: start again at the end instead of stopping.
  int64_t max_frames = 0;        ///< Stop the daemon after this many captured frames; 0 = never.
  double max_fps = 0.0;          ///< Cap of processed (classified) frames per second, >= 0; 0 = every frame. Frames above the cap are skipped and counted.
  int64_t max_frame_pixels = 16777216;  ///< Largest frame accepted, in pixels (width x height); larger ones are refused (image files before decoding) and counted; 0 = no limit.

  bool operator==(const CameraConfig&) const = default;
};

/// `/model`: the network and how to run it.
struct ModelConfig {
  std::filesystem::path path;    ///< Required: the .tflite file.
  std::filesystem::path labels;  ///< Label file, one label per line; empty = indices only.
  std::filesystem::path groups;  ///< Label groups file (JSON object: group name -> labels); empty = none.
  int32_t threads = 1;           ///< Worker threads for inference, 1..64.
  std::string backend = "xnnpack";  ///< "xnnpack" (fast path) or "reference" (TFLite's reference arithmetic, byte-exact).
  bool center_crop = false;      ///< Crop the frame's centre to the input's aspect ratio before resize.
  std::array<double, 3> mean = {127.5, 127.5, 127.5};  ///< Per-channel (R,G,B) pixel mean, 0..255 scale.
  std::array<double, 3> std = {127.5, 127.5, 127.5};   ///< Per-channel (R,G,B) pixel std, > 0; real = (pixel - mean) / std.

  bool operator==(const ModelConfig&) const = default;
};

/// `/output`: which classes an event carries.
struct OutputConfig {
  int32_t top_k = 5;             ///< Classes per event, 1..100.
  double score_threshold = 0.0;  ///< Drop classes whose dequantized score is below this (any finite number: logits too).

  bool operator==(const OutputConfig&) const = default;
};

/// One element of `/zones`: a region of the frame, classified on its own,
/// whose confirmed state is published.
struct ZoneConfig {
  std::string name;              ///< Required: [A-Za-z0-9_-]+, unique; a topic level on MQTT.
  std::array<double, 4> region = {0.0, 0.0, 1.0, 1.0};  ///< [x0, y0, x1, y1] as fractions of the frame, x0 < x1, y0 < y1.
  std::vector<std::string> groups;  ///< Names of /model/groups the zone watches; empty = the top label is the state.
  double threshold = 0.5;        ///< Score a group (sum of its labels' scores) or the top label needs to be the state.
  int32_t confirm_frames = 3;    ///< Consecutive processed frames that must agree before a new state is adopted, >= 1.
  double min_hold_s = 0.0;       ///< A state is kept at least this long (seconds, >= 0) before it may change.

  bool operator==(const ZoneConfig&) const = default;
};

/// `/snapshot`: the JPEG published on each state change.
struct SnapshotConfig {
  bool enabled = true;
  int32_t max_size = 640;        ///< Longest side in pixels, 16..4096 (the frame is shrunk, never enlarged).
  int32_t quality = 80;          ///< JPEG quality, 1..100.

  bool operator==(const SnapshotConfig&) const = default;
};

/// `/socket`: the local Unix socket (JSON lines).
struct SocketConfig {
  bool enabled = true;
  std::filesystem::path path = "/run/lookout/lookoutd.sock";  ///< When enabled: non-empty, < 108 bytes.
  uint32_t mode = 0660;          ///< File mode, given in JSON as an octal string ("0660"), <= 0777.
  std::string group;             ///< Group owning the socket file; empty = unchanged.
  int32_t max_clients = 32;      ///< >= 1; further connections are refused.
  int64_t max_client_buffer_bytes = 1 << 20;  ///< >= 4096; a client whose unsent output exceeds this is dropped.

  bool operator==(const SocketConfig&) const = default;
};

/// `/mqtt/discovery`: Home Assistant MQTT discovery.
struct DiscoveryConfig {
  bool enabled = true;
  std::string prefix = "homeassistant";  ///< Home Assistant's discovery prefix; non-empty, no wildcards.

  bool operator==(const DiscoveryConfig&) const = default;
};

/// `/mqtt/tls`: TLS to the broker.
struct TlsConfig {
  bool enabled = false;
  std::filesystem::path ca_file;   ///< CA certificate(s) (PEM) the broker's certificate must chain to; empty = the system's CAs.
  std::filesystem::path cert_file; ///< Client certificate (PEM); with key_file, or neither.
  std::filesystem::path key_file;  ///< Client private key (PEM, unencrypted).
  bool verify = true;            ///< Verify the broker's certificate and host name. Off only for testing.

  bool operator==(const TlsConfig&) const = default;
};

/// `/mqtt`: the MQTT publisher (libmosquitto).
struct MqttConfig {
  bool enabled = false;
  std::string host = "localhost";  ///< Non-empty when enabled.
  int32_t port = 1883;           ///< 1..65535.
  std::string client_id;         ///< Empty: "lookout-<camera name>".
  std::string username;          ///< Empty: no authentication.
  std::string password;
  std::string topic_prefix;      ///< Empty: "lookout/<camera name>". No '+', '#', NUL or trailing '/'.
  int32_t qos = 1;               ///< QoS of results, states, events and snapshots, 0..2.
  bool retain = false;           ///< Retain the per-frame result events.
  int32_t keepalive_s = 30;      ///< MQTT keepalive in seconds, 5..3600.
  int32_t reconnect_min_s = 1;   ///< First reconnect delay in seconds, >= 1.
  int32_t reconnect_max_s = 60;  ///< Cap of the doubling reconnect delay in seconds, >= reconnect_min_s.
  int32_t queue_limit = 1000;    ///< >= 0. Messages kept while the broker is down; older ones are dropped and counted; 0 = no queue.
  std::string results = "off";   ///< Per-frame result events on <prefix>/result: "every_frame", "on_change" (top label changed) or "off".
  double results_max_per_s = 1.0;  ///< Cap of result events per second on MQTT, >= 0; 0 = no cap.
  int32_t diagnostics_interval_s = 60;  ///< Seconds between <prefix>/diagnostics messages, 5..3600.
  TlsConfig tls;
  DiscoveryConfig discovery;

  bool operator==(const MqttConfig&) const = default;
};

/// `/log`: lookoutd's log.
struct LogConfig {
  std::string level = "info";      ///< trace, debug, info, warn or error; `--log-level` overrides it.
  int32_t repeats_per_minute = 5;  ///< Identical lines printed per minute, >= 1; the rest are counted and the count logged.

  bool operator==(const LogConfig&) const = default;
};

/// The whole daemon configuration.
struct Config {
  CameraConfig camera;
  ModelConfig model;
  OutputConfig output;
  std::vector<ZoneConfig> zones;  ///< Empty: one zone, "frame", the whole frame (ZonesOrDefault()).
  SnapshotConfig snapshot;
  SocketConfig socket;
  MqttConfig mqtt;
  LogConfig log;

  bool operator==(const Config&) const = default;
};

/// A configuration error; what() is "<pointer>: <message>", or just the
/// message for the document itself (empty pointer).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& pointer, const std::string& message)
      : std::runtime_error(pointer.empty() ? message : pointer + ": " + message),
        pointer_(pointer) {}
  /// JSON pointer of the offending key ("" for the document itself).
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

/// Parses a configuration from JSON text. Strict: unknown and duplicate keys,
/// wrong types and out-of-range values are errors. Relative model.path,
/// model.labels and (images/video) camera.device are resolved against
/// `base_dir` (URLs and absolute paths are kept; empty `base_dir` resolves
/// nothing); files are not checked for existence. Fills defaults (client_id,
/// topic_prefix). Throws ConfigError naming the first bad key: each key's
/// own type and range are checked in the order docs/config.md lists them,
/// then the rules that involve several keys (device by camera type, socket
/// path when enabled, MQTT host when enabled, reconnect_max_s >=
/// reconnect_min_s).
Config ParseConfig(const std::string& json_text,
                   const std::filesystem::path& base_dir = {});

/// Reads and parses the file at `path` (relative paths resolve against its
/// folder). Throws ConfigError (pointer "" when the file cannot be read or is
/// not JSON).
Config LoadConfigFile(const std::filesystem::path& path);

/// The zones lookoutd runs: config.zones, or when empty one zone named
/// "frame" covering the whole frame with the other defaults of ZoneConfig.
std::vector<ZoneConfig> ZonesOrDefault(const Config& config);

/// True for a name of the configuration (camera, zone, group): [A-Za-z0-9_-]+.
/// Such names are MQTT topic levels and Home Assistant ids as they are.
bool IsValidName(const std::string& name);

/// Topic levels under <prefix> that a zone may not be named: "result",
/// "availability", "diagnostics".
bool IsReservedZoneName(const std::string& name);

/// The MQTT client id and topic prefix a camera named `camera` gets when
/// /mqtt/client_id or /mqtt/topic_prefix is empty: "lookout-<camera>" and
/// "lookout/<camera>". ParseConfig fills them in; the MQTT publisher applies
/// them to a configuration made by hand.
std::string DefaultMqttClientId(const std::string& camera);
std::string DefaultMqttTopicPrefix(const std::string& camera);

/// The effective configuration as a JSON document in the input format (so
/// ParseConfig accepts it again): defaults and resolved paths included, the
/// MQTT password replaced by "***" when set. For `lookoutd --check-config`.
nlohmann::json ConfigToJson(const Config& config);

/// The reference of every key as Markdown, one table per section: JSON
/// pointer, type, allowed values, default (a default-constructed Config's
/// value, as ConfigToJson shows it) and description; the values of
/// enumerated keys below their table. Starts with a
/// "<!-- BEGIN GENERATED: lookout config reference ..." line and ends with
/// "<!-- END GENERATED -->\n": docs/config.md holds it between its own
/// text (the config_doc build target rewrites it there).
std::string ConfigReferenceMarkdown();

}  // namespace lookout::config

#endif  // LOOKOUT_CONFIG_CONFIG_H_
