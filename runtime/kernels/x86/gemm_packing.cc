#include "kernels/x86/gemm_packing.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/gemm.h"

namespace lookout::runtime::internal::x86 {

PackedGemm PackVnniGemm(const Tensor& filter, const Tensor* bias, const std::vector<float>& scales,
                        int32_t input_zero_point, bool flip) {
  const size_t oc = static_cast<size_t>(filter.dim(0));
  const size_t ic = filter.elements / oc;
  const bool is_signed = filter.type == DataType::kInt8;
  const size_t all_groups = (ic + 3) / 4;
  const size_t vectors = (oc + kGemmVector - 1) / kGemmVector;
  const size_t vr = static_cast<size_t>(kGemmVr);

  PackedGemm p;
  const size_t bytes = std::max<size_t>(vectors * all_groups * kGemmGroupBytes, 64);
  p.weights.reset(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
  std::memset(p.weights.get(), 0, bytes);
  p.bias.assign(vectors * kGemmVector, 0);
  p.scale.assign(vectors * kGemmVector, 0.0f);

  const int32_t za = input_zero_point;
  const int32_t zw = is_signed ? 0 : filter.zero_point;
  p.row_coeff = flip ? 0 : is_signed ? -128 : 128 - zw;
  const uint8_t weight_flip = flip ? 0 : 0x80;
  const uint8_t* w = filter.data;
  for (size_t o = 0; o < oc; ++o) {
    const size_t vector = o / kGemmVector;
    const size_t block = vector / vr;
    const size_t in_block = std::min(vr, vectors - block * vr);
    uint8_t* base = p.weights.get() + block * vr * all_groups * kGemmGroupBytes + (vector % vr) * kGemmGroupBytes +
                    (o % kGemmVector) * 4;
    int64_t sum = 0;  // sum over k of (w - zw)
    for (size_t k = 0; k < ic; ++k) {
      const uint8_t byte = w[o * ic + k];
      sum += is_signed ? static_cast<int64_t>(static_cast<int8_t>(byte)) : static_cast<int64_t>(byte) - zw;
      base[(k / 4) * in_block * kGemmGroupBytes + k % 4] = static_cast<uint8_t>(byte ^ weight_flip);
    }
    int64_t b = 0;
    if (bias != nullptr) {
      int32_t v;
      std::memcpy(&v, bias->data + o * sizeof(int32_t), sizeof(v));
      b = v;
    }
    b -= (static_cast<int64_t>(za) + (flip ? 128 : 0)) * sum;
    p.bias[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(b)));
    p.scale[o] = scales[o];
  }
  return p;
}

}  // namespace lookout::runtime::internal::x86
