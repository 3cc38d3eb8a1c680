#include "kernels/arm/gemm_packing.h"

#include <algorithm>
#include <cstring>

#include "kernels/arm/gemm.h"
#include "kernels/kernel_util.h"

namespace lookout::runtime::internal::arm {

PackedGemm PackNeonGemm(const Tensor& filter, const Tensor* bias, const std::vector<float>& scales,
                        int32_t input_zero_point, bool dot) {
  const size_t oc = static_cast<size_t>(filter.dim(0));
  const size_t k_bytes = filter.elements / oc;
  const bool is_signed = filter.type == DataType::kInt8;
  PackedGemm p;
  p.padded_k = (k_bytes + kGemmKStep - 1) / kGemmKStep * kGemmKStep;
  p.block = dot ? kDotBlock : kMullBlock;
  p.blocks = (oc + p.block - 1) / p.block;
  p.block_bytes = p.padded_k * p.block;
  const size_t bytes = std::max<size_t>(p.blocks * p.block_bytes, 64);
  p.weights.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  std::memset(p.weights.get(), 0, bytes);
  p.bias.assign(p.blocks * p.block, 0);
  p.scale.assign(p.blocks * p.block, 0.0f);
  p.paired.assign(p.blocks, false);

  const int64_t za = input_zero_point;
  const int64_t zw = is_signed ? 0 : filter.zero_point;
  const int64_t k = static_cast<int64_t>(k_bytes);
  const uint8_t* w = filter.data;
  for (size_t b = 0; b < p.blocks; ++b) {
    const size_t first = b * p.block, last = std::min(oc, first + p.block);
    bool paired = !dot;
    for (size_t o = first; o < last && paired; ++o) {
      for (size_t i = 0; i < k_bytes; ++i) {
        if (w[o * k_bytes + i] == (is_signed ? 0x80 : 0x00)) {
          paired = false;
          break;
        }
      }
    }
    p.paired[b] = paired;
    const bool flip = paired && !is_signed;  // kU8Paired: w* = w - 128
    const int64_t oa = flip ? 128 : 0, ow = flip ? 128 : 0;
    uint8_t* packed = p.weights.get() + b * p.block_bytes;
    for (size_t o = first; o < last; ++o) {
      const size_t c = o - first;
      int64_t sum = 0;  // sum of w*
      for (size_t i = 0; i < k_bytes; ++i) {
        const uint8_t byte = static_cast<uint8_t>(w[o * k_bytes + i] ^ (flip ? 0x80 : 0));
        sum += is_signed || flip ? static_cast<int64_t>(static_cast<int8_t>(byte)) : static_cast<int64_t>(byte);
        const size_t at = dot ? (i / 4) * 64 + (c / 4) * 16 + (c % 4) * 4 + i % 4
                              : (i / kGemmKStep) * 64 + c * 16 + i % kGemmKStep;
        packed[at] = byte;
      }
      int64_t v = bias != nullptr ? static_cast<int64_t>(ReadInt32(*bias, o)) : 0;
      v += (oa - za) * sum + k * (oa - za) * (ow - zw);
      p.bias[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
      p.scale[o] = scales[o];
    }
  }
  return p;
}

}  // namespace lookout::runtime::internal::arm
