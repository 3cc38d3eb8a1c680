// Label groups: coarse classes a home user means ("cat", "car") as sets of a
// model's classes, read from a JSON object, group name -> array of labels
// (models/imagenet_groups.json, docs/groups.md). A group's score for a
// frame is the sum of its classes' dequantized scores; for a softmax output
// that is the probability that the frame shows any of them.
#ifndef LOOKOUT_DAEMON_ZONES_LABEL_GROUPS_H_
#define LOOKOUT_DAEMON_ZONES_LABEL_GROUPS_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "classifier/classifier.h"

namespace lookout::daemon {

struct LabelGroup {
  std::string name;              ///< [A-Za-z0-9_-]+.
  std::vector<int32_t> classes;  ///< Class indices, ascending; every index whose label is listed.
};

class LabelGroups {
 public:
  LabelGroups() = default;

  /// Parses `json_text` against the model's `labels` (already fitted to the
  /// model). Throws std::runtime_error naming `source` and the group or label
  /// at fault: not a JSON object, a group name outside [A-Za-z0-9_-]+, a
  /// group that is not a non-empty array of strings, a label the label file
  /// does not have. A label listed in two groups is allowed.
  static LabelGroups Parse(const std::string& json_text, const Labels& labels,
                           const std::string& source);
  /// Reads and parses the file at `path` (throws as Parse(), or when the file
  /// cannot be read).
  static LabelGroups Load(const std::filesystem::path& path, const Labels& labels);

  /// The group named `name`, or nullptr.
  const LabelGroup* Find(const std::string& name) const;
  const std::vector<LabelGroup>& groups() const { return groups_; }

 private:
  std::vector<LabelGroup> groups_;
};

/// Sum of `scores[c]` over the group's classes (indices past the end count 0).
double GroupScore(const LabelGroup& group, std::span<const double> scores);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_ZONES_LABEL_GROUPS_H_
