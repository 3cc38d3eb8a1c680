// fp32 requantization on NEON, shared by the Arm kernels: XNNPACK's fp32
// arithmetic (float(acc) × scale in float, rounded to nearest even), then
// the output zero point and the fused activation's range.
#ifndef LOOKOUT_RUNTIME_KERNELS_ARM_REQUANT_NEON_H_
#define LOOKOUT_RUNTIME_KERNELS_ARM_REQUANT_NEON_H_

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lookout::runtime::internal::arm {

#define LOOKOUT_ARM_INLINE inline __attribute__((always_inline))

/// round_even(float(acc) × scale), saturated to int32 (vcvtnq).
LOOKOUT_ARM_INLINE int32x4_t ScaleRound(int32x4_t acc, float32x4_t scale) {
  return vcvtnq_s32_f32(vmulq_f32(vcvtq_f32_s32(acc), scale));
}

/// Output range and zero point, broadcast once per call.
struct Requant {
  int16x8_t zero_point;
  uint8x16_t lo, hi;  // as bytes; int8 outputs compare them as int8
};

inline Requant MakeRequant(int32_t zero_point, int32_t act_min, int32_t act_max) {
  return {vdupq_n_s16(static_cast<int16_t>(zero_point)), vdupq_n_u8(static_cast<uint8_t>(act_min)),
          vdupq_n_u8(static_cast<uint8_t>(act_max))};
}

/// Sixteen results (four vectors, already scaled and rounded) as bytes:
/// saturated to int16, + zero point (saturating), saturated to 8 bits and
/// clamped to [act_min, act_max]. Every saturation is monotone and the range
/// lies inside the 8-bit one, so this is clamp(r + zero_point, lo, hi).
template <bool kSigned>
LOOKOUT_ARM_INLINE uint8x16_t Pack16(int32x4_t r0, int32x4_t r1, int32x4_t r2, int32x4_t r3, const Requant& q) {
  const int16x8_t h0 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(r0), r1), q.zero_point);
  const int16x8_t h1 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(r2), r3), q.zero_point);
  if constexpr (kSigned) {
    const int8x16_t b = vqmovn_high_s16(vqmovn_s16(h0), h1);
    return vreinterpretq_u8_s8(
        vminq_s8(vmaxq_s8(b, vreinterpretq_s8_u8(q.lo)), vreinterpretq_s8_u8(q.hi)));
  } else {
    const uint8x16_t b = vqmovun_high_s16(vqmovun_s16(h0), h1);
    return vminq_u8(vmaxq_u8(b, q.lo), q.hi);
  }
}

/// Stores the first `n` (<= 16) bytes of `v` at `p`.
LOOKOUT_ARM_INLINE void StorePartial(uint8_t* p, uint8x16_t v, size_t n) {
  if (n >= 16) {
    vst1q_u8(p, v);
    return;
  }
  alignas(16) uint8_t bytes[16];
  vst1q_u8(bytes, v);
  std::memcpy(p, bytes, n);
}

}  // namespace lookout::runtime::internal::arm

#endif  // LOOKOUT_RUNTIME_KERNELS_ARM_REQUANT_NEON_H_
