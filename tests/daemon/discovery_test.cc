#include "mqtt/discovery.h"

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "support/catch_compat.h"
#include "support/ha_discovery_schema.h"

namespace lookout::daemon {
namespace {

using nlohmann::json;

TEST_CASE("discovery: ids keep Home Assistant's [a-zA-Z0-9_-] and nothing else", "[mqtt][discovery]") {
  CHECK(SanitizeId("lookout_front-door_2") == "lookout_front-door_2");
  CHECK(SanitizeId("lookout_front door/ä") == "lookout_front_door___");  // 'ä' is two bytes in UTF-8.
  CHECK(SanitizeId("") == "");
}

TEST_CASE("discovery: camera topics follow the prefix, or lookout/<camera> without one", "[mqtt][discovery]") {
  config::MqttConfig config;
  config.topic_prefix = "";
  CameraTopics topics = TopicsFor(config, "porch");
  CHECK(topics.result == "lookout/porch/result");
  CHECK(topics.availability == "lookout/porch/availability");
  config.topic_prefix = "home/cams/porch";
  topics = TopicsFor(config, "porch");
  CHECK(topics.result == "home/cams/porch/result");
  CHECK(topics.availability == "home/cams/porch/availability");
}

TEST_CASE("discovery: per zone a sensor, a binary_sensor per group, an event and an image, "
          "per camera diagnostics, all valid for Home Assistant", "[mqtt][discovery]") {
  config::MqttConfig config;
  config.qos = 0;
  config.discovery.prefix = "ha";
  const DeviceInfo device{"front door", "mobilenet_v2_1.0_224_quant", "1.2.3", "http://pi.local/"};
  const CameraTopics topics = TopicsFor([] {
    config::MqttConfig c;
    c.topic_prefix = "cams/front";
    return c;
  }(), "front door");
  const std::vector<ZoneInfo> zones = {{"sofa", {"cat", "dog"}}, {"drive-way", {}}};
  const auto messages = DiscoveryMessages(config, device, topics, zones);

  std::map<std::string, json> by_topic;
  std::set<std::string> unique_ids;
  for (const DiscoveryMessage& m : messages) {
    INFO(m.topic << " " << m.payload.dump());
    CHECK(lookout::testing::CheckDiscoveryConfig(m.topic, m.payload, "ha").empty());
    for (const std::string& problem : lookout::testing::CheckDiscoveryConfig(m.topic, m.payload, "ha")) {
      INFO(problem);
    }
    CHECK(unique_ids.insert(m.payload.at("unique_id").get<std::string>()).second);
    CHECK(m.payload.at("availability_topic") == "cams/front/availability");
    const json& d = m.payload.at("device");
    CHECK(d.at("identifiers") == json::array({"lookout_front_door"}));
    CHECK(d.at("name") == "Lookout front door");
    CHECK(d.at("model") == "mobilenet_v2_1.0_224_quant");
    CHECK(d.at("sw_version") == "1.2.3");
    CHECK(d.at("configuration_url") == "http://pi.local/");
    by_topic[m.topic] = m.payload;
  }
  // Written out by hand: 2 zones x (sensor, event, image) + 2 groups + 4 diagnostics.
  const std::set<std::string> expected = {
      "ha/sensor/lookout_front_door/sofa_state/config",
      "ha/binary_sensor/lookout_front_door/sofa_cat/config",
      "ha/binary_sensor/lookout_front_door/sofa_dog/config",
      "ha/event/lookout_front_door/sofa_changed/config",
      "ha/image/lookout_front_door/sofa_snapshot/config",
      "ha/sensor/lookout_front_door/drive-way_state/config",
      "ha/event/lookout_front_door/drive-way_changed/config",
      "ha/image/lookout_front_door/drive-way_snapshot/config",
      "ha/sensor/lookout_front_door/fps/config",
      "ha/sensor/lookout_front_door/inference_ms/config",
      "ha/sensor/lookout_front_door/frames_dropped/config",
      "ha/sensor/lookout_front_door/camera_state/config",
  };
  std::set<std::string> seen;
  for (const auto& [topic, unused] : by_topic) seen.insert(topic);
  CHECK(seen == expected);

  const json& state = by_topic["ha/sensor/lookout_front_door/sofa_state/config"];
  CHECK(state.at("state_topic") == "cams/front/sofa/state");
  CHECK(state.at("json_attributes_topic") == "cams/front/sofa/attributes");
  CHECK(state.at("unique_id") == "lookout_front_door_sofa_state");
  CHECK(state.at("qos") == 0);
  const json& cat = by_topic["ha/binary_sensor/lookout_front_door/sofa_cat/config"];
  CHECK(cat.at("state_topic") == "cams/front/sofa/cat");
  CHECK(cat.at("payload_on") == "ON");
  CHECK(cat.at("payload_off") == "OFF");
  const json& event = by_topic["ha/event/lookout_front_door/sofa_changed/config"];
  CHECK(event.at("state_topic") == "cams/front/sofa/event");
  CHECK(event.at("event_types") == json::array({"state_changed"}));
  const json& image = by_topic["ha/image/lookout_front_door/sofa_snapshot/config"];
  CHECK(image.at("image_topic") == "cams/front/sofa/snapshot");
  CHECK(image.at("content_type") == "image/jpeg");
  const json& fps = by_topic["ha/sensor/lookout_front_door/fps/config"];
  CHECK(fps.at("state_topic") == "cams/front/diagnostics");
  CHECK(fps.at("entity_category") == "diagnostic");
  // A zone name with a space is a topic level as given, an id sanitized.
  CHECK(by_topic["ha/sensor/lookout_front_door/drive-way_state/config"].at("state_topic") ==
        "cams/front/drive-way/state");

  // With results on MQTT, the top label and score sensors read them.
  config.results = "on_change";
  const auto with_results = DiscoveryMessages(config, device, topics, zones);
  CHECK(with_results.size() == messages.size() + 2);
  for (const DiscoveryMessage& m : with_results) {
    CHECK(lookout::testing::CheckDiscoveryConfig(m.topic, m.payload, "ha").empty());
  }
}

TEST_CASE("discovery: the schema check itself refuses what Home Assistant would", "[mqtt][discovery]") {
  using lookout::testing::CheckDiscoveryConfig;
  const json ok = {{"name", "x"}, {"unique_id", "u"}, {"state_topic", "a/b"}, {"availability_topic", "a/c"},
                   {"device", {{"identifiers", {"d"}}}}};
  CHECK(CheckDiscoveryConfig("ha/sensor/n/o/config", ok, "ha").empty());
  json no_state = ok;
  no_state.erase("state_topic");
  CHECK(CheckDiscoveryConfig("ha/sensor/n/o/config", no_state, "ha") ==
        std::vector<std::string>{"sensor requires state_topic"});
  json wildcard = ok;
  wildcard["state_topic"] = "a/#";
  CHECK(CheckDiscoveryConfig("ha/sensor/n/o/config", wildcard, "ha") ==
        std::vector<std::string>{"state_topic is not a topic one can publish to"});
  CHECK(!CheckDiscoveryConfig("ha/sensor/n/o b/config", ok, "ha").empty());
  CHECK(CheckDiscoveryConfig("ha/event/n/o/config", ok, "ha") ==
        std::vector<std::string>{"event requires event_types"});
  json typo = ok;
  typo["state_topc"] = "a/b";
  CHECK(CheckDiscoveryConfig("ha/sensor/n/o/config", typo, "ha") ==
        std::vector<std::string>{"sensor does not document the key state_topc"});
}

}  // namespace
}  // namespace lookout::daemon
