// Packing a CONV_2D / FULLY_CONNECTED filter for the 64-bit Arm GEMM tiles
// (kernels/arm/gemm.h): weights in the chosen kernels' layout, zero-point
// terms folded into the bias.
#ifndef LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_PACKING_H_
#define LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_PACKING_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/kernel_util.h"
#include "src/graph.h"

namespace lookout::runtime::internal::arm {

/// A filter packed for DotGemm() (`dot`) or MullGemm().
struct PackedGemm {
  size_t padded_k = 0;     ///< K rounded up to whole kGemmKStep steps.
  size_t block = 0;        ///< Channels per block: kDotBlock or kMullBlock.
  size_t blocks = 0;       ///< Blocks of the output channels.
  size_t block_bytes = 0;  ///< padded_k × block.
  /// blocks × block_bytes, 64-byte aligned, zero-padded, each block in its
  /// kernel's packing (gemm.h); a paired uint8 block holds w - 128.
  std::unique_ptr<uint8_t, AlignedFree> weights;
  /// Per channel (padded to whole blocks with 0): the bias plus the
  /// zero-point terms, (oa - za) sum w* + K (oa - za)(ow - zw) with oa = ow
  /// = 128 for paired uint8 blocks, else 0; wrapped to int32 as the int32
  /// accumulation wraps. The per-pixel term -(zw + ...) sum a is the
  /// caller's.
  std::vector<int32_t> bias;
  std::vector<float> scale;  ///< Per channel, padded with 0.
  /// Per block, mull kernels only: whether its products are paired in int16
  /// (MullMode::kS8Paired / kU8Paired), which needs no weight of -128 (int8)
  /// or 0 (uint8, w - 128 = -128).
  std::vector<bool> paired;
};

/// Packs `filter` ([OC, ...] TFLite order, K = elements / OC bytes per
/// channel; uint8, or int8 with zero point 0), its optional int32 `bias`
/// (OC entries) and the per-channel requantization `scales` for inputs of
/// zero point `input_zero_point`, for the dot-product kernels (`dot`) or
/// the mull ones.
PackedGemm PackNeonGemm(const Tensor& filter, const Tensor* bias, const std::vector<float>& scales,
                        int32_t input_zero_point, bool dot);

}  // namespace lookout::runtime::internal::arm

#endif  // LOOKOUT_RUNTIME_KERNELS_ARM_GEMM_PACKING_H_
