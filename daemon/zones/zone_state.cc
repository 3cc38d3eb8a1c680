#include "zones/zone_state.h"

#include <algorithm>

namespace lookout::daemon {
namespace {

Confirmer::Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Confirmer::Clock::duration>(std::chrono::duration<double>(std::max(s, 0.0)));
}

}  // namespace

Confirmer::Confirmer(int confirm, Clock::duration min_hold)
    : confirm_(std::max(confirm, 1)), min_hold_(std::max(min_hold, Clock::duration::zero())) {}

bool Confirmer::Observe(const std::string& value, Clock::time_point now) {
  if (value == value_) {
    pending_.clear();
    pending_count_ = 0;
    return false;
  }
  if (value == pending_) {
    ++pending_count_;
  } else {
    pending_ = value;
    pending_count_ = 1;
  }
  if (pending_count_ < confirm_) return false;
  if (!value_.empty() && now - since_ < min_hold_) return false;
  value_ = std::move(pending_);
  since_ = now;
  pending_.clear();
  pending_count_ = 0;
  return true;
}

ZoneCandidate Candidate(const ZoneSpec& spec, std::span<const double> scores,
                        const std::vector<ClassScore>& top_k) {
  ZoneCandidate candidate;
  candidate.state = kNoneState;
  if (spec.groups.empty()) {
    if (!top_k.empty()) {
      candidate.score = top_k.front().score;
      if (top_k.front().score >= spec.threshold) candidate.state = top_k.front().label;
    }
    return candidate;
  }
  std::optional<size_t> best;
  for (size_t g = 0; g < spec.groups.size(); ++g) {
    const double score = GroupScore(spec.groups[g], scores);
    candidate.group_scores.push_back(score);
    if (!best || score > candidate.group_scores[*best]) best = g;
  }
  candidate.score = candidate.group_scores[*best];
  if (candidate.score >= spec.threshold) candidate.state = spec.groups[*best].name;
  return candidate;
}

ZoneTracker::ZoneTracker(ZoneSpec spec)
    : spec_(std::move(spec)), state_(spec_.confirm_frames, Seconds(spec_.min_hold_s)) {
  for (size_t g = 0; g < spec_.groups.size(); ++g) {
    groups_.emplace_back(spec_.confirm_frames, Seconds(spec_.min_hold_s));
  }
}

bool ZoneTracker::SameZone(const ZoneSpec& other) const {
  if (other.name != spec_.name || other.region != spec_.region || other.groups.size() != spec_.groups.size()) {
    return false;
  }
  for (size_t g = 0; g < spec_.groups.size(); ++g) {
    if (other.groups[g].name != spec_.groups[g].name || other.groups[g].classes != spec_.groups[g].classes) return false;
  }
  return true;
}

void ZoneTracker::Restore(const ZoneTracker& previous) {
  state_.Restore(previous.state_);
  for (size_t g = 0; g < groups_.size() && g < previous.groups_.size(); ++g) groups_[g].Restore(previous.groups_[g]);
  score_ = previous.score_;
  top_k_ = previous.top_k_;
  seq_ = previous.seq_;
  since_ = previous.since_;
}

ZoneTracker::Changes ZoneTracker::Update(const ZoneCandidate& candidate,
                                         const std::vector<ClassScore>& top_k, uint64_t seq,
                                         std::chrono::system_clock::time_point wall_time,
                                         Clock::time_point now) {
  Changes changes;
  if (state_.Observe(candidate.state, now)) {
    changes.state = true;
    score_ = candidate.score;
    top_k_ = top_k;
    seq_ = seq;
    since_ = wall_time;
  }
  for (size_t g = 0; g < groups_.size() && g < candidate.group_scores.size(); ++g) {
    const bool on = candidate.group_scores[g] >= spec_.threshold;
    if (groups_[g].Observe(on ? kOn : kOff, now)) changes.groups.push_back(g);
  }
  return changes;
}

}  // namespace lookout::daemon
