#include "mqtt/discovery.h"

#include <cctype>

namespace lookout::daemon {
namespace {

using nlohmann::json;

}  // namespace

CameraTopics TopicsFor(const config::MqttConfig& config, const std::string& camera) {
  const std::string prefix =
      config.topic_prefix.empty() ? config::DefaultMqttTopicPrefix(camera) : config.topic_prefix;
  return {prefix + "/result", prefix + "/availability"};
}

std::string SanitizeId(const std::string& text) {
  std::string id = text;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return id;
}

std::vector<DiscoveryMessage> DiscoveryMessages(const config::MqttConfig& config, const DeviceInfo& device,
                                                const CameraTopics& topics) {
  const std::string node_id = SanitizeId("lookout_" + device.camera);
  const json device_block = {
      {"identifiers", json::array({node_id})},
      {"name", "Lookout " + device.camera},
      {"manufacturer", "Lookout"},
      {"model", device.model},
      {"sw_version", device.version},
  };
  auto sensor = [&](const std::string& object_id, const std::string& name) {
    return json{
        {"name", name},
        {"unique_id", node_id + "_" + object_id},
        {"state_topic", topics.result},
        {"qos", config.qos},
        {"availability_topic", topics.availability},
        {"payload_available", kOnline},
        {"payload_not_available", kOffline},
        {"device", device_block},
    };
  };

  json top_label = sensor("top_label", "Top label");
  top_label["value_template"] = "{{ value_json.top_k[0].label if value_json.top_k else 'none' }}";
  top_label["json_attributes_topic"] = topics.result;
  top_label["json_attributes_template"] =
      "{{ {'top_k': value_json.top_k, 'seq': value_json.seq, 'ts': value_json.ts} | tojson }}";
  top_label["icon"] = "mdi:eye";

  json top_score = sensor("top_score", "Top score");
  top_score["value_template"] = "{{ value_json.top_k[0].score if value_json.top_k else 0 }}";
  top_score["state_class"] = "measurement";
  top_score["suggested_display_precision"] = 3;
  top_score["icon"] = "mdi:gauge";

  json latency = sensor("inference_latency", "Inference latency");
  latency["value_template"] = "{{ value_json.latency_ms.inference }}";
  latency["unit_of_measurement"] = "ms";
  latency["device_class"] = "duration";
  latency["state_class"] = "measurement";
  latency["entity_category"] = "diagnostic";

  auto topic = [&](const std::string& object_id) {
    return config.discovery.prefix + "/sensor/" + node_id + "/" + object_id + "/config";
  };
  std::vector<DiscoveryMessage> messages;
  messages.push_back({topic("top_label"), std::move(top_label)});
  messages.push_back({topic("top_score"), std::move(top_score)});
  messages.push_back({topic("inference_latency"), std::move(latency)});
  return messages;
}

}  // namespace lookout::daemon
