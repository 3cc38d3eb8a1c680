#include "app/stats.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace lookout::daemon {

void LatencyWindow::Add(double ms) {
  samples_.push_back(ms);
  while (samples_.size() > capacity_) samples_.pop_front();
}

double LatencyWindow::Percentile(double p) const {
  if (samples_.empty()) return 0.0;
  std::vector<double> sorted(samples_.begin(), samples_.end());
  std::sort(sorted.begin(), sorted.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

nlohmann::json LatencyWindow::ToJson() const {
  auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  return {{"p50", round3(Percentile(50))}, {"p90", round3(Percentile(90))},
          {"p99", round3(Percentile(99))}, {"max", round3(Percentile(100))}, {"samples", samples_.size()}};
}

void RateMeter::Tick(std::chrono::steady_clock::time_point now) {
  ticks_.push_back(now);
  while (!ticks_.empty() && now - ticks_.front() > window_) ticks_.pop_front();
}

double RateMeter::PerSecond(std::chrono::steady_clock::time_point now) const {
  size_t recent = 0;
  std::chrono::steady_clock::time_point oldest = now;
  for (auto it = ticks_.rbegin(); it != ticks_.rend() && now - *it <= window_; ++it) {
    ++recent;
    oldest = *it;
  }
  if (recent < 2) return 0.0;
  const double span = std::chrono::duration<double>(ticks_.back() - oldest).count();
  return span > 0 ? static_cast<double>(recent - 1) / span : 0.0;
}

}  // namespace lookout::daemon
