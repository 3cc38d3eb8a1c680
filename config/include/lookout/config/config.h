// Typed configuration of lookoutd, parsed from JSON. Every key is optional
// unless noted; defaults live in these structs. Parsing refuses unknown keys
// and bad values before anything starts, naming the JSON pointer of the bad
// key ("/mqtt/port: expected an integer in [1, 65535], got 70000").
#ifndef LOOKOUT_CONFIG_CONFIG_H_
#define LOOKOUT_CONFIG_CONFIG_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace lookout::config {

/// Where frames come from.
enum class SourceType {
  kLibcamera,  ///< Raspberry Pi camera through libcamera; `device` = camera id (empty: first).
  kV4l2,       ///< V4L2 / USB webcam through OpenCV; `device` = /dev/videoN or index.
  kVideo,      ///< Video file through OpenCV; `device` = path.
  kRtsp,       ///< RTSP/HTTP stream through OpenCV; `device` = URL.
  kImages,     ///< Folder of still images (sorted by name); `device` = folder path.
};

/// `/camera`: the frame source.
struct CameraConfig {
  std::string name = "camera";   ///< Camera name: in events and MQTT topics ([A-Za-z0-9_-]+).
  SourceType type = SourceType::kImages;
  std::string device;            ///< Required: path, device, URL or camera id (see SourceType).
  int32_t width = 0;             ///< Requested capture width in pixels; 0 = source default.
  int32_t height = 0;            ///< Requested capture height in pixels; 0 = source default.
  double fps = 0.0;              ///< Frame rate (frames/s); images: pacing (0 = 1 fps), others: request (0 = native).
  bool loop = false;             ///< Images and video: start again at the end instead of stopping.
  int64_t max_frames = 0;        ///< Stop the daemon after this many captured frames; 0 = never.
};

/// `/model`: the network and how to run it.
struct ModelConfig {
  std::filesystem::path path;    ///< Required: the .tflite file.
  std::filesystem::path labels;  ///< Label file, one label per line; empty = indices only.
  int32_t threads = 1;           ///< Worker threads for inference, >= 1.
  bool center_crop = false;      ///< Crop the frame's centre to the input's aspect ratio before resize.
  std::array<double, 3> mean = {127.5, 127.5, 127.5};  ///< Per-channel (R,G,B) pixel mean, 0..255 scale.
  std::array<double, 3> std = {127.5, 127.5, 127.5};   ///< Per-channel (R,G,B) pixel std; real = (pixel - mean) / std.
};

/// `/output`: which classes an event carries.
struct OutputConfig {
  int32_t top_k = 5;             ///< Classes per event, >= 1.
  double score_threshold = 0.0;  ///< Drop classes whose dequantized score is below this.
};

/// `/socket`: the local Unix socket (JSON lines).
struct SocketConfig {
  bool enabled = true;
  std::filesystem::path path = "/run/lookout/lookoutd.sock";
  uint32_t mode = 0660;          ///< File mode, given in JSON as an octal string ("0660").
  std::string group;             ///< Group owning the socket file; empty = unchanged.
  int32_t max_clients = 32;      ///< Further connections are refused.
  int64_t max_client_buffer_bytes = 1 << 20;  ///< A client whose unsent output exceeds this is dropped.
};

/// `/mqtt/discovery`: Home Assistant MQTT discovery.
struct DiscoveryConfig {
  bool enabled = true;
  std::string prefix = "homeassistant";  ///< Home Assistant's discovery prefix.
};

/// `/mqtt`: the MQTT publisher (libmosquitto).
struct MqttConfig {
  bool enabled = false;
  std::string host = "localhost";
  int32_t port = 1883;
  std::string client_id;         ///< Empty: "lookout-<camera name>".
  std::string username;          ///< Empty: no authentication.
  std::string password;
  std::string topic_prefix;      ///< Empty: "lookout/<camera name>".
  int32_t qos = 1;               ///< QoS of result events, 0..2.
  bool retain = false;           ///< Retain result events.
  int32_t keepalive_s = 30;      ///< MQTT keepalive in seconds.
  int32_t reconnect_min_s = 1;   ///< First reconnect delay in seconds.
  int32_t reconnect_max_s = 60;  ///< Cap of the doubling reconnect delay in seconds.
  int32_t queue_limit = 1000;    ///< Events kept while the broker is down; older ones are dropped and counted.
  DiscoveryConfig discovery;
};

/// The whole daemon configuration.
struct Config {
  CameraConfig camera;
  ModelConfig model;
  OutputConfig output;
  SocketConfig socket;
  MqttConfig mqtt;
};

/// A configuration error; what() starts with the JSON pointer of the bad key.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& pointer, const std::string& message)
      : std::runtime_error(pointer + ": " + message), pointer_(pointer) {}
  /// JSON pointer of the offending key ("" for the document itself).
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

/// Parses a configuration from JSON text. Relative paths are resolved against
/// `base_dir`. Fills defaults (client_id, topic_prefix). Throws ConfigError.
Config ParseConfig(const std::string& json_text,
                   const std::filesystem::path& base_dir = {});

/// Reads and parses the file at `path` (relative paths resolve against its
/// folder). Throws ConfigError (pointer "" when the file cannot be read or is
/// not JSON).
Config LoadConfigFile(const std::filesystem::path& path);

/// "libcamera", "v4l2", "video", "rtsp" or "images".
const char* SourceTypeName(SourceType type);

}  // namespace lookout::config

#endif  // LOOKOUT_CONFIG_CONFIG_H_
