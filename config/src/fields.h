// The field table: every key of the configuration, with its JSON pointer,
// value rule (rules.h), the Config member it binds to, whether it is
// required, and a one-line description. ParseConfig(), ConfigToJson() and
// ConfigReferenceMarkdown() all walk this one table. Defaults are not in
// it: they are the members' initializers, read from a default-constructed
// Config.
#ifndef LOOKOUT_CONFIG_SRC_FIELDS_H_
#define LOOKOUT_CONFIG_SRC_FIELDS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookout/config/config.h"
#include "rules.h"

namespace lookout::config::internal {

// sizeof(sockaddr_un::sun_path) on Linux, including the terminating NUL.
inline constexpr size_t kSunPathSize = 108;

/// "/mqtt" of "/mqtt/port"; "" of "/mqtt".
std::string ParentPointer(const std::string& pointer);
/// "port" of "/mqtt/port".
std::string LastToken(const std::string& pointer);

/// One key bound to one Config member.
class Field {
 public:
  Field(std::string pointer, std::string doc, bool required)
      : pointer_(std::move(pointer)), doc_(std::move(doc)), required_(required) {}
  virtual ~Field() = default;

  const std::string& pointer() const { return pointer_; }
  std::string parent() const { return ParentPointer(pointer_); }
  std::string key() const { return LastToken(pointer_); }
  /// One line of Markdown, cross-key rules included.
  const std::string& doc() const { return doc_; }
  /// Absent is an error (otherwise absent keeps the member's default).
  bool required() const { return required_; }

  /// Checks `value` (the key's JSON value) and stores it in the member.
  /// Throws ConfigError naming pointer() or an element below it.
  virtual void Read(const nlohmann::json& value, Config& config) const = 0;
  /// The member in the input format (what ConfigToJson shows).
  virtual nlohmann::json Write(const Config& config) const = 0;
  /// For the reference: "integer", "string"...
  virtual std::string Type() const = 0;
  /// For the reference, Markdown: "[1, 65535]", "non-empty"; "" for none.
  virtual std::string Allowed() const = 0;
  /// The values of a Choice, described; empty for other rules.
  virtual std::vector<Option> Options() const { return {}; }
  /// The keys of each element, for arrays of objects; empty for other rules.
  virtual std::vector<ElementKey> ElementKeys() const { return {}; }

 private:
  std::string pointer_;
  std::string doc_;
  bool required_;
};

/// A JSON object of the configuration: "" (the document), "/camera"...
struct Section {
  std::string pointer;
  std::string title;  ///< For the reference: "the frame source".
  size_t first_field = 0;  ///< fields.size() when the section was added: its place among the keys.
};

struct FieldTable {
  std::vector<Section> sections;  ///< Parents before their subsections.
  std::vector<std::unique_ptr<const Field>> fields;  ///< In reference order.

  /// The keys the object at `section` may hold: its fields, then its
  /// subsections, in table order.
  std::vector<std::string> Keys(const std::string& section) const;
};

/// The table of lookoutd's configuration.
const FieldTable& Fields();

}  // namespace lookout::config::internal

#endif  // LOOKOUT_CONFIG_SRC_FIELDS_H_
