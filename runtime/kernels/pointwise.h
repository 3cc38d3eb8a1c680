// Lookout's own GEMM kernels for CONV_2D and FULLY_CONNECTED: AVX-512 VNNI
// on x86-64 (runtime/kernels/x86/pointwise_avx512vnni.cc), NEON on 64-bit Arm
// (runtime/kernels/arm/pointwise_neon.cc).
#ifndef LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_
#define LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// A kernel (KernelFamily::kOwnX86) for a CONV_2D with a 1x1 filter, stride
/// 1 (or any other window of at most 1024 patch bytes, gathered per tile),
/// or a FULLY_CONNECTED node, on uint8 / int8 (per-tensor or per-channel)
/// tensors, when `env.cpu` has AVX-512 VNNI and `env.own.pointwise`;
/// nullptr otherwise. The node must already have passed its reference
/// kernel's Prepare(). Its output is byte for byte what XNNPACK's operator
/// for the node computes: fp32 requantization, float(acc) × (input_scale ×
/// filter_scale / output_scale), rounded to nearest even. Tiles of pixels
/// are split over `env.pool`.
std::unique_ptr<OpKernel> MakeX86PointwiseKernel(KernelContext& ctx, const KernelEnvironment& env);

/// The same on 64-bit Arm (KernelFamily::kOwnArm): NEON, with SDOT/UDOT
/// where `env.cpu` has dot products and `env.own.dot_product`; the same
/// outputs. With `env.own.defer_to_xnnpack` and `env.xnnpack_allowed`, it
/// declines the nodes XNNPACK runs in fewer instructions (see
/// OwnKernelOptions::defer_to_xnnpack).
std::unique_ptr<OpKernel> MakeArmPointwiseKernel(KernelContext& ctx, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_POINTWISE_H_
