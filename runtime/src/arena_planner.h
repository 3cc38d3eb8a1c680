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
#include <vector>

namespace lookout::runtime::internal {

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
