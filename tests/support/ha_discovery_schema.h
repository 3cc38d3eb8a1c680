// Home Assistant's MQTT discovery rules, written from its documentation
// (https://www.home-assistant.io/integrations/mqtt/ and the pages of the
// sensor, binary_sensor, event and image platforms), independent of the
// code that builds the payloads: the discovery topic's form, each
// platform's required keys, the keys it documents, topic syntax and the
// shape of the device block. CheckDiscoveryConfig() returns what is wrong
// (empty: nothing).
#ifndef LOOKOUT_TESTS_SUPPORT_HA_DISCOVERY_SCHEMA_H_
#define LOOKOUT_TESTS_SUPPORT_HA_DISCOVERY_SCHEMA_H_

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lookout::testing {

// An MQTT topic name one may publish to: non-empty, no wildcards, no NUL.
inline bool IsPublishTopic(const std::string& topic) {
  return !topic.empty() && topic.find_first_of(std::string("+#\0", 3)) == std::string::npos;
}

inline std::vector<std::string> CheckDiscoveryConfig(const std::string& topic, const nlohmann::json& payload,
                                                     const std::string& discovery_prefix) {
  std::vector<std::string> problems;
  // <discovery_prefix>/<component>/[<node_id>/]<object_id>/config
  static const std::regex kTopic("([a-z_]+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config");
  std::smatch m;
  const std::string rest =
      topic.starts_with(discovery_prefix + "/") ? topic.substr(discovery_prefix.size() + 1) : std::string();
  if (!std::regex_match(rest, m, kTopic)) {
    problems.push_back("topic " + topic + " is not <prefix>/<component>/<node_id>/<object_id>/config");
    return problems;
  }
  const std::string component = m[1];
  // Keys common to every entity (MQTT entity options, availability, device).
  const std::set<std::string> common = {
      "name", "unique_id", "availability_topic", "payload_available", "payload_not_available",
      "availability_mode", "availability_template", "device", "entity_category", "icon", "qos",
      "json_attributes_topic", "json_attributes_template", "enabled_by_default", "object_id",
      "default_entity_id", "origin", "encoding", "entity_picture"};
  const std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> platforms = {
      // platform: {required keys, further documented keys}
      {"sensor", {{"state_topic"},
                  {"value_template", "unit_of_measurement", "device_class", "state_class",
                   "suggested_display_precision", "expire_after", "force_update", "last_reset_value_template",
                   "options"}}},
      {"binary_sensor", {{"state_topic"},
                         {"payload_on", "payload_off", "device_class", "value_template", "expire_after",
                          "force_update", "off_delay"}}},
      {"event", {{"state_topic", "event_types"}, {"device_class", "value_template"}}},
      {"image", {{}, {"image_topic", "url_topic", "url_template", "content_type", "image_encoding"}}},
  };
  const auto platform = platforms.find(component);
  if (platform == platforms.end()) {
    problems.push_back("component " + component + " is not one Lookout announces");
    return problems;
  }
  if (!payload.is_object()) {
    problems.push_back("payload is not a JSON object");
    return problems;
  }
  for (const std::string& key : platform->second.first) {
    if (!payload.contains(key)) problems.push_back(component + " requires " + key);
  }
  if (component == "image" && payload.contains("image_topic") == payload.contains("url_topic")) {
    problems.push_back("image needs exactly one of image_topic and url_topic");
  }
  for (const auto& [key, value] : payload.items()) {
    if (!common.count(key) && !platform->second.second.count(key) && !platform->second.first.count(key)) {
      problems.push_back(component + " does not document the key " + key);
    }
    if (key.ends_with("_topic") && (!value.is_string() || !IsPublishTopic(value.get<std::string>()))) {
      problems.push_back(key + " is not a topic one can publish to");
    }
  }
  if (component == "event" && payload.contains("event_types") &&
      (!payload["event_types"].is_array() || payload["event_types"].empty())) {
    problems.push_back("event_types must be a non-empty list");
  }
  if (payload.contains("qos") && (!payload["qos"].is_number_integer() || payload["qos"] < 0 || payload["qos"] > 2)) {
    problems.push_back("qos must be 0, 1 or 2");
  }
  if (!payload.contains("unique_id") || !payload["unique_id"].is_string()) {
    problems.push_back("unique_id is needed for a device's entities");
  }
  if (!payload.contains("availability_topic")) problems.push_back("no availability_topic");
  if (!payload.contains("device") || !payload["device"].is_object()) {
    problems.push_back("no device block");
  } else {
    const nlohmann::json& device = payload["device"];
    if (!device.contains("identifiers") && !device.contains("connections")) {
      problems.push_back("device needs identifiers or connections");
    }
    static const std::set<std::string> kDeviceKeys = {
        "identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
        "hw_version", "serial_number", "configuration_url", "suggested_area", "via_device"};
    for (const auto& [key, unused] : device.items()) {
      if (!kDeviceKeys.count(key)) problems.push_back("device does not document the key " + key);
    }
  }
  if (payload.contains("entity_category") && payload["entity_category"] != "diagnostic" &&
      payload["entity_category"] != "config") {
    problems.push_back("entity_category must be diagnostic or config");
  }
  return problems;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_HA_DISCOVERY_SCHEMA_H_
