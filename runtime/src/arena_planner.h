// Greedy arena planner (after TFLite Micro's GreedyMemoryPlanner).
//
// Each buffer has a size and a lifetime [first_use, last_use] in node
// indices. Buffers are placed in descending order of size; each goes at the
// lowest offset where it overlaps no already-placed buffer whose lifetime
// intersects its own. Offsets are 64-byte aligned. The planner owns no
// memory: it only computes offsets and the total size.
#ifndef LOOKOUT_RUNTIME_SRC_ARENA_PLANNER_H_
#define LOOKOUT_RUNTIME_SRC_ARENA_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// Per tensor, the node indices between which its memory must hold: from
/// its producer (graph inputs: -1, before node 0) to its last reader (graph
/// outputs: the node count, past the end). kUnused for constants and
/// tensors no node reads or writes.
struct Lifetimes {
  static constexpr int32_t kUnused = -2;
  std::vector<int32_t> first, last;
};

/// The lifetimes of `tensors` in a graph of `nodes` (execution order) with
/// graph `inputs` and `outputs` (tensor indices).
Lifetimes ComputeLifetimes(const std::vector<Tensor>& tensors, const std::vector<Node>& nodes,
                           std::span<const int32_t> inputs, std::span<const int32_t> outputs);

/// In place: a node whose kernel runs_in_place() and whose input 0 dies at
/// that node (and holds as many bytes as its one output) gets its output
/// placed over that input. Chains resolve to their first tensor, whose
/// lifetime in `lifetimes` grows to cover the chain. Graph inputs keep their
/// own memory (the caller owns them between invokes), as do constants.
/// Returns, per tensor, the tensor whose memory it uses, or -1.
std::vector<int32_t> AssignInPlace(const std::vector<Tensor>& tensors, const std::vector<Node>& nodes,
                                   std::span<const int32_t> inputs, Lifetimes& lifetimes);

class GreedyArenaPlanner {
 public:
  /// Adds a buffer; its id is the number of buffers added before it.
  void AddBuffer(size_t size, int32_t first_use, int32_t last_use);
  /// Offset in bytes of buffer `id` in the arena.
  size_t GetOffsetForBuffer(size_t id);
  /// Arena size in bytes needed by the plan.
  size_t GetMaximumMemorySize();
  /// Sum of all buffer sizes (what an arena without sharing would need).
  size_t GetTotalBufferSize() const;
  /// True if two buffers with intersecting lifetimes overlap in memory (tests).
  bool DoAnyBuffersOverlap();

 private:
  struct Buffer {
    size_t size;
    int32_t first_use, last_use;
    size_t offset;
  };
  void Plan();
  std::vector<Buffer> buffers_;
  size_t total_ = 0;
  bool planned_ = false;
};

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_ARENA_PLANNER_H_
