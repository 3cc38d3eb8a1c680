#include "zones/label_groups.h"

#include <cstring>
#include <cerrno>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "lookout/config/config.h"

namespace lookout::daemon {

LabelGroups LabelGroups::Parse(const std::string& json_text, const Labels& labels,
                               const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("label groups " + source + ": " + what);
  };
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("invalid JSON: ") + e.what());
  }
  if (!document.is_object()) fail("expected an object of group name -> array of labels");
  if (labels.size() == 0) fail("a label file is needed to resolve groups");
  LabelGroups result;
  for (const auto& [name, members] : document.items()) {
    if (!config::IsValidName(name)) fail("group name \"" + name + "\" is not [A-Za-z0-9_-]+");
    if (!members.is_array() || members.empty()) {
      fail("group \"" + name + "\": expected a non-empty array of labels");
    }
    LabelGroup group{name, {}};
    for (const auto& member : members) {
      if (!member.is_string()) fail("group \"" + name + "\": expected label strings, got " + member.dump());
      const std::string& label = member.get_ref<const std::string&>();
      bool found = false;
      for (size_t c = 0; c < labels.size(); ++c) {
        if (labels[c] == label) {
          group.classes.push_back(static_cast<int32_t>(c));
          found = true;
        }
      }
      if (!found) fail("group \"" + name + "\": no label \"" + label + "\" in the label file");
    }
    std::sort(group.classes.begin(), group.classes.end());
    group.classes.erase(std::unique(group.classes.begin(), group.classes.end()), group.classes.end());
    result.groups_.push_back(std::move(group));
  }
  return result;
}

LabelGroups LabelGroups::Load(const std::filesystem::path& path, const Labels& labels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read label groups file " + path.string() + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), labels, path.string());
}

const LabelGroup* LabelGroups::Find(const std::string& name) const {
  for (const LabelGroup& group : groups_) {
    if (group.name == name) return &group;
  }
  return nullptr;
}

double GroupScore(const LabelGroup& group, std::span<const double> scores) {
  double sum = 0.0;
  for (int32_t c : group.classes) {
    if (c >= 0 && static_cast<size_t>(c) < scores.size()) sum += scores[static_cast<size_t>(c)];
  }
  return sum;
}

}  // namespace lookout::daemon
