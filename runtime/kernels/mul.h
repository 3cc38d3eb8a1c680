// Lookout's own vectorized MUL.
#ifndef LOOKOUT_RUNTIME_KERNELS_MUL_H_
#define LOOKOUT_RUNTIME_KERNELS_MUL_H_

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// A kernel (KernelFamily::kOwnArm) for a MUL of two 8-bit activations (uint8
/// or int8, per tensor, up to 4-D broadcasting) whose outputs are byte for
/// byte TensorFlow Lite's reference integer MUL, on 64-bit Arm (NEON,
/// runtime/kernels/arm/mul_8bit_neon.cc), when `env.own.mul`; nullptr for other
/// nodes. The node must already have passed its reference kernel's Prepare().
std::unique_ptr<OpKernel> MakeArmMulKernel(KernelContext& ctx, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_MUL_H_
