#include "rules.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace lookout::config::internal {
namespace {

constexpr size_t kMaxShownStringBytes = 80;

// "Code" in the reference.
std::string Code(const std::string& text) { return "`" + text + "`"; }

// ">= 0", "> 0", or nothing without a bound.
std::optional<std::string> NumberBound(const Number& rule) {
  std::ostringstream bound;
  if (rule.min && rule.max && !rule.min_exclusive) {
    bound << "in [" << *rule.min << ", " << *rule.max << "]";
  } else if (rule.min) {
    bound << (rule.min_exclusive ? "> " : ">= ") << *rule.min;
    if (rule.max) bound << " and <= " << *rule.max;
  } else if (rule.max) {
    bound << "<= " << *rule.max;
  } else {
    return std::nullopt;
  }
  return bound.str();
}

std::string ExpectedNumber(const Number& rule) {
  const std::optional<std::string> bound = NumberBound(rule);
  return bound ? "expected a number " + *bound : "expected a number";
}

double ReadNumber(const Number& rule, const json& value, const std::string& pointer) {
  if (!value.is_number()) {
    throw ConfigError(pointer, ExpectedNumber(rule) + ", got " + DescribeFound(value));
  }
  const double v = value.get<double>();
  // The parser turns literals like 1e999 into infinity.
  const bool ok = std::isfinite(v) &&
                  (!rule.min || (rule.min_exclusive ? v > *rule.min : v >= *rule.min)) &&
                  (!rule.max || v <= *rule.max);
  if (!ok) throw ConfigError(pointer, ExpectedNumber(rule) + ", got " + value.dump());
  return v;
}

int64_t ReadInteger(const Integer& rule, const json& value, const std::string& pointer,
                    int64_t type_max) {
  const int64_t limit = rule.max.value_or(type_max);
  auto fail = [&](const std::string& found, bool above_type_limit) {
    // Without a max of its own, the range is shown once the type's limit is hit.
    std::string expected =
        rule.max || above_type_limit
            ? "expected an integer in [" + std::to_string(rule.min) + ", " +
                  std::to_string(limit) + "]"
            : "expected an integer >= " + std::to_string(rule.min);
    throw ConfigError(pointer, expected + ", got " + found);
  };
  if (value.is_number_unsigned()) {
    // nlohmann stores every non-negative integer literal as unsigned.
    const uint64_t v = value.get<uint64_t>();
    if (rule.min > 0 && v < static_cast<uint64_t>(rule.min)) fail(value.dump(), false);
    if (v > static_cast<uint64_t>(limit)) fail(value.dump(), true);
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v < rule.min) fail(value.dump(), false);
    if (v > limit) fail(value.dump(), true);
    return v;
  }
  fail(value.is_number() ? value.dump() : DescribeFound(value), false);
  return 0;  // not reached: fail() throws
}

void CheckTopic(const std::string& pointer, const std::string& topic) {
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos) {
    throw ConfigError(pointer, "expected an MQTT topic without the wildcards '+' and '#' or "
                               "NUL characters, got " + Quote(topic));
  }
  if (!topic.empty() && topic.back() == '/') {
    throw ConfigError(pointer, "expected no trailing '/' (subtopics are appended), got " +
                                   Quote(topic));
  }
}

const std::string& ReadChoice(const Choice& rule, const json& value,
                              const std::string& pointer) {
  std::string expected = "expected one of ";
  for (size_t i = 0; i < rule.options.size(); ++i) {
    expected += (i == 0 ? "" : ", ") + Quote(rule.options[i].name);
  }
  if (!value.is_string()) {
    throw ConfigError(pointer, expected + ", got " + DescribeFound(value));
  }
  const std::string& name = value.get_ref<const std::string&>();
  for (const Option& option : rule.options) {
    if (option.name == name) return option.name;
  }
  throw ConfigError(pointer, expected + ", got " + Quote(name));
}

