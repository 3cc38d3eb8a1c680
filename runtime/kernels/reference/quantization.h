// Integer quantization arithmetic, bit for bit as TensorFlow Lite's reference
// kernels compute it (tensorflow/lite/kernels/internal/common.h,
// quantization_util.cc, and gemmlowp's fixedpoint.h which they use).
// Pure functions: no state, no allocation; usable and testable alone.
//
// Quantization spec: real = scale × (q − zero_point). A real multiplier M is
// held as a Q0.31 significand and a power-of-two exponent:
// M ≈ multiplier × 2^(shift − 31).
#ifndef LOOKOUT_RUNTIME_KERNELS_REFERENCE_QUANTIZATION_H_
#define LOOKOUT_RUNTIME_KERNELS_REFERENCE_QUANTIZATION_H_

#include <algorithm>
#include <cstdint>
#include <limits>

namespace lookout::runtime::reference {

/// Splits `real_multiplier` (>= 0) into a Q0.31 `multiplier` in [2^30, 2^31)
/// and an exponent `shift` (TFLite's QuantizeMultiplier: frexp, round half
/// away from zero, shifts below -31 flush to zero, shifts above 30 saturate).
void QuantizeMultiplier(double real_multiplier, int32_t* multiplier, int* shift);

/// Round-to-nearest of (a × b) / 2^31, saturating the single overflow case
/// (gemmlowp SaturatingRoundingDoublingHighMul, int32).
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int32_t>::max();
  }
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
}

/// x / 2^exponent rounded to nearest, ties away from zero (gemmlowp
/// RoundingDivideByPOT). 0 <= exponent <= 31.
inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/// x × 2^n with two's-complement wrap-around, as TFLite's `x * (1 << n)`
/// behaves on real hardware, without C++ signed-overflow UB.
inline int32_t ShiftLeftWrapping(int32_t x, int n) {
  return static_cast<int32_t>(static_cast<uint32_t>(x) << n);
}

/// x × M for M = multiplier × 2^(shift − 31) (TFLite
/// MultiplyByQuantizedMultiplier, double-rounding variant).
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return RoundingDivideByPOT(
      SaturatingRoundingDoublingHighMul(ShiftLeftWrapping(x, left_shift), multiplier),
      right_shift);
}

/// The clamp range [min, max] of a fused activation on a quantized output
/// (TFLite CalculateActivationRangeQuantized). `activation`: 0 NONE, 1 RELU,
/// 2 RELU_N1_TO_1, 3 RELU6 (schema ActivationFunctionType).
void ActivationRangeQuantized(int activation, float output_scale, int32_t output_zero_point,
                              int32_t qmin, int32_t qmax, int32_t* act_min, int32_t* act_max);

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_QUANTIZATION_H_
