#include "src/arena_planner.h"

#include <algorithm>
#include <numeric>

namespace lookout::runtime::internal {
namespace {
constexpr size_t kAlignment = 64;
size_t AlignUp(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }
bool LifetimesIntersect(int32_t a0, int32_t a1, int32_t b0, int32_t b1) { return a0 <= b1 && b0 <= a1; }
}  // namespace

void GreedyArenaPlanner::AddBuffer(size_t size, int32_t first_use, int32_t last_use) {
  buffers_.push_back({size, first_use, last_use, 0});
  planned_ = false;
}

void GreedyArenaPlanner::Plan() {
  std::vector<size_t> order(buffers_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers_[a].size > buffers_[b].size; });
  std::vector<size_t> placed;
  total_ = 0;
  for (size_t id : order) {
    Buffer& buf = buffers_[id];
    // Candidate offsets: 0 and the end of every live placed buffer, lowest first.
    std::vector<std::pair<size_t, size_t>> live;  // [begin, end)
    for (size_t other : placed) {
      const Buffer& o = buffers_[other];
      if (LifetimesIntersect(buf.first_use, buf.last_use, o.first_use, o.last_use)) {
        live.emplace_back(o.offset, o.offset + AlignUp(o.size));
      }
    }
    std::sort(live.begin(), live.end());
    size_t offset = 0;
    for (const auto& [begin, end] : live) {
      if (offset + AlignUp(buf.size) <= begin) break;
      offset = std::max(offset, end);
    }
    buf.offset = offset;
    total_ = std::max(total_, offset + AlignUp(buf.size));
    placed.push_back(id);
  }
  planned_ = true;
}

size_t GreedyArenaPlanner::GetOffsetForBuffer(size_t id) {
  if (!planned_) Plan();
  return buffers_[id].offset;
}

size_t GreedyArenaPlanner::GetMaximumMemorySize() {
  if (!planned_) Plan();
  return total_;
}

size_t GreedyArenaPlanner::GetTotalBufferSize() const {
  size_t sum = 0;
  for (const auto& b : buffers_) sum += b.size;
  return sum;
}

bool GreedyArenaPlanner::DoAnyBuffersOverlap() {
  if (!planned_) Plan();
  for (size_t i = 0; i < buffers_.size(); ++i) {
    for (size_t j = i + 1; j < buffers_.size(); ++j) {
      const Buffer& a = buffers_[i];
      const Buffer& b = buffers_[j];
      if (!LifetimesIntersect(a.first_use, a.last_use, b.first_use, b.last_use)) continue;
      if (a.size == 0 || b.size == 0) continue;
      if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) return true;
    }
  }
  return false;
}

}  // namespace lookout::runtime::internal