constexpr const char* kExpectedMode = "expected an octal string like \"0660\" (at most \"0777\")";

}  // namespace

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Quote(const std::string& text) {
  std::string shown = text.size() > kMaxShownStringBytes
                          ? text.substr(0, kMaxShownStringBytes) + "..."
                          : text;
  // dump() escapes control characters; replace keeps a cut UTF-8 sequence
  // from throwing.
  return json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string DescribeFound(const json& value, bool secret) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return secret ? "boolean" : "boolean " + value.dump();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return secret ? "number" : "number " + value.dump();
    case json::value_t::string:
      return secret ? "string" : "string " + Quote(value.get<std::string>());
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "unsupported value";
  }
}

void Boolean::Read(const json& value, const std::string& pointer, bool& out) const {
  if (!value.is_boolean()) {
    throw ConfigError(pointer, "expected a boolean, got " + DescribeFound(value));
  }
  out = value.get<bool>();
}

void Integer::Read(const json& value, const std::string& pointer, int32_t& out) const {
  out = static_cast<int32_t>(
      ReadInteger(*this, value, pointer, std::numeric_limits<int32_t>::max()));
}

void Integer::Read(const json& value, const std::string& pointer, int64_t& out) const {
  out = ReadInteger(*this, value, pointer, std::numeric_limits<int64_t>::max());
}

std::string Integer::Allowed() const {
  if (max) return "[" + std::to_string(min) + ", " + std::to_string(*max) + "]";
  return ">= " + std::to_string(min);
}

void Number::Read(const json& value, const std::string& pointer, double& out) const {
  out = ReadNumber(*this, value, pointer);
}

std::string Number::Allowed() const { return NumberBound(*this).value_or("finite"); }

void Rgb::Read(const json& value, const std::string& pointer,
               std::array<double, 3>& out) const {
  const std::optional<std::string> bound = NumberBound(element);
  const std::string expected =
      "expected an array of 3 numbers" + (bound ? " " + *bound : "") + " (R, G, B)";
  if (!value.is_array()) {
    throw ConfigError(pointer, expected + ", got " + DescribeFound(value));
  }
  if (value.size() != out.size()) {
    throw ConfigError(pointer, expected + ", got " + std::to_string(value.size()) +
                                   (value.size() == 1 ? " element" : " elements"));
  }
  std::array<double, 3> result{};
  for (size_t i = 0; i < result.size(); ++i) {
    result[i] = ReadNumber(element, value[i], pointer + "/" + std::to_string(i));
  }
  out = result;
}

std::string Rgb::Allowed() const {
  const std::optional<std::string> bound = NumberBound(element);
  return "each " + bound.value_or("finite");
}

