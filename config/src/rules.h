// The value rules of the configuration's field table (fields.h): how one
// JSON value is checked and read into a Config member, how the member is
// written back, and how the rule reads in the reference. Read() throws
// ConfigError(pointer, "expected ..., got ...") and builds the "expected"
// phrase from the same bounds that Allowed() shows in the reference.
#ifndef LOOKOUT_CONFIG_SRC_RULES_H_
#define LOOKOUT_CONFIG_SRC_RULES_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookout/config/config.h"

namespace lookout::config::internal {

using nlohmann::json;

/// RFC 6901: "~" and "/" inside a reference token are escaped.
std::string EscapePointerToken(std::string_view token);

/// `text` as a JSON string literal for messages, cut after 80 bytes.
std::string Quote(const std::string& text);

/// For type mismatches: the JSON type, and the value when it is short and
/// not `secret` ("string \"yes\"", "number 5", "array").
std::string DescribeFound(const json& value, bool secret = false);

/// `true` or `false`.
struct Boolean {
  void Read(const json& value, const std::string& pointer, bool& out) const;
  json Write(bool value) const { return value; }
  std::string Type() const { return "boolean"; }
  std::string Allowed() const { return ""; }
};

/// An integer in [min, max]; without `max`, the member's type bounds it.
/// Integers only: 5.0 is refused like 5.5, there is no rounding.
struct Integer {
  int64_t min = 0;
  std::optional<int64_t> max = std::nullopt;

  void Read(const json& value, const std::string& pointer, int32_t& out) const;
  void Read(const json& value, const std::string& pointer, int64_t& out) const;
  json Write(int64_t value) const { return value; }
  std::string Type() const { return "integer"; }
  std::string Allowed() const;
};

/// A finite number, at least (or, `min_exclusive`, above) `min` and at most
/// `max` if given.
struct Number {
  std::optional<double> min = std::nullopt;
  bool min_exclusive = false;
  std::optional<double> max = std::nullopt;

  void Read(const json& value, const std::string& pointer, double& out) const;
  json Write(double value) const { return value; }
  std::string Type() const { return "number"; }
  std::string Allowed() const;
};

/// Three numbers, one per colour channel, each checked by `element`.
struct Rgb {
  Number element;

  void Read(const json& value, const std::string& pointer, std::array<double, 3>& out) const;
  json Write(const std::array<double, 3>& value) const { return value; }
  std::string Type() const { return "array of 3 numbers (R, G, B)"; }
  std::string Allowed() const;
};

/// A string (or a path, stored as given).
struct Text {
  bool non_empty = false;
  bool name = false;    ///< [A-Za-z0-9_-]+ (hence non-empty).
  bool topic = false;   ///< Usable as an MQTT topic prefix: no wildcards, NUL or trailing '/'.
  bool secret = false;  ///< Kept out of error messages; written as "***" when set.

  void Read(const json& value, const std::string& pointer, std::string& out) const;
  void Read(const json& value, const std::string& pointer, std::filesystem::path& out) const;
  json Write(const std::string& value) const;
  json Write(const std::filesystem::path& value) const { return Write(value.string()); }
  std::string Type() const { return "string"; }
  std::string Allowed() const;
};

/// One value of a Choice, with its description for the reference.
struct Option {
  std::string name;
  std::string doc;
};

/// One of a fixed set of strings; a SourceType member stores the value
/// named (SourceTypeName), a string member the name itself.
struct Choice {
  std::vector<Option> options;

  void Read(const json& value, const std::string& pointer, std::string& out) const;
  void Read(const json& value, const std::string& pointer, SourceType& out) const;
  json Write(const std::string& value) const { return value; }
  json Write(SourceType value) const { return SourceTypeName(value); }
  std::string Type() const { return "string"; }
  std::string Allowed() const;
};

/// File permission bits as an octal string ("0660"), at most "0777".
struct FileMode {
  void Read(const json& value, const std::string& pointer, uint32_t& out) const;
  json Write(uint32_t mode) const;
  std::string Type() const { return "string"; }
  std::string Allowed() const;
};

/// One key of the objects of an array (for the reference).
struct ElementKey {
  std::string name;
  std::string type;
  std::string allowed;
  std::string default_value;  ///< JSON, or "**required**".
  std::string doc;
};

/// `/zones`: an array of zone objects (ZoneConfig), each strict like a
/// section: unknown keys, wrong types and bad values are errors naming the
/// element ("/zones/1/region/2: ..."). Checks region order (x0 < x1,
/// y0 < y1), unique zone names, reserved names (IsReservedZoneName) and
/// group names; whether the groups exist is checked when the groups file is
/// read (lookoutd start, --check-config).
struct ZoneList {
  static constexpr size_t kMaxZones = 16;

  void Read(const json& value, const std::string& pointer, std::vector<ZoneConfig>& out) const;
  json Write(const std::vector<ZoneConfig>& zones) const;
  std::string Type() const { return "array of objects"; }
  std::string Allowed() const;
  std::vector<ElementKey> element_keys() const;
};

}  // namespace lookout::config::internal

#endif  // LOOKOUT_CONFIG_SRC_RULES_H_
