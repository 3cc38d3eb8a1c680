#include "app/event.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace lookout::daemon {
namespace {

// Rounds to `decimals` decimal places. round(x * 10^d) is an integer and the
// division is correctly rounded, so the result is the double nearest to the
// short decimal and nlohmann prints it short ("0.832", not "0.83199999...").
// Non-finite values become null: JSON has no NaN or infinity.
nlohmann::json Rounded(double value, int decimals) {
  if (!std::isfinite(value)) return nullptr;
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

constexpr int kScoreDecimals = 6;    // Quantized scores have ~8 bits anyway.
constexpr int kLatencyDecimals = 3;  // 1 µs resolution for milliseconds.

}  // namespace

nlohmann::json EventToJson(const Event& event) {
  auto ranking = [](const std::vector<ClassScore>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const ClassScore& c : list) {
      out.push_back({{"index", c.index}, {"label", c.label}, {"score", Rounded(c.score, kScoreDecimals)}});
    }
    return out;
  };
  nlohmann::json top_k = ranking(event.top_k);
  nlohmann::json zones = nlohmann::json::array();
  for (const ZoneResult& zone : event.zones) {
    zones.push_back({{"zone", zone.name},
                     {"candidate", zone.candidate},
                     {"score", Rounded(zone.score, kScoreDecimals)},
                     {"top_k", ranking(zone.top_k)}});
  }
  nlohmann::json json = {
      {"v", kEventSchemaVersion},
      {"type", "result"},
      {"camera", event.camera},
      {"seq", event.seq},
      {"ts", FormatTimestamp(event.ts)},
      {"model", event.model},
      {"top_k", std::move(top_k)},
      {"latency_ms",
       {{"capture_to_result", Rounded(event.capture_to_result_ms, kLatencyDecimals)},
        {"preprocess", Rounded(event.preprocess_ms, kLatencyDecimals)},
        {"inference", Rounded(event.inference_ms, kLatencyDecimals)}}},
  };
  if (!zones.empty()) json["zones"] = std::move(zones);
  return json;
}

std::string FormatTimestamp(std::chrono::system_clock::time_point time) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  // floor, not duration_cast: times before 1970 must not round up a second.
  const auto ms = std::chrono::floor<milliseconds>(time.time_since_epoch());
  const auto secs = std::chrono::floor<seconds>(ms);
  const auto millis = (ms - secs).count();  // 0..999
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "invalid-time";
  char date[32];
  const size_t n = std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  if (n == 0) return "invalid-time";
  char text[48];
  std::snprintf(text, sizeof(text), "%s.%03dZ", date, static_cast<int>(millis));
  return text;
}

}  // namespace lookout::daemon