void Text::Read(const json& value, const std::string& pointer, std::string& out) const {
  if (!value.is_string()) {
    throw ConfigError(pointer, "expected a string, got " + DescribeFound(value, secret));
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (name && !IsValidName(text)) {
    throw ConfigError(pointer, "expected a name matching [A-Za-z0-9_-]+, got " + Quote(text));
  }
  if (non_empty && text.empty()) throw ConfigError(pointer, "must not be empty");
  if (topic) CheckTopic(pointer, text);
  out = text;
}

void Text::Read(const json& value, const std::string& pointer,
                std::filesystem::path& out) const {
  std::string text;
  Read(value, pointer, text);
  out = text;
}

json Text::Write(const std::string& value) const {
  return secret && !value.empty() ? "***" : value;
}

std::string Text::Allowed() const {
  std::vector<std::string> parts;
  if (name) parts.push_back(Code("[A-Za-z0-9_-]+"));
  if (non_empty) parts.push_back("non-empty");
  if (topic) parts.push_back("no `+`, `#`, NUL or trailing `/`");
  if (parts.empty()) return "any";
  std::string allowed;
  for (const std::string& part : parts) allowed += (allowed.empty() ? "" : "; ") + part;
  return allowed;
}

void Choice::Read(const json& value, const std::string& pointer, std::string& out) const {
  out = ReadChoice(*this, value, pointer);
}

void Choice::Read(const json& value, const std::string& pointer, SourceType& out) const {
  const std::string& name = ReadChoice(*this, value, pointer);
  const std::optional<SourceType> type = ParseSourceType(name);
  if (!type) throw std::logic_error("config field table: no source type named " + name);
  out = *type;
}

std::string Choice::Allowed() const {
  std::string allowed;
  for (const Option& option : options) {
    allowed += (allowed.empty() ? "" : ", ") + Code(Quote(option.name));
  }
  return allowed;
}

void FileMode::Read(const json& value, const std::string& pointer, uint32_t& out) const {
  if (!value.is_string()) {
    throw ConfigError(pointer, std::string(kExpectedMode) + ", got " + DescribeFound(value));
  }
  const std::string& text = value.get_ref<const std::string&>();
  bool ok = text.size() >= 3 && text.size() <= 4 &&
            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  uint32_t mode = 0;
  if (ok) {
    for (char c : text) mode = mode * 8 + static_cast<uint32_t>(c - '0');
    ok = mode <= 0777;
  }
  if (!ok) throw ConfigError(pointer, std::string(kExpectedMode) + ", got " + Quote(text));
  out = mode;
}

json FileMode::Write(uint32_t mode) const {
  // "0" and three digits: 0660, 0600, 0007 (not 07).
  std::ostringstream out;
  out << '0' << std::oct << std::setw(3) << std::setfill('0') << (mode & 0777);
  return out.str();
}

std::string FileMode::Allowed() const { return "3 or 4 octal digits, at most `\"0777\"`"; }

namespace {

const Number kFraction{.min = 0.0, .max = 1.0};
const Number kThreshold{};
const Integer kConfirmFrames{.min = 1, .max = 1000};
const Number kMinHold{.min = 0.0};
const Text kZoneName{.name = true};

std::string Describe(const Number& rule) { return rule.Allowed(); }

}  // namespace

std::string ZoneList::Allowed() const {
  return "at most " + std::to_string(kMaxZones) + " zones; keys below";
}

std::vector<ElementKey> ZoneList::element_keys() const {
  const ZoneConfig defaults;
  return {
      {"name", "string", kZoneName.Allowed() + "; unique; not `result`, `availability`, `diagnostics`",
       "**required**", "Zone name: a topic level on MQTT and part of Home Assistant's ids."},
      {"region", "array of 4 numbers", "each " + Describe(kFraction) + "; x0 < x1, y0 < y1",
       json(defaults.region).dump(),
       "`[x0, y0, x1, y1]`: the zone's box as fractions of the frame's width and height "
       "(`[0, 0, 0.5, 1]` = the left half). The model's preprocessing (centre crop, resize) "
       "applies to this crop."},
      {"groups", "array of strings", "names of `/model/groups`", "[]",
       "Label groups the zone watches; its state is the best of them whose score (the sum of "
       "its labels' scores) reaches `threshold`, else `none`. Empty: the state is the top label "
       "when its score reaches `threshold`, else `none`."},
      {"threshold", "number", Describe(kThreshold), json(defaults.threshold).dump(),
       "Score a group or label needs to be the zone's state (and a group needs to be `ON`)."},
      {"confirm_frames", "integer", kConfirmFrames.Allowed(), json(defaults.confirm_frames).dump(),
       "Consecutive processed frames that must agree before a new state (or a group's "
       "`ON`/`OFF`) is adopted; single-frame flicker never reaches Home Assistant."},
      {"min_hold_s", "number", Describe(kMinHold), json(defaults.min_hold_s).dump(),
       "A state is kept at least this many seconds before it may change again."},
  };
}

void ZoneList::Read(const json& value, const std::string& pointer,
                    std::vector<ZoneConfig>& out) const {
  if (!value.is_array()) {
    throw ConfigError(pointer, "expected an array of zone objects, got " + DescribeFound(value));
  }
  if (value.size() > kMaxZones) {
    throw ConfigError(pointer, "expected at most " + std::to_string(kMaxZones) + " zones, got " +
                                   std::to_string(value.size()));
  }
  std::vector<std::string> known;
  for (const ElementKey& key : element_keys()) known.push_back(key.name);
  std::vector<ZoneConfig> zones;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string at = pointer + "/" + std::to_string(i);
    const json& element = value[i];
    if (!element.is_object()) {
      throw ConfigError(at, "expected a zone object, got " + DescribeFound(element));
    }
    for (const auto& [key, unused] : element.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string expected;
      for (const std::string& name : known) expected += (expected.empty() ? "" : ", ") + name;
      throw ConfigError(at + "/" + EscapePointerToken(key),
                        "unknown key (expected one of: " + expected + ")");
    }
    ZoneConfig zone;
    if (!element.contains("name")) throw ConfigError(at + "/name", "required");
    kZoneName.Read(element["name"], at + "/name", zone.name);
    if (IsReservedZoneName(zone.name)) {
      throw ConfigError(at + "/name", Quote(zone.name) +
                                          " is a topic of the camera itself (result, availability, "
                                          "diagnostics); choose another name");
    }
    for (const ZoneConfig& other : zones) {
      if (other.name == zone.name) {
        throw ConfigError(at + "/name", "duplicate zone name " + Quote(zone.name));
      }
    }
    if (const auto it = element.find("region"); it != element.end()) {
      const std::string region_at = at + "/region";
      const std::string expected =
          "expected an array of 4 numbers [x0, y0, x1, y1], each " + Describe(kFraction);
      if (!it->is_array()) throw ConfigError(region_at, expected + ", got " + DescribeFound(*it));
      if (it->size() != 4) {
        throw ConfigError(region_at, expected + ", got " + std::to_string(it->size()) +
                                         (it->size() == 1 ? " element" : " elements"));
      }
      for (size_t c = 0; c < 4; ++c) {
        kFraction.Read((*it)[c], region_at + "/" + std::to_string(c), zone.region[c]);
      }
      if (zone.region[0] >= zone.region[2]) {
        throw ConfigError(region_at + "/2", "expected x1 > x0 (" + json(zone.region[0]).dump() +
                                                "), got " + json(zone.region[2]).dump());
      }
      if (zone.region[1] >= zone.region[3]) {
        throw ConfigError(region_at + "/3", "expected y1 > y0 (" + json(zone.region[1]).dump() +
                                                "), got " + json(zone.region[3]).dump());
      }
    }
    if (const auto it = element.find("groups"); it != element.end()) {
      const std::string groups_at = at + "/groups";
      if (!it->is_array()) {
        throw ConfigError(groups_at, "expected an array of group names, got " + DescribeFound(*it));
      }
      for (size_t g = 0; g < it->size(); ++g) {
        std::string group;
        kZoneName.Read((*it)[g], groups_at + "/" + std::to_string(g), group);
        if (std::find(zone.groups.begin(), zone.groups.end(), group) != zone.groups.end()) {
          throw ConfigError(groups_at + "/" + std::to_string(g), "duplicate group " + Quote(group));
        }
        zone.groups.push_back(std::move(group));
      }
    }
    if (const auto it = element.find("threshold"); it != element.end()) {
      kThreshold.Read(*it, at + "/threshold", zone.threshold);
    }
    if (const auto it = element.find("confirm_frames"); it != element.end()) {
      kConfirmFrames.Read(*it, at + "/confirm_frames", zone.confirm_frames);
    }
    if (const auto it = element.find("min_hold_s"); it != element.end()) {
      kMinHold.Read(*it, at + "/min_hold_s", zone.min_hold_s);
    }
    zones.push_back(std::move(zone));
  }
  out = std::move(zones);
}

json ZoneList::Write(const std::vector<ZoneConfig>& zones) const {
  json out = json::array();
  for (const ZoneConfig& zone : zones) {
    out.push_back({{"name", zone.name},
                   {"region", zone.region},
                   {"groups", zone.groups},
                   {"threshold", zone.threshold},
                   {"confirm_frames", zone.confirm_frames},
                   {"min_hold_s", zone.min_hold_s}});
  }
  return out;
}

}  // namespace lookout::config::internal
