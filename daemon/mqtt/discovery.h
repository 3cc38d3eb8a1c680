// Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
// the retained config messages that make a camera one Home Assistant device
// with its entities. Pure: builds topics and payloads, publishes nothing
// (MqttPublisher sends them, retained, QoS 1, on every connect and on Home
// Assistant's birth message).
#ifndef LOOKOUT_DAEMON_MQTT_DISCOVERY_H_
#define LOOKOUT_DAEMON_MQTT_DISCOVERY_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookout/config/config.h"

namespace lookout::daemon {

/// What Home Assistant's device block and the discovery configs describe.
struct DeviceInfo {
  std::string camera;   ///< Camera name (config /camera/name).
  std::string model;    ///< Model name, shown as the device model.
  std::string version;  ///< Lookout version, shown as the device's sw_version.
};

/// The availability payloads (on <prefix>/availability; "offline" is also
/// the last will).
inline constexpr char kOnline[] = "online";
inline constexpr char kOffline[] = "offline";

/// The topics one camera publishes on: <prefix>/result and
/// <prefix>/availability, the prefix being /mqtt/topic_prefix or, when
/// empty, config::DefaultMqttTopicPrefix(camera).
struct CameraTopics {
  std::string result;
  std::string availability;
};
CameraTopics TopicsFor(const config::MqttConfig& config, const std::string& camera);

/// Home Assistant's node_id / object_id character set: every byte outside
/// [a-zA-Z0-9_-] becomes '_'.
std::string SanitizeId(const std::string& text);

/// One retained discovery config: `topic` is
/// <discovery prefix>/<component>/<node_id>/<object_id>/config.
struct DiscoveryMessage {
  std::string topic;
  nlohmann::json payload;
};

/// The configs for `device`: three `sensor`s (top label with the top-k as
/// attributes, top score, inference latency in ms as a diagnostic) reading
/// topics.result, each with the device block, a unique_id
/// "<node_id>_<object_id>" (node_id = SanitizeId("lookout_" + camera)),
/// availability on topics.availability ("online" / "offline") and
/// config.qos.
std::vector<DiscoveryMessage> DiscoveryMessages(const config::MqttConfig& config, const DeviceInfo& device,
                                                const CameraTopics& topics);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_MQTT_DISCOVERY_H_
