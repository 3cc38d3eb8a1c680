// ConfigReferenceMarkdown(): the field table as the reference of
// docs/config.md.
#include "lookout/config/config.h"

#include <string>

#include <nlohmann/json.hpp>

#include "fields.h"

namespace lookout::config {
namespace {

using internal::FieldTable;
using internal::Option;
using internal::Section;

// A table cell: '|' would end it, and an empty one shows a dash.
std::string Cell(const std::string& text) {
  if (text.empty()) return "—";
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string Code(const std::string& text) { return "`" + text + "`"; }

std::string Row(const std::string& key, const std::string& type, const std::string& allowed,
                const std::string& default_value, const std::string& doc) {
  return "| " + Cell(key) + " | " + Cell(type) + " | " + Cell(allowed) + " | " +
         Cell(default_value) + " | " + Cell(doc) + " |\n";
}

}  // namespace

std::string ConfigReferenceMarkdown() {
  const FieldTable& table = internal::Fields();
  const Config defaults;
  std::string out =
      "<!-- BEGIN GENERATED: lookout config reference. Made from the field table in "
      "config/src/fields.cc by `cmake --build build --target config_doc`; edit the table, "
      "not this block. -->\n"
      "\n"
      "## Reference\n"
      "\n"
      "Every key by its JSON pointer. *Default* is what an absent key means; "
      "`lookoutd --check-config` prints the same values (paths resolved). Rules that "
      "involve other keys are in the descriptions.\n";
  for (const Section& section : table.sections) {
    if (section.pointer.empty()) {
      // Top-level keys that are not sections (arrays such as /zones).
      bool any = false;
      for (const auto& field : table.fields) any = any || field->parent().empty();
      if (!any) continue;
      out += "\n### Top-level keys\n\n";
    } else {
      out += "\n### " + Code(section.pointer) + ": " + section.title + "\n\n";
    }
    out += "| Key | Type | Allowed | Default | Description |\n";
    out += "|---|---|---|---|---|\n";
    std::string options;
    for (const auto& field : table.fields) {
      if (field->parent() != section.pointer) continue;
      const std::string default_value =
          field->required() ? "**required**" : Code(field->Write(defaults).dump());
      out += Row(Code(field->pointer()), field->Type(), field->Allowed(), default_value,
                 field->doc());
      const std::vector<internal::ElementKey> keys = field->ElementKeys();
      if (!keys.empty()) {
        options += "\nKeys of each element of " + Code(field->pointer()) + ":\n\n";
        options += "| Key | Type | Allowed | Default | Description |\n|---|---|---|---|---|\n";
        for (const internal::ElementKey& key : keys) {
          const std::string default_value =
              key.default_value == "**required**" ? key.default_value : Code(key.default_value);
          options += Row(Code(key.name), key.type, key.allowed, default_value, key.doc);
        }
      }
      const std::vector<Option> values = field->Options();
      if (values.empty()) continue;
      options += "\nValues of " + Code(field->pointer()) + ":\n\n";
      for (const Option& option : values) {
        options += "- " + Code(nlohmann::json(option.name).dump()) + ": " + option.doc + "\n";
      }
    }
    for (const Section& sub : table.sections) {
      if (section.pointer.empty()) break;  // the sections have their own headings
      if (sub.pointer.empty() || internal::ParentPointer(sub.pointer) != section.pointer) {
        continue;
      }
      out += Row(Code(sub.pointer), "object", "", "", sub.title + ": below.");
    }
    out += options;
  }
  out += "\n<!-- END GENERATED -->\n";
  return out;
}

}  // namespace lookout::config
