// Lookout's own pointwise (1x1) convolution: an 8-bit GEMM on AVX-512 VNNI.
#ifndef LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_
#define LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_

#include <pthreadpool.h>

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// The switch LOOKOUT_NO_OWN_KERNELS, read when kernels are created, for
/// comparisons: unset, "" or "0" = Lookout's own optimized kernels run where
/// they apply; a comma-separated list of kernel names ("pointwise",
/// "depthwise"; on Arm also "dot", the dot-product variants, "mul", and
/// "defer", the rules that leave a node to XNNPACK where its kernels do
/// fewer instructions (K below 48 for uint8, 160 for int8; dot-product GEMMs
/// XNNPACK has), for tests)
/// turns off just those; any other value ("1") turns them all
/// off, so the xnnpack backend uses XNNPACK for every node it can.
/// OwnKernelsDisabled(): all are off. OwnKernelDisabled(name): `name` is.
bool OwnKernelsDisabled();
bool OwnKernelDisabled(const char* name);

/// A kernel (backend "lookout") for a CONV_2D with a 1x1 filter, stride 1
/// (or any other window of at most 1024 patch bytes, gathered per tile), or
/// a FULLY_CONNECTED node, on uint8 / int8 (per-tensor or per-channel)
/// tensors, when the CPU has AVX-512 VNNI (x86-64) or on any 64-bit Arm CPU
/// (NEON; dot products where it has them, runtime/kernels/arm/); nullptr
/// otherwise (other CPUs, other shapes, or OwnKernelsDisabled()). The node must already have
/// passed its reference kernel's Prepare(). Its output is byte for byte what
/// XNNPACK's operator for the node computes: fp32 requantization,
/// float(acc) × (input_scale × filter_scale / output_scale), rounded to
/// nearest even. `pool` may be null (single thread).
std::unique_ptr<OpKernel> MakePointwiseKernel(KernelContext& ctx, pthreadpool_t pool);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_
