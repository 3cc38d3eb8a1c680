// The activation memory plan on its own: the greedy arena planner
// (src/arena_planner.h: offsets, alignment, no overlap of live buffers, the
// minimum on graphs small enough to check by hand), the tensor lifetimes it
// is given, and in-place chains (a node whose kernel runs in place writes
// over its input where that input dies).
#include "support/catch_compat.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "src/arena_planner.h"
#include "src/graph.h"

namespace lr = lookout::runtime;
namespace li = lookout::runtime::internal;

namespace {

constexpr size_t kAlignment = 64;  // the planner's documented offset alignment

size_t AlignUp(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

struct Buffer {
  size_t size;
  int32_t first, last;
};

// Whether two buffers live at the same node and share a byte, from their
// offsets alone.
bool Collide(const Buffer& a, size_t offset_a, const Buffer& b, size_t offset_b) {
  const bool same_time = a.first <= b.last && b.first <= a.last;
  const bool same_bytes = offset_a < offset_b + b.size && offset_b < offset_a + a.size;
  return same_time && same_bytes && a.size > 0 && b.size > 0;
}

// A kernel that only says whether it runs in place.
class StubKernel : public li::OpKernel {
 public:
  explicit StubKernel(bool in_place) : in_place_(in_place) {}
  lr::Status Prepare(li::KernelContext&) override { return {}; }
  lr::Status Eval() override { return {}; }
  bool runs_in_place() const override { return in_place_; }

 private:
  bool in_place_;
};

li::Tensor MakeTensor(size_t bytes, bool constant = false) {
  li::Tensor t;
  t.bytes = bytes;
  t.is_constant = constant;
  return t;
}

li::Node MakeNode(int32_t index, std::vector<int32_t> inputs, std::vector<int32_t> outputs, bool in_place) {
  li::Node n;
  n.index = index;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.kernel = std::make_unique<StubKernel>(in_place);
  return n;
}

}  // namespace

TEST_CASE("arena planner: a three-buffer chain needs the two largest neighbours, by hand", "[arena]") {
  // A (100 bytes, nodes 0..1), B (200, 1..2), C (100, 2..3): aligned 128,
  // 256, 128. At node 1 A and B live (384 bytes), at node 2 B and C (384):
  // 384 is the least any plan can use, and A and C, never live together,
  // can share their 128 bytes.
  li::GreedyArenaPlanner planner;
  planner.AddBuffer(100, 0, 1);
  planner.AddBuffer(200, 1, 2);
  planner.AddBuffer(100, 2, 3);
  CHECK(planner.GetMaximumMemorySize() == 384);
  CHECK(planner.GetOffsetForBuffer(0) == planner.GetOffsetForBuffer(2));
  CHECK(planner.GetOffsetForBuffer(0) != planner.GetOffsetForBuffer(1));
  CHECK(planner.GetTotalBufferSize() == 400);
}

TEST_CASE("arena planner: buffers never live together share offset 0", "[arena]") {
  // Four buffers one after another in time: the largest (1000 -> 1024
  // aligned) is the whole arena, and each starts at 0.
  li::GreedyArenaPlanner planner;
  const size_t sizes[] = {10, 1000, 64, 65};
  for (int32_t i = 0; i < 4; ++i) planner.AddBuffer(sizes[i], i, i);
  CHECK(planner.GetMaximumMemorySize() == 1024);
  for (size_t i = 0; i < 4; ++i) CHECK(planner.GetOffsetForBuffer(i) == 0);
}

TEST_CASE("arena planner: buffers all live at once are laid end to end", "[arena]") {
  // 1, 64 and 65 bytes live over the same nodes: 64 + 64 + 128 = 256.
  li::GreedyArenaPlanner planner;
  planner.AddBuffer(1, 0, 5);
  planner.AddBuffer(64, 2, 3);
  planner.AddBuffer(65, 3, 9);
  CHECK(planner.GetMaximumMemorySize() == 256);
}

TEST_CASE("arena planner: random plans keep live buffers apart, aligned, within bounds", "[arena]") {
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<size_t> size_of(0, 5000);
  std::uniform_int_distribution<int32_t> start_of(-1, 40), length_of(0, 12);
  for (int round = 0; round < 50; ++round) {
    li::GreedyArenaPlanner planner;
    std::vector<Buffer> buffers;
    const int count = 1 + round * 3;
    for (int i = 0; i < count; ++i) {
      const int32_t first = start_of(rng);
      buffers.push_back({size_of(rng), first, first + length_of(rng)});
      planner.AddBuffer(buffers.back().size, buffers.back().first, buffers.back().last);
    }
    const size_t arena = planner.GetMaximumMemorySize();
    std::vector<size_t> offsets;
    for (size_t i = 0; i < buffers.size(); ++i) offsets.push_back(planner.GetOffsetForBuffer(i));
    // Lower bound: the bytes live at the busiest node; upper: no sharing.
    size_t busiest = 0, total = 0;
    for (int32_t t = -1; t <= 60; ++t) {
      size_t live = 0;
      for (const Buffer& b : buffers) live += b.first <= t && t <= b.last ? AlignUp(b.size) : 0;
      busiest = std::max(busiest, live);
    }
    for (const Buffer& b : buffers) total += AlignUp(b.size);
    INFO("round " << round << ", " << count << " buffers");
    CHECK(arena >= busiest);
    CHECK(arena <= total);
    for (size_t i = 0; i < buffers.size(); ++i) {
      CHECK(offsets[i] % kAlignment == 0);
      CHECK(offsets[i] + buffers[i].size <= arena);
      for (size_t j = i + 1; j < buffers.size(); ++j) {
        if (Collide(buffers[i], offsets[i], buffers[j], offsets[j])) {
          FAIL_CHECK("buffers " << i << " and " << j << " are live together and overlap");
        }
      }
    }
  }
}

TEST_CASE("lifetimes: producer to last reader, graph inputs from -1, outputs to the end", "[arena]") {
  // t0 (input) -> n0(t0, t4 constant) -> t1 -> n1 -> t2 -> n2(t2, t1) -> t3 (output);
  // t5 is written by n1 too and never read.
  std::vector<li::Tensor> tensors = {MakeTensor(8), MakeTensor(8), MakeTensor(8),
                                     MakeTensor(8), MakeTensor(8, true), MakeTensor(8)};
  std::vector<li::Node> nodes;
  nodes.push_back(MakeNode(0, {0, 4}, {1}, false));
  nodes.push_back(MakeNode(1, {1}, {2, 5}, false));
  nodes.push_back(MakeNode(2, {2, 1}, {3}, false));
  const std::vector<int32_t> inputs = {0}, outputs = {3};
  const li::Lifetimes lt = li::ComputeLifetimes(tensors, nodes, inputs, outputs);
  CHECK(lt.first == std::vector<int32_t>{-1, 0, 1, 2, li::Lifetimes::kUnused, 1});
  CHECK(lt.last == std::vector<int32_t>{0, 2, 2, 3, li::Lifetimes::kUnused, 1});
}

TEST_CASE("in place: a chain of in-place nodes shares its first tensor's memory", "[arena]") {
  // t0 (input) -> n0 -> t1 -> n1 (in place) -> t2 -> n2 (in place) -> t3 (output).
  std::vector<li::Tensor> tensors = {MakeTensor(64), MakeTensor(64), MakeTensor(64), MakeTensor(64)};
  std::vector<li::Node> nodes;
  nodes.push_back(MakeNode(0, {0}, {1}, true));  // in place, but t0 is a graph input
  nodes.push_back(MakeNode(1, {1}, {2}, true));
  nodes.push_back(MakeNode(2, {2}, {3}, true));
  const std::vector<int32_t> inputs = {0}, outputs = {3};
  li::Lifetimes lt = li::ComputeLifetimes(tensors, nodes, inputs, outputs);
  const std::vector<int32_t> alias = li::AssignInPlace(tensors, nodes, inputs, lt);
  CHECK(alias == std::vector<int32_t>{-1, -1, 1, 1});
  // t1 now holds t2 and t3 too: it lives from node 0 to the end (3).
  CHECK(lt.first[1] == 0);
  CHECK(lt.last[1] == 3);
  CHECK(lt.last[0] == 0);
}

TEST_CASE("in place: not over an input still read later, of another size, or by a kernel that cannot", "[arena]") {
  std::vector<li::Tensor> tensors = {MakeTensor(64), MakeTensor(64), MakeTensor(64), MakeTensor(32),
                                     MakeTensor(32), MakeTensor(32)};
  std::vector<li::Node> nodes;
  nodes.push_back(MakeNode(0, {0}, {1}, false));
  nodes.push_back(MakeNode(1, {1}, {2}, true));     // t1 is read again by n2: stays
  nodes.push_back(MakeNode(2, {2, 1}, {3}, true));  // 64 -> 32 bytes: stays
  nodes.push_back(MakeNode(3, {3}, {4}, false));    // cannot run in place
  nodes.push_back(MakeNode(4, {4}, {5}, true));     // may: t4 dies here, same size
  const std::vector<int32_t> inputs = {0}, outputs = {5};
  li::Lifetimes lt = li::ComputeLifetimes(tensors, nodes, inputs, outputs);
  const std::vector<int32_t> alias = li::AssignInPlace(tensors, nodes, inputs, lt);
  CHECK(alias == std::vector<int32_t>{-1, -1, -1, -1, -1, 4});
}
