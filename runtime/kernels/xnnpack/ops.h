// XNNPACK operators as kernels (KernelFamily::kXnnpack).
#ifndef LOOKOUT_RUNTIME_KERNELS_XNNPACK_H_
#define LOOKOUT_RUNTIME_KERNELS_XNNPACK_H_

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// An XNNPACK operator for the node `ctx` describes (already validated by
/// its reference kernel's Prepare()): CONV_2D, DEPTHWISE_CONV_2D,
/// FULLY_CONNECTED, ADD, MUL, AVERAGE_POOL_2D, MEAN; weights packed here,
/// once. nullptr when XNNPACK cannot run it exactly as the graph asks or
/// cannot be initialized. Runs on `env.pool`.
std::unique_ptr<OpKernel> MakeXnnpackKernel(KernelContext& ctx, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_XNNPACK_H_
