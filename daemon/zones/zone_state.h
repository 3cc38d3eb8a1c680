// A zone's confirmed state: what Home Assistant acts on. Per processed frame
// a zone yields a candidate (Candidate(): the best watched group, or the top
// label, whose score reaches the zone's threshold, else "none"); a
// Confirmer adopts a new value only after `confirm_frames` consecutive
// frames agree on it and the current one has been held `min_hold_s`. Each
// watched group has its own Confirmer over "ON" (score >= threshold) /
// "OFF", so a cat and a dog on the sofa are both ON while the state names
// the likelier. Pure: no clock of its own, no I/O.
#ifndef LOOKOUT_DAEMON_ZONES_ZONE_STATE_H_
#define LOOKOUT_DAEMON_ZONES_ZONE_STATE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "classifier/class_score.h"
#include "zones/label_groups.h"

namespace lookout::daemon {

/// The state of a zone whose best score is below its threshold.
inline constexpr char kNoneState[] = "none";
/// A watched group's payloads.
inline constexpr char kOn[] = "ON";
inline constexpr char kOff[] = "OFF";

/// Adopts a value once `confirm` consecutive observations agree on it and
/// the current value is at least `min_hold` old. Starts with no value; the
/// first is adopted after `confirm` agreeing observations too.
class Confirmer {
 public:
  using Clock = std::chrono::steady_clock;

  /// `confirm` >= 1 (smaller values count as 1); `min_hold` >= 0.
  Confirmer(int confirm, Clock::duration min_hold);

  /// One observation at `now` (non-decreasing across calls). Returns true
  /// when it changed the confirmed value.
  bool Observe(const std::string& value, Clock::time_point now);

  /// The confirmed value; empty before the first is adopted.
  const std::string& value() const { return value_; }
  /// When value() was adopted.
  Clock::time_point since() const { return since_; }
  /// Takes `other`'s confirmed value and its time, not its pending
  /// observations nor its thresholds (a reload that changed them).
  void Restore(const Confirmer& other) {
    value_ = other.value_;
    since_ = other.since_;
  }

 private:
  int confirm_;
  Clock::duration min_hold_;
  std::string value_;
  Clock::time_point since_{};
  std::string pending_;
  int pending_count_ = 0;
};

/// A zone as lookoutd runs it: the configuration with its groups resolved.
struct ZoneSpec {
  std::string name;
  std::array<double, 4> region = {0.0, 0.0, 1.0, 1.0};  ///< [x0, y0, x1, y1], fractions.
  std::vector<LabelGroup> groups;  ///< Watched groups; empty = the top label is the state.
  double threshold = 0.5;
  int confirm_frames = 3;
  double min_hold_s = 0.0;
};

/// One frame's view of a zone, before confirmation.
struct ZoneCandidate {
  std::string state;   ///< Best group / top label reaching the threshold, else kNoneState.
  double score = 0.0;  ///< Its score (for "none": the best score seen, below the threshold).
  std::vector<double> group_scores;  ///< Per spec.groups entry, in order.
};

/// The candidate for one frame: `scores` are all classes' dequantized
/// scores, `top_k` the frame's ranking (its first entry is the top label).
/// Ties between groups go to the one listed first.
ZoneCandidate Candidate(const ZoneSpec& spec, std::span<const double> scores,
                        const std::vector<ClassScore>& top_k);

class ZoneTracker {
 public:
  using Clock = Confirmer::Clock;

  explicit ZoneTracker(ZoneSpec spec);

  /// What one frame changed.
  struct Changes {
    bool state = false;                ///< state() changed.
    std::vector<size_t> groups;        ///< Indices into spec().groups whose ON/OFF changed.
    bool any() const { return state || !groups.empty(); }
  };

  /// Feeds one frame's candidate seen at `now`; `top_k` and `seq` describe
  /// the frame and are kept as the state's attributes when it changes.
  Changes Update(const ZoneCandidate& candidate, const std::vector<ClassScore>& top_k,
                 uint64_t seq, std::chrono::system_clock::time_point wall_time, Clock::time_point now);

  const ZoneSpec& spec() const { return spec_; }
  /// True when `other` watches the same thing: same name, region and groups
  /// (thresholds, confirm_frames and min_hold_s may differ).
  bool SameZone(const ZoneSpec& other) const;
  /// Takes over `previous`'s confirmed state, group states and attributes
  /// (a reload that kept this zone), keeping this tracker's spec. Requires
  /// SameZone(previous.spec()).
  void Restore(const ZoneTracker& previous);
  /// The confirmed state; empty until the first is confirmed.
  const std::string& state() const { return state_.value(); }
  /// kOn / kOff for spec().groups[i]; empty until confirmed.
  const std::string& group_state(size_t i) const { return groups_[i].value(); }
  /// The frame that confirmed state(): its candidate score, top-k, sequence
  /// number and capture time.
  double score() const { return score_; }
  const std::vector<ClassScore>& top_k() const { return top_k_; }
  uint64_t seq() const { return seq_; }
  std::chrono::system_clock::time_point since() const { return since_; }

 private:
  ZoneSpec spec_;
  Confirmer state_;
  std::vector<Confirmer> groups_;
  double score_ = 0.0;
  std::vector<ClassScore> top_k_;
  uint64_t seq_ = 0;
  std::chrono::system_clock::time_point since_{};
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_ZONES_ZONE_STATE_H_
