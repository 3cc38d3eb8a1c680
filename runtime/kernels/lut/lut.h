// Lookup-table kernels (KernelFamily::kLookupTable).
#ifndef LOOKOUT_RUNTIME_KERNELS_LUT_H_
#define LOOKOUT_RUNTIME_KERNELS_LUT_H_

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// A 256-entry lookup-table kernel for an 8-bit per-tensor element-wise
/// node (HARD_SWISH, QUANTIZE, ADD or MUL of a constant scalar), its table
/// computed by the node's own reference kernel, so it is exact; SOFTMAX with
/// its exp term tabulated (TFLite's reference integer SOFTMAX, byte for
/// byte); nullptr for any other node. Runs in place.
std::unique_ptr<OpKernel> MakeLutKernel(KernelContext& ctx, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_LUT_H_
