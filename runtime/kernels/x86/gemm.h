// Lookout's 8-bit GEMM microkernels for x86-64 with AVX-512 VNNI: the inner
// products of CONV_2D (1x1 directly, other windows over gathered patches)
// and FULLY_CONNECTED (the adapter: kernels/x86/pointwise_avx512vnni.cc).
//
// One call computes a tile: M pixels (1..kGemmMr) x V vectors of 16 output
// channels (1..kGemmVr), over K input bytes per pixel. Each output is
//
//   acc = bias[c] + corr[m] + dot(a*[m], w*[c])            (exact int32)
//   out = clamp(round_even(float(acc) * scale[c]) + zero_point, act_min, act_max)
//
// XNNPACK's fp32 requantization (float(acc) × scale in float, rounded to
// nearest even), so that results are byte for byte those of XNNPACK's
// operators and of the Arm kernels.
//
// vpdpbusd multiplies unsigned bytes by signed ones, four per int32 lane.
// Weights are packed as w* = w ^ 0x80 (kernels/x86/gemm_packing.h):
//  * uint8 activations (`is_signed` false): a* = a (u8) times w* (s8, =
//    w - 128): dot = sum a (w - 128), so
//    sum (a - za)(w - zw) = dot + (128 - zw) sum a - za sum (w - zw);
//  * int8 activations (`is_signed`, weights' zero point 0): w* (u8, = w +
//    128) times a (s8): sum (a - za) w = dot - 128 sum a - za sum w.
// The per-channel terms are folded into the bias by the packing; the
// per-pixel term c × sum a (c = 128 - zw or -128, `row_coeff`) is `corr`,
// or, with `row_sum`, computed by the tile itself.
//
// Layout. Input channels come in groups of 4 (one int32 lane), the last
// zero-padded; output channels in vectors of 16, vectors in blocks of
// kGemmVr. A block of v vectors is stored group by group: [group][vector][16
// channels x 4 bytes] (kGemmGroupBytes per vector and group), so the tile
// reads its weights as one stream. Padded channels and groups hold 0.
#ifndef LOOKOUT_RUNTIME_KERNELS_X86_GEMM_H_
#define LOOKOUT_RUNTIME_KERNELS_X86_GEMM_H_

#include <cstddef>
#include <cstdint>

namespace lookout::runtime::internal::x86 {

/// Pixels per tile, at most.
inline constexpr int kGemmMr = 8;
/// 16-channel vectors per tile (a block), at most.
inline constexpr int kGemmVr = 3;
/// Output channels per vector (one zmm of int32).
inline constexpr size_t kGemmVector = 16;
/// Packed bytes per vector and group of 4 input channels.
inline constexpr size_t kGemmGroupBytes = 64;

/// What one tile call reads and writes.
struct GemmArgs {
  const uint8_t* input;    ///< The tile's first pixel.
  size_t input_stride;     ///< Bytes from one pixel to the next.
  size_t groups;           ///< Whole groups of 4 input bytes.
  size_t tail;             ///< Input bytes after them, 0..3 (0 with `row_sum`).
  const uint8_t* weights;  ///< The block's packed weights.
  const int32_t* corr;     ///< Per pixel, added to all its channels (not read with `row_sum`).
  int32_t row_coeff;       ///< c, with `row_sum`: c × the pixel's byte sum is added.
  const int32_t* bias;     ///< Per channel, from the block's first (folded).
  const float* scale;      ///< Per channel, from the block's first.
  uint8_t* output;         ///< The tile's first pixel, the block's first channel.
  size_t output_stride;    ///< Bytes from one pixel's outputs to the next.
  size_t channels;         ///< Valid channels of the block, 1 .. 16 × vectors.
  int32_t zero_point;      ///< Of the output.
  float hi;                ///< act_max less the output zero point.
  int32_t act_min;
  bool signed_out;         ///< int8 output (else uint8).
};
using GemmFn = void (*)(const GemmArgs&);

/// The tile kernel for `pixels` (1..kGemmMr) x `vectors` (1..kGemmVr):
/// int8 activations (`is_signed`) or uint8; `row_sum` (uint8 only) has the
/// tile sum each pixel's bytes itself. The CPU must have AVX-512 F, BW, VL
/// and VNNI.
GemmFn VnniGemm(bool is_signed, bool row_sum, int vectors, int pixels);

/// Sum of the n bytes at p, as uint8 or as int8 (`is_signed`). AVX-512 BW.
int32_t VnniRowSum(bool is_signed, const uint8_t* p, size_t n);

}  // namespace lookout::runtime::internal::x86

#endif  // LOOKOUT_RUNTIME_KERNELS_X86_GEMM_H_
