#include "server/protocol.h"

#include <cctype>

namespace lookout::daemon::protocol {
namespace {

using nlohmann::json;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsBareWord(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] ".
std::string WithoutExceptionTag(const char* what) {
  std::string_view text(what);
  if (!text.empty() && text.front() == '[') {
    if (const size_t end = text.find("] "); end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

ParsedLine Invalid(json reply) {
  ParsedLine parsed;
  parsed.kind = ParsedLine::Kind::kInvalid;
  parsed.error_reply = std::move(reply);
  return parsed;
}

}  // namespace

ParsedLine ParseLine(std::string_view raw_line) {
  const std::string_view line = Trim(raw_line);
  if (line.empty()) return {};

  json body;
  if (IsBareWord(line)) {
    body = {{"cmd", std::string(line)}};
  } else {
    try {
      body = json::parse(line);
    } catch (const json::parse_error& e) {
      return Invalid(ErrorReply("request is not valid JSON: " + WithoutExceptionTag(e.what())));
    }
  }
  if (!body.is_object()) return Invalid(ErrorReply("request must be a JSON object or a command word"));

  ParsedLine parsed;
  Request& request = parsed.request;
  if (const auto id = body.find("id"); id != body.end()) {
    request.id = *id;
    request.has_id = true;
  }
  const auto cmd = body.find("cmd");
  if (cmd == body.end() || !cmd->is_string()) {
    json reply = ErrorReply("request needs a string \"cmd\"");
    if (request.has_id) reply["id"] = request.id;
    return Invalid(std::move(reply));
  }
  request.cmd = cmd->get<std::string>();
  request.body = std::move(body);
  parsed.kind = ParsedLine::Kind::kRequest;
  return parsed;
}

json OkReply(const Request& request, json result) {
  json reply = {{"ok", true}, {"cmd", request.cmd}, {"result", std::move(result)}};
  if (request.has_id) reply["id"] = request.id;
  return reply;
}

json ErrorReply(const Request& request, const std::string& message) {
  json reply = ErrorReply(message);
  if (request.has_id) reply["id"] = request.id;
  reply["cmd"] = request.cmd;
  return reply;
}

json ErrorReply(const std::string& message) { return {{"ok", false}, {"error", message}}; }

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace lookout::daemon::protocol
