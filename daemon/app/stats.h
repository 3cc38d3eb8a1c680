// Latency and rate statistics for the `stats` command. Not thread-safe: the
// daemon updates and reads it on its io_context thread only.
#ifndef LOOKOUT_DAEMON_APP_STATS_H_
#define LOOKOUT_DAEMON_APP_STATS_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lookout::daemon {

/// The last `capacity` samples of a latency (ms), with percentiles.
class LatencyWindow {
 public:
  explicit LatencyWindow(size_t capacity = 1000) : capacity_(capacity) {}
  void Add(double ms);
  /// Nearest-rank percentile (0 < p <= 100) of the window; 0 when empty.
  double Percentile(double p) const;
  size_t size() const { return samples_.size(); }
  /// {"p50":..,"p90":..,"p99":..,"max":..} in ms.
  nlohmann::json ToJson() const;

 private:
  size_t capacity_;
  std::deque<double> samples_;
};

/// Results per second over the last `window` of time.
class RateMeter {
 public:
  explicit RateMeter(std::chrono::steady_clock::duration window = std::chrono::seconds(10)) : window_(window) {}
  void Tick(std::chrono::steady_clock::time_point now);
  double PerSecond(std::chrono::steady_clock::time_point now) const;

 private:
  std::chrono::steady_clock::duration window_;
  std::deque<std::chrono::steady_clock::time_point> ticks_;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_APP_STATS_H_
