// Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery)
// and the topics a camera publishes on. Pure: builds topics and payloads,
// publishes nothing (MqttPublisher sends the configs retained, QoS 1, on
// every connect and on Home Assistant's birth message).
//
// One device per camera ("Lookout <camera>"). Per zone: a `sensor` (the
// confirmed state, its attributes from <prefix>/<zone>/attributes), a
// `binary_sensor` per watched group (ON/OFF), an `event` entity (state
// changes) and an `image` entity (the snapshot JPEG). Per camera: diagnostic
// sensors read from <prefix>/diagnostics (fps, inference ms, dropped
// frames, camera state), and with /mqtt/results other than "off" the top
// label and score from <prefix>/result. Every entity has availability
// (<prefix>/availability) and a stable unique_id "<node_id>_<object_id>",
// node_id = SanitizeId("lookout_" + camera).
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
  std::string configuration_url;  ///< Shown as a link on the device page; empty = none.
};

/// A zone as discovery and the topics see it.
struct ZoneInfo {
  std::string name;
  std::vector<std::string> groups;  ///< Watched groups: one binary_sensor and ON/OFF topic each.
};

/// The availability payloads (on <prefix>/availability; "offline" is also
/// the last will).
inline constexpr char kOnline[] = "online";
inline constexpr char kOffline[] = "offline";

/// Leaves under <prefix>/<zone>/ that a group may not be named.
bool IsReservedZoneLeaf(const std::string& name);

/// The topics of one camera, the prefix being /mqtt/topic_prefix or, when
/// empty, config::DefaultMqttTopicPrefix(camera).
struct CameraTopics {
  std::string prefix;
  std::string result;        ///< <prefix>/result: per-frame result events.
  std::string availability;  ///< <prefix>/availability: online / offline.
  std::string diagnostics;   ///< <prefix>/diagnostics: JSON, retained.

  /// <prefix>/<zone>/state: the confirmed state, plain text, retained.
  std::string ZoneState(const std::string& zone) const { return prefix + "/" + zone + "/state"; }
  /// <prefix>/<zone>/attributes: JSON (score, top_k, since, seq), retained.
  std::string ZoneAttributes(const std::string& zone) const { return prefix + "/" + zone + "/attributes"; }
  /// <prefix>/<zone>/event: one JSON message per state change, not retained.
  std::string ZoneEvent(const std::string& zone) const { return prefix + "/" + zone + "/event"; }
  /// <prefix>/<zone>/snapshot: JPEG bytes, retained.
  std::string ZoneSnapshot(const std::string& zone) const { return prefix + "/" + zone + "/snapshot"; }
  /// <prefix>/<zone>/<group>: ON / OFF, retained.
  std::string ZoneGroup(const std::string& zone, const std::string& group) const {
    return prefix + "/" + zone + "/" + group;
  }
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

/// The configs for `device` and its `zones` (see the file comment); state
/// topics use config.qos.
std::vector<DiscoveryMessage> DiscoveryMessages(const config::MqttConfig& config, const DeviceInfo& device,
                                                const CameraTopics& topics, const std::vector<ZoneInfo>& zones);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_MQTT_DISCOVERY_H_
