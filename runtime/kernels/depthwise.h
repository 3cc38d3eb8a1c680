// Lookout's own DEPTHWISE_CONV_2D: AVX-512 (16 channels per vector) and, for
// int8, arm64 NEON.
#ifndef LOOKOUT_RUNTIME_KERNELS_DEPTHWISE_H_
#define LOOKOUT_RUNTIME_KERNELS_DEPTHWISE_H_

#include <memory>

#include "src/graph.h"

namespace lookout::runtime::internal {

/// A DEPTHWISE_CONV_2D node's NHWC geometry, which the own kernels derive
/// from: sizes, window, strides, dilations and leading padding (TFLite's
/// ComputePadding for SAME, 0 for VALID).
struct DepthwiseGeometry {
  int32_t batch_ = 0, in_h_ = 0, in_w_ = 0, channels_ = 0, out_h_ = 0, out_w_ = 0;
  int32_t k_h_ = 0, k_w_ = 0, stride_h_ = 1, stride_w_ = 1, dil_h_ = 1, dil_w_ = 1;
  int32_t pad_top_ = 0, pad_left_ = 0;
  /// Reads them from the node, which its reference Prepare() has validated.
  void ReadGeometry(const KernelContext& ctx);
};

/// A kernel (KernelFamily::kOwnX86) for a DEPTHWISE_CONV_2D with depth
/// multiplier 1 on uint8 / int8 (per-tensor or per-channel) NHWC tensors,
/// any window, stride, dilation and padding, when `env.cpu` has AVX-512 (F,
/// BW, VL) and `env.own.depthwise`; nullptr otherwise. The node must already
/// have passed its reference kernel's Prepare(). Outputs are byte for byte
/// what XNNPACK's operator for the node computes: exact int32 accumulation,
/// then fp32 requantization, float(acc) × (input_scale × filter_scale[c] /
/// output_scale) in float, rounded to nearest even, plus the output zero
/// point, clamped to the fused activation's range. 3x3 windows with
/// dilation 1 use VNNI dot products (vpdpbusd) where the CPU also has
/// avx512vnni and avx512vbmi, the same arithmetic exactly. Rows of the
/// output are split over `env.pool`.
std::unique_ptr<OpKernel> MakeX86DepthwiseKernel(KernelContext& ctx, const KernelEnvironment& env);

/// The same on 64-bit Arm (KernelFamily::kOwnArm, NEON,
/// runtime/kernels/arm/dwconv_s8_neon.cc), for int8 nodes whose filter
/// has zero point 0, bytes in [-127, 127] and at most 64 taps; the same
/// outputs.
std::unique_ptr<OpKernel> MakeArmDepthwiseKernel(KernelContext& ctx, const KernelEnvironment& env);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_DEPTHWISE_H_
