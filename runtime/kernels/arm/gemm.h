// Lookout's 8-bit GEMM microkernels for 64-bit Arm (Raspberry Pi 4's
// Cortex-A72, Pi 5's Cortex-A76): the inner products of CONV_2D (1x1
// directly, other windows over gathered patches) and FULLY_CONNECTED.
//
// One call computes a tile: M pixels (1..4) x one block of output channels
// (16 for the dot-product kernels, 4 for the others), over K input bytes per
// pixel. Each output is
//
//   acc = bias[c] + corr[m] + sum_k a*[m][k] w*[c][k]      (exact int32)
//   out = clamp(round_even(float(acc) * scale[c]) + zero_point, act_min, act_max)
//
// where a* and w* are the bytes as the kernel multiplies them (see the
// packings below) and bias / corr carry the zero-point terms, folded by the
// caller (runtime/kernels/arm/pointwise_neon.cc). The requantization is
// XNNPACK's fp32 one (float(acc) × scale in float, rounded to nearest even),
// so that results are byte for byte those of the x86 path.
#ifndef LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_H_
#define LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_H_

#include <cstddef>
#include <cstdint>

namespace lookout::runtime::internal::arm {

/// Pixels per tile.
inline constexpr int kGemmMr = 4;
/// Input bytes per step of the K loop; packed K is a multiple of it.
inline constexpr size_t kGemmKStep = 16;

/// What one tile call reads and writes: M pixels x `blocks` consecutive
/// blocks of channels, of the same packing and mode.
struct GemmArgs {
  const uint8_t* input;     // pixel 0's first input byte
  size_t input_stride;      // bytes from one pixel to the next
  size_t steps;             // whole 16-byte steps of K
  size_t tail_bytes;        // 0..15: K's last, partial step, read as 16 (or 8)
                            // bytes from each pixel: up to 15 bytes past its
                            // K must be readable (their weights are 0)
  const uint8_t* weights;   // the first block's packed weights
  size_t block_bytes;       // packed bytes per block
  size_t blocks;            // blocks to compute, 1 or more
  const int32_t* corr;      // per pixel, added to all its channels
  const int32_t* bias;      // per channel from the first block's first (folded)
  const float* scale;       // per channel from the first block's first
  uint8_t* output;          // pixel 0, the first block's first channel
  size_t output_stride;     // bytes from one pixel's outputs to the next
  size_t channels;          // valid channels from the first block's first one
  int32_t zero_point;       // of the output
  int32_t act_min, act_max;
};
using GemmFn = void (*)(const GemmArgs&);

/// Dot-product kernels (ARMv8.2 udot/sdot, the Cortex-A76): blocks of 16
/// channels. Packing per block: for each group of 4 k, 64 bytes: channel c's
/// 4 bytes at 16 (c / 4) + 4 (c % 4). a* = a, w* = w: udot for uint8
/// (`is_signed` false), sdot for int8.
inline constexpr size_t kDotBlock = 16;
GemmFn DotGemm(bool is_signed, int pixels);

/// Kernels for ARMv8.0 NEON without dot products (the Cortex-A72): blocks of
/// 4 channels. Packing per block: for each 16-byte step, channel c's 16
/// bytes at 16 c. Products of 16 bytes pairwise (vmull / vmlal), summed into
/// int32 lanes (vpadal), the lanes reduced at the end.
inline constexpr size_t kMullBlock = 4;
enum class MullMode {
  /// int8 a and w, no w* = -128: two products per int16 lane (smull, then
  /// smlal of the high halves), |sum| <= 2 x 128 x 127.
  kS8Paired,
  /// uint8 as int8: a* = a ^ 0x80 = a - 128 (flipped by the kernel),
  /// w* = w - 128 (packed), paired as kS8Paired; needs no w = 0.
  kU8Paired,
  /// kU8Paired over inputs the caller has already flipped.
  kU8PairedFlipped,
  /// int8, one product per int16 lane (any weights).
  kS8,
  /// uint8 a* = a, w* = w, umull (any weights).
  kU8,
};
GemmFn MullGemm(MullMode mode, int pixels);

}  // namespace lookout::runtime::internal::arm

#endif  // LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_H_
