#include "src/arena_planner.h"

#include <algorithm>
#include <numeric>

namespace lookout::runtime::internal {
namespace {
constexpr size_t kAlignment = 64;
size_t AlignUp(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }
bool LifetimesIntersect(int32_t a0, int32_t a1, int32_t b0, int32_t b1) { return a0 <= b1 && b0 <= a1; }
}  // namespace

Lifetimes ComputeLifetimes(const std::vector<Tensor>& tensors, const std::vector<Node>& nodes,
                           std::span<const int32_t> inputs, std::span<const int32_t> outputs) {
  const int32_t end = static_cast<int32_t>(nodes.size());
  Lifetimes lt;
  lt.first.assign(tensors.size(), Lifetimes::kUnused);
  lt.last.assign(tensors.size(), Lifetimes::kUnused);
  for (int32_t i : inputs) lt.first[static_cast<size_t>(i)] = lt.last[static_cast<size_t>(i)] = -1;
  for (const Node& node : nodes) {
    for (int32_t o : node.outputs) lt.first[static_cast<size_t>(o)] = lt.last[static_cast<size_t>(o)] = node.index;
    for (int32_t i : node.inputs) {
      if (i >= 0 && !tensors[static_cast<size_t>(i)].is_constant) lt.last[static_cast<size_t>(i)] = node.index;
    }
  }
  for (int32_t o : outputs) lt.last[static_cast<size_t>(o)] = end;
  // An input no node reads still lives until node 0 runs.
  for (int32_t i : inputs) lt.last[static_cast<size_t>(i)] = std::max(lt.last[static_cast<size_t>(i)], 0);
  return lt;
}

std::vector<int32_t> AssignInPlace(const std::vector<Tensor>& tensors, const std::vector<Node>& nodes,
                                   std::span<const int32_t> inputs, Lifetimes& lt) {
  std::vector<int32_t> alias(tensors.size(), -1);
  std::vector<bool> is_input(tensors.size(), false);
  for (int32_t i : inputs) is_input[static_cast<size_t>(i)] = true;
  for (const Node& node : nodes) {
    if (!node.kernel->runs_in_place() || node.inputs.empty() || node.inputs[0] < 0 || node.outputs.size() != 1) {
      continue;
    }
    size_t in = static_cast<size_t>(node.inputs[0]);
    const size_t out = static_cast<size_t>(node.outputs[0]);
    if (tensors[in].is_constant || is_input[in] || lt.last[in] != node.index ||
        tensors[in].bytes != tensors[out].bytes) {
      continue;
    }
    while (alias[in] >= 0) in = static_cast<size_t>(alias[in]);
    alias[out] = static_cast<int32_t>(in);
    lt.last[in] = std::max(lt.last[in], lt.last[out]);
  }
  return alias;
}

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
