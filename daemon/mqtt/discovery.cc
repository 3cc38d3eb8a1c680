#include "mqtt/discovery.h"

#include <cctype>

namespace lookout::daemon {
namespace {

using nlohmann::json;

}  // namespace

bool IsReservedZoneLeaf(const std::string& name) {
  return name == "state" || name == "attributes" || name == "event" || name == "snapshot";
}

CameraTopics TopicsFor(const config::MqttConfig& config, const std::string& camera) {
  const std::string prefix =
      config.topic_prefix.empty() ? config::DefaultMqttTopicPrefix(camera) : config.topic_prefix;
  return {prefix, prefix + "/result", prefix + "/availability", prefix + "/diagnostics"};
}

std::string SanitizeId(const std::string& text) {
  std::string id = text;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return id;
}

std::vector<DiscoveryMessage> DiscoveryMessages(const config::MqttConfig& config, const DeviceInfo& device,
                                                const CameraTopics& topics, const std::vector<ZoneInfo>& zones) {
  const std::string node_id = SanitizeId("lookout_" + device.camera);
  json device_block = {
      {"identifiers", json::array({node_id})},
      {"name", "Lookout " + device.camera},
      {"manufacturer", "Lookout"},
      {"model", device.model},
      {"sw_version", device.version},
  };
  if (!device.configuration_url.empty()) device_block["configuration_url"] = device.configuration_url;

  std::vector<DiscoveryMessage> messages;
  auto add = [&](const std::string& component, const std::string& object_id, const std::string& name,
                 json payload) {
    const std::string id = SanitizeId(object_id);
    payload["name"] = name;
    payload["unique_id"] = node_id + "_" + id;
    payload["availability_topic"] = topics.availability;
    payload["payload_available"] = kOnline;
    payload["payload_not_available"] = kOffline;
    payload["device"] = device_block;
    messages.push_back({config.discovery.prefix + "/" + component + "/" + node_id + "/" + id + "/config",
                        std::move(payload)});
  };

  for (const ZoneInfo& zone : zones) {
    add("sensor", zone.name + "_state", zone.name,
        {{"state_topic", topics.ZoneState(zone.name)},
         {"json_attributes_topic", topics.ZoneAttributes(zone.name)},
         {"qos", config.qos},
         {"icon", "mdi:eye"}});
    for (const std::string& group : zone.groups) {
      add("binary_sensor", zone.name + "_" + group, zone.name + " " + group,
          {{"state_topic", topics.ZoneGroup(zone.name, group)},
           {"payload_on", "ON"},
           {"payload_off", "OFF"},
           {"qos", config.qos},
           {"device_class", "occupancy"}});
    }
    add("event", zone.name + "_changed", zone.name + " changed",
        {{"state_topic", topics.ZoneEvent(zone.name)},
         {"event_types", json::array({"state_changed"})},
         {"qos", config.qos},
         {"icon", "mdi:swap-horizontal"}});
    add("image", zone.name + "_snapshot", zone.name + " snapshot",
        {{"image_topic", topics.ZoneSnapshot(zone.name)}, {"content_type", "image/jpeg"}});
  }

  auto diagnostic = [&](const std::string& object_id, const std::string& name, const std::string& key,
                        json extra) {
    json payload = {{"state_topic", topics.diagnostics},
                    {"value_template", "{{ value_json." + key + " }}"},
                    {"qos", config.qos},
                    {"entity_category", "diagnostic"}};
    payload.update(extra);
    add("sensor", object_id, name, std::move(payload));
  };
  diagnostic("fps", "Processed frames per second", "fps",
             {{"unit_of_measurement", "fps"}, {"state_class", "measurement"}, {"icon", "mdi:speedometer"}});
  diagnostic("inference_ms", "Inference time", "inference_ms",
             {{"unit_of_measurement", "ms"}, {"device_class", "duration"}, {"state_class", "measurement"}});
  diagnostic("frames_dropped", "Dropped frames", "frames_dropped",
             {{"state_class", "total_increasing"}, {"icon", "mdi:image-broken-variant"}});
  diagnostic("camera_state", "Camera state", "camera_state", {{"icon", "mdi:cctv"}});

  if (config.results != "off") {
    add("sensor", "top_label", "Top label",
        {{"state_topic", topics.result},
         {"value_template", "{{ value_json.top_k[0].label if value_json.top_k else 'none' }}"},
         {"json_attributes_topic", topics.result},
         {"json_attributes_template", "{{ {'top_k': value_json.top_k, 'seq': value_json.seq} | tojson }}"},
         {"qos", config.qos},
         {"icon", "mdi:label"}});
    add("sensor", "top_score", "Top score",
        {{"state_topic", topics.result},
         {"value_template", "{{ value_json.top_k[0].score if value_json.top_k else 0 }}"},
         {"state_class", "measurement"},
         {"suggested_display_precision", 3},
         {"qos", config.qos},
         {"icon", "mdi:gauge"}});
  }
  return messages;
}

}  // namespace lookout::daemon
