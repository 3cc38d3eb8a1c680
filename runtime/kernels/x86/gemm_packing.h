// Packing a CONV_2D / FULLY_CONNECTED filter for the AVX-512 VNNI GEMM
// (kernels/x86/gemm.h): weights in its layout, zero-point terms folded into
// the bias.
#ifndef LOOKOUT_RUNTIME_KERNELS_X86_GEMM_PACKING_H_
#define LOOKOUT_RUNTIME_KERNELS_X86_GEMM_PACKING_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/kernel_util.h"
#include "src/graph.h"

namespace lookout::runtime::internal::x86 {

/// A filter packed for VnniGemm().
struct PackedGemm {
  /// [block][group][vector][16 channels x 4 bytes], 64-byte aligned; blocks
  /// of kGemmVr vectors (the last may hold fewer), w* = w ^ 0x80 (or w as it
  /// is, for flipped activations).
  std::unique_ptr<uint8_t, AlignedFree> weights;
  /// Per output channel, padded to whole vectors with 0: the bias less the
  /// zero-point terms, sum over k of (za + (flip ? 128 : 0)) (w - zw),
  /// wrapped to int32 as the int32 accumulation wraps.
  std::vector<int32_t> bias;
  /// Per output channel, padded to whole vectors with 0.
  std::vector<float> scale;
  /// c of the per-pixel term c × sum a (GemmArgs::row_coeff): 128 - zw for
  /// uint8, -128 for int8, 0 for flipped activations.
  int32_t row_coeff = 0;
};

/// Packs `filter` ([OC, ...] TFLite order, K = elements / OC bytes per
/// channel, uint8 or int8 with zero point 0), its optional int32 `bias`
/// (OC entries) and the per-channel requantization `scales` (OC entries)
/// for inputs of zero point `input_zero_point` and the filter's type.
/// `flip` (int8 only): the activations reach the tile as a + 128 (u8, as
/// gathered patches do) and the weights stay s8.
PackedGemm PackVnniGemm(const Tensor& filter, const Tensor* bias, const std::vector<float>& scales,
                        int32_t input_zero_point, bool flip);

}  // namespace lookout::runtime::internal::x86

#endif  // LOOKOUT_RUNTIME_KERNELS_X86_GEMM_PACKING_H_
