// Which kernel runs a node: the one place that decides (see
// InterpreterOptions for the order).
#ifndef LOOKOUT_RUNTIME_SRC_KERNEL_CHOICE_H_
#define LOOKOUT_RUNTIME_SRC_KERNEL_CHOICE_H_

#include <memory>

#include "lookout/runtime/interpreter.h"
#include "src/graph.h"

namespace lookout::runtime::internal {

/// A faster kernel of a family in `allowed` for the node `ctx` describes,
/// whose reference kernel has prepared it; nullptr when the reference
/// kernel should stay. Tries, in order: a lookup table; Lookout's own
/// kernels for the CPU this was built for (x86-64: kOwnX86; 64-bit Arm:
/// kOwnArm); XNNPACK. A node whose data input is a constant tensor gets
/// only a lookup table (the others may read past an activation's end,
/// where the arena pads and the model file does not).
std::unique_ptr<OpKernel> ChooseKernel(KernelContext& ctx, KernelFamilies allowed, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_KERNEL_CHOICE_H_
