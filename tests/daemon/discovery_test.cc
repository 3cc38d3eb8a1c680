#include "mqtt/discovery.h"

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "support/catch_compat.h"

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

TEST_CASE("discovery: three sensors of one device, each with what Home Assistant requires", "[mqtt][discovery]") {
  config::MqttConfig config;
  config.qos = 0;
  config.discovery.prefix = "ha";
  const DeviceInfo device{"front door", "mobilenet_v2_1.0_224_quant", "1.2.3"};
  const CameraTopics topics{"cams/front/result", "cams/front/availability"};
  const auto messages = DiscoveryMessages(config, device, topics);

  std::set<std::string> seen_topics, unique_ids;
  for (const DiscoveryMessage& m : messages) {
    INFO(m.topic);
    seen_topics.insert(m.topic);
    const json& p = m.payload;
    unique_ids.insert(p.at("unique_id").get<std::string>());
    // The MQTT sensor's required key, and what every Lookout entity carries.
    CHECK(p.at("state_topic") == "cams/front/result");
    CHECK(p.at("qos") == 0);
    CHECK(p.at("availability_topic") == "cams/front/availability");
    CHECK(p.at("payload_available") == "online");
    CHECK(p.at("payload_not_available") == "offline");
    CHECK(p.at("value_template").is_string());
    CHECK(p.at("name").is_string());
    const json& d = p.at("device");
    CHECK(d.at("identifiers") == json::array({"lookout_front_door"}));
    CHECK(d.at("name") == "Lookout front door");
    CHECK(d.at("model") == "mobilenet_v2_1.0_224_quant");
    CHECK(d.at("sw_version") == "1.2.3");
  }
  // <discovery prefix>/<component>/<node_id>/<object_id>/config, node_id sanitized.
  CHECK(seen_topics == std::set<std::string>{"ha/sensor/lookout_front_door/top_label/config",
                                             "ha/sensor/lookout_front_door/top_score/config",
                                             "ha/sensor/lookout_front_door/inference_latency/config"});
  CHECK(unique_ids == std::set<std::string>{"lookout_front_door_top_label", "lookout_front_door_top_score",
                                            "lookout_front_door_inference_latency"});
  REQUIRE(messages.size() == 3);
  const json& latency = messages[2].payload;
  CHECK(latency.at("unit_of_measurement") == "ms");
  CHECK(latency.at("device_class") == "duration");
  CHECK(latency.at("entity_category") == "diagnostic");
  CHECK(messages[0].payload.at("json_attributes_topic") == "cams/front/result");
}

}  // namespace
}  // namespace lookout::daemon
