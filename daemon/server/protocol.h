// The socket's request/reply protocol (docs/protocol.md), apart from any
// connection: one request per line, either a bare command word ("latest") or
// a JSON object with a string "cmd" and an optional "id" that the reply
// echoes. Replies are {"ok": true, "cmd", "result"[, "id"]} or
// {"ok": false, "error"[, "cmd"][, "id"]}. Pure functions; no I/O.
#ifndef LOOKOUT_DAEMON_SERVER_PROTOCOL_H_
#define LOOKOUT_DAEMON_SERVER_PROTOCOL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lookout::daemon::protocol {

/// Longest request line accepted, in bytes without the newline. A longer
/// line cannot be resynchronised, so the server closes the connection.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

/// One well-formed request.
struct Request {
  nlohmann::json body;  ///< The whole request object ({"cmd": cmd} for a bare word).
  std::string cmd;      ///< body["cmd"].
  nlohmann::json id;    ///< body["id"] when present, else null (`has_id` false).
  bool has_id = false;
};

/// What one received line is.
struct ParsedLine {
  enum class Kind {
    kBlank,    ///< Only whitespace: keep-alives, stray CRLF; no reply is due.
    kRequest,  ///< `request` is set.
    kInvalid,  ///< `error_reply` is the reply to send.
  };
  Kind kind = Kind::kBlank;
  Request request;
  nlohmann::json error_reply;
};

/// Parses one line (without its newline; surrounding whitespace ignored).
/// Never throws on any input: invalid JSON, a non-object, or a missing or
/// non-string "cmd" give kInvalid with an error reply that names the problem
/// (and echoes "id" when the object had one).
ParsedLine ParseLine(std::string_view line);

/// {"ok": true, "cmd": ..., "result": result[, "id": ...]}.
nlohmann::json OkReply(const Request& request, nlohmann::json result);

/// {"ok": false, "error": message, "cmd": ...[, "id": ...]}.
nlohmann::json ErrorReply(const Request& request, const std::string& message);

/// {"ok": false, "error": message}: for errors that belong to no request.
nlohmann::json ErrorReply(const std::string& message);

/// One line of JSON text (no newline). Never throws: invalid UTF-8 (a
/// Latin-1 label file, a handler's error text) becomes U+FFFD.
std::string Dump(const nlohmann::json& value);

}  // namespace lookout::daemon::protocol

#endif  // LOOKOUT_DAEMON_SERVER_PROTOCOL_H_
