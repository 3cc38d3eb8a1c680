// The result event, schema v1: the same JSON on the Unix socket and on MQTT.
//
//   {"v":1,"type":"result","camera":"front","seq":1234,"ts":"2026-11-22T10:00:00.123Z",
//    "model":"mobilenet_v2_1.0_224_quant",
//    "top_k":[{"index":653,"label":"military uniform","score":0.832}],
//    "latency_ms":{"capture_to_result":21.4,"preprocess":1.2,"inference":17.9},
//    "zones":[{"zone":"frame","candidate":"military uniform","score":0.832,"top_k":[...]}]}
//
// `top_k` is the first zone's (the whole frame without /zones); `zones` has
// every zone's ranking and this frame's candidate state (before
// confirmation); latencies add up over the zones.
//
// `score` is the dequantized output, scale × (q − zero_point). `index` is the
// class identity (labels repeat in ImageNet's list); `label` is for people.
#ifndef LOOKOUT_DAEMON_APP_EVENT_H_
#define LOOKOUT_DAEMON_APP_EVENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "classifier/class_score.h"

namespace lookout::daemon {

/// One zone's view of a frame.
struct ZoneResult {
  std::string name;
  std::string candidate;  ///< This frame's candidate state (not confirmed).
  double score = 0.0;     ///< The candidate's score.
  std::vector<ClassScore> top_k;
};

/// One classified frame.
struct Event {
  std::string camera;
  uint64_t seq = 0;                                ///< Frame sequence number from the source.
  std::chrono::system_clock::time_point ts;        ///< Capture wall-clock time.
  std::string model;                               ///< Model name (file stem).
  std::vector<ClassScore> top_k;
  std::vector<ZoneResult> zones;                   ///< Left out of the JSON when empty.
  double capture_to_result_ms = 0.0;
  double preprocess_ms = 0.0;
  double inference_ms = 0.0;
};

/// Schema version carried in "v".
inline constexpr int kEventSchemaVersion = 1;

/// The event as schema-v1 JSON.
nlohmann::json EventToJson(const Event& event);

/// RFC 3339 UTC time with milliseconds: "2026-11-22T10:00:00.123Z".
std::string FormatTimestamp(std::chrono::system_clock::time_point time);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_APP_EVENT_H_
