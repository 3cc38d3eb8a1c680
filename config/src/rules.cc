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
  if (!rule.min) return std::nullopt;
  std::ostringstream bound;
  bound << (rule.min_exclusive ? "> " : ">= ") << *rule.min;
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
                  (!rule.min || (rule.min_exclusive ? v > *rule.min : v >= *rule.min));
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

bool IsValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
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

}  // namespace lookout::config::internal
