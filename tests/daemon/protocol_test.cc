#include "server/protocol.h"

#include <string>

#include <nlohmann/json.hpp>

#include "support/catch_compat.h"

namespace lookout::daemon::protocol {
namespace {

using nlohmann::json;
using Kind = ParsedLine::Kind;

TEST_CASE("protocol: blank lines are no request and need no reply", "[protocol]") {
  for (const char* line : {"", " ", "\t", "\r", "  \r"}) {
    CHECK(ParseLine(line).kind == Kind::kBlank);
  }
}

TEST_CASE("protocol: a bare word is the command, surrounding whitespace ignored", "[protocol]") {
  for (const char* line : {"latest", " latest\r", "\tlatest  "}) {
    const ParsedLine parsed = ParseLine(line);
    REQUIRE(parsed.kind == Kind::kRequest);
    CHECK(parsed.request.cmd == "latest");
    CHECK(parsed.request.body == json{{"cmd", "latest"}});
    CHECK_FALSE(parsed.request.has_id);
  }
  // Words may hold letters, digits, '_' and '-' after a first letter.
  CHECK(ParseLine("top_k-2").request.cmd == "top_k-2");
  // Anything else is read as JSON: a number is valid JSON but not an object.
  CHECK(ParseLine("2latest").kind == Kind::kInvalid);
  CHECK(ParseLine("42").error_reply["error"] == "request must be a JSON object or a command word");
}

TEST_CASE("protocol: a JSON request keeps its whole object and its id", "[protocol]") {
  const ParsedLine parsed = ParseLine(R"({"cmd": "snapshot", "zone": "door", "id": [1, "a"]})");
  REQUIRE(parsed.kind == Kind::kRequest);
  CHECK(parsed.request.cmd == "snapshot");
  CHECK(parsed.request.body["zone"] == "door");
  REQUIRE(parsed.request.has_id);
  CHECK(parsed.request.id == json::array({1, "a"}));
  // A null id is still an id: the reply echoes it.
  const ParsedLine null_id = ParseLine(R"({"cmd": "x", "id": null})");
  CHECK(null_id.request.has_id);
  CHECK(OkReply(null_id.request, 1).contains("id"));
}

TEST_CASE("protocol: invalid requests give an error reply that names the problem", "[protocol]") {
  const ParsedLine not_json = ParseLine("{not json");
  REQUIRE(not_json.kind == Kind::kInvalid);
  CHECK(not_json.error_reply["ok"] == false);
  const std::string text = not_json.error_reply["error"];
  CHECK(text.rfind("request is not valid JSON: ", 0) == 0);
  CHECK(text.find("[json.exception") == std::string::npos);  // The library's tag is cut off.

  CHECK(ParseLine("[1, 2]").error_reply ==
        json({{"ok", false}, {"error", "request must be a JSON object or a command word"}}));
  CHECK(ParseLine(R"({"id": 7})").error_reply ==
        json({{"ok", false}, {"error", "request needs a string \"cmd\""}, {"id", 7}}));
  CHECK(ParseLine(R"({"cmd": 5})").error_reply ==
        json({{"ok", false}, {"error", "request needs a string \"cmd\""}}));
  CHECK(ParseLine("\"\xff\xfe\"").kind == Kind::kInvalid);  // Invalid UTF-8 in a JSON string.
}

TEST_CASE("protocol: replies carry ok, cmd, result or error, and the id when given", "[protocol]") {
  const Request with_id = ParseLine(R"({"cmd": "stats", "id": "q1"})").request;
  CHECK(OkReply(with_id, json{{"fps", 2.5}}) ==
        json({{"ok", true}, {"cmd", "stats"}, {"result", {{"fps", 2.5}}}, {"id", "q1"}}));
  CHECK(ErrorReply(with_id, "no frame yet") ==
        json({{"ok", false}, {"cmd", "stats"}, {"error", "no frame yet"}, {"id", "q1"}}));
  const Request without_id = ParseLine("stats").request;
  CHECK(OkReply(without_id, nullptr) == json({{"ok", true}, {"cmd", "stats"}, {"result", nullptr}}));
  CHECK(ErrorReply("too many clients") == json({{"ok", false}, {"error", "too many clients"}}));
}

TEST_CASE("protocol: Dump writes one line and replaces invalid UTF-8", "[protocol]") {
  CHECK(Dump(json{{"label", "a\nb"}}) == R"({"label":"a\nb"})");
  // A Latin-1 byte (0xE9, 'é') is not UTF-8: it becomes U+FFFD (EF BF BD).
  CHECK(Dump(json(std::string("caf\xe9"))) == "\"caf\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace lookout::daemon::protocol
