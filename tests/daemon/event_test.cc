#include <chrono>
#include <limits>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include "app/event.h"

namespace lookout::daemon {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;

system_clock::time_point FromMillis(int64_t ms) { return system_clock::time_point(milliseconds(ms)); }

TEST_CASE("EventToJson gives exactly the schema v1 keys and values", "[event]") {
  Event event;
  event.camera = "front";
  event.seq = 1234;
  event.ts = FromMillis(1700000000123);
  event.model = "mobilenet_v2_1.0_224_quant";
  event.top_k = {{653, "military uniform", 0.83203125}, {7, "cock", 0.0123456789}};
  event.capture_to_result_ms = 21.4;
  event.preprocess_ms = 1.23456;
  event.inference_ms = 17.9004;

  const json expected = json::parse(R"({
    "v": 1, "type": "result", "camera": "front", "seq": 1234, "ts": "2023-11-14T22:13:20.123Z",
    "model": "mobilenet_v2_1.0_224_quant",
    "top_k": [{"index": 653, "label": "military uniform", "score": 0.832031},
              {"index": 7, "label": "cock", "score": 0.012346}],
    "latency_ms": {"capture_to_result": 21.4, "preprocess": 1.235, "inference": 17.9}
  })");
  json actual = EventToJson(event);
  CHECK(actual == expected);

  // With zones: each zone's candidate and ranking.
  event.zones = {{"sofa", "cat", 0.7578125, {{281, "tabby", 0.5}}}};
  actual = EventToJson(event);
  CHECK(actual["zones"] == json::parse(R"([{"zone": "sofa", "candidate": "cat", "score": 0.757813,
                                            "top_k": [{"index": 281, "label": "tabby", "score": 0.5}]}])"));
  CHECK(actual["seq"].is_number_unsigned());
  CHECK(actual["top_k"][0]["index"].is_number_integer());

  // Rounded values print short, as a person would write them.
  const std::string text = actual.dump();
  CHECK(text.find("\"score\":0.832031") != std::string::npos);
  CHECK(text.find("\"capture_to_result\":21.4") != std::string::npos);
}

TEST_CASE("EventToJson of an empty top-k and odd numbers", "[event]") {
  Event event;
  event.camera = "c";
  event.ts = FromMillis(0);
  event.inference_ms = std::numeric_limits<double>::quiet_NaN();
  event.preprocess_ms = std::numeric_limits<double>::infinity();
  const json actual = EventToJson(event);
  CHECK(actual["top_k"] == json::array());
  CHECK(actual["ts"] == "1970-01-01T00:00:00.000Z");
  CHECK(actual["latency_ms"]["inference"].is_null());  // JSON has no NaN.
  CHECK(actual["latency_ms"]["preprocess"].is_null());
  CHECK(actual["latency_ms"]["capture_to_result"] == 0.0);
  CHECK(json::accept(actual.dump()));
}

TEST_CASE("FormatTimestamp is RFC 3339 UTC with milliseconds", "[event]") {
  // 1700000000 s after the epoch is 2023-11-14 22:13:20 UTC.
  CHECK(FormatTimestamp(FromMillis(1700000000123)) == "2023-11-14T22:13:20.123Z");
  CHECK(FormatTimestamp(FromMillis(1700000000000)) == "2023-11-14T22:13:20.000Z");
  // 951782400 s: 2000-02-29 00:00:00 UTC, a leap day.
  CHECK(FormatTimestamp(FromMillis(951782400007)) == "2000-02-29T00:00:00.007Z");
  // Sub-millisecond parts are cut, never rounded up into the next second.
  CHECK(FormatTimestamp(system_clock::time_point(std::chrono::microseconds(1700000000999999))) ==
        "2023-11-14T22:13:20.999Z");
  // Before the epoch, the millisecond floor is taken.
  CHECK(FormatTimestamp(FromMillis(-1)) == "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace lookout::daemon
