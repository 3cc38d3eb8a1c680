// Reference integer ADD, MUL, HARD_SWISH and QUANTIZE (requantize), matching
// TFLite's reference kernels: reference_ops::AddElementwise (left_shift 20,
// three SmallerThanOne multipliers), MulElementwise, HardSwish<T> (16-bit
// fixed point), Requantize.
#ifndef LOOKOUT_RUNTIME_KERNELS_REFERENCE_ELEMENTWISE_H_
#define LOOKOUT_RUNTIME_KERNELS_REFERENCE_ELEMENTWISE_H_

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/reference/quantization.h"

namespace lookout::runtime::reference {

/// Precomputed parameters of a quantized ADD (TFLite ArithmeticParams).
struct AddParams {
  int32_t input1_offset = 0, input2_offset = 0, output_offset = 0;
  int32_t left_shift = 20;
  int32_t input1_multiplier = 0, input2_multiplier = 0, output_multiplier = 0;
  int input1_shift = 0, input2_shift = 0, output_shift = 0;  ///< <= 0.
  int32_t act_min = 0, act_max = 0;
};

inline int32_t AddOne(const AddParams& p, int32_t a, int32_t b) {
  const int32_t x1 = ShiftLeftWrapping(p.input1_offset + a, p.left_shift);
  const int32_t x2 = ShiftLeftWrapping(p.input2_offset + b, p.left_shift);
  const int32_t s1 = MultiplyByQuantizedMultiplier(x1, p.input1_multiplier, p.input1_shift);
  const int32_t s2 = MultiplyByQuantizedMultiplier(x2, p.input2_multiplier, p.input2_shift);
  const int32_t sum = static_cast<int32_t>(static_cast<uint32_t>(s1) + static_cast<uint32_t>(s2));
  const int32_t raw = MultiplyByQuantizedMultiplier(sum, p.output_multiplier, p.output_shift) +
                      p.output_offset;
  return std::min(p.act_max, std::max(p.act_min, raw));
}

/// Precomputed parameters of a quantized MUL.
struct MulParams {
  int32_t input1_offset = 0, input2_offset = 0, output_offset = 0;
  int32_t output_multiplier = 0;
  int output_shift = 0;
  int32_t act_min = 0, act_max = 0;
};

inline int32_t MulOne(const MulParams& p, int32_t a, int32_t b) {
  const int32_t product = (p.input1_offset + a) * (p.input2_offset + b);
  const int32_t raw = p.output_offset +
                      MultiplyByQuantizedMultiplier(product, p.output_multiplier, p.output_shift);
  return std::min(p.act_max, std::max(p.act_min, raw));
}

/// Precomputed parameters of a quantized HARD_SWISH (TFLite HardSwishParams).
struct HardSwishParams {
  int16_t input_zero_point = 0;
  int16_t output_zero_point = 0;
  int16_t reluish_multiplier_fixedpoint_int16 = 0;
  int reluish_multiplier_exponent = 0;
  int16_t output_multiplier_fixedpoint_int16 = 0;
  int output_multiplier_exponent = 0;  ///< <= 0.
};

/// TFLite DownScaleInt32ToInt16Multiplier.
inline int16_t DownScaleInt32ToInt16Multiplier(int32_t multiplier) {
  constexpr int32_t kRoundingOffset = 1 << 15;
  if (multiplier >= std::numeric_limits<int32_t>::max() - kRoundingOffset) {
    return std::numeric_limits<int16_t>::max();
  }
  return static_cast<int16_t>((multiplier + kRoundingOffset) >> 16);
}

inline int16_t SaturatingRoundingDoublingHighMul16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  const int32_t ab = static_cast<int32_t>(a) * static_cast<int32_t>(b);
  const int16_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<int16_t>((ab + nudge) / (1 << 15));
}

inline int16_t SaturatingDoublingHighMul16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  const int32_t ab = static_cast<int32_t>(a) * static_cast<int32_t>(b);
  return static_cast<int16_t>(ab / (1 << 15));
}

inline int16_t SaturatingLeftShift16(int16_t value, int amount) {
  const int32_t result = static_cast<int32_t>(value) * (1 << amount);
  return static_cast<int16_t>(std::min<int32_t>(
      std::numeric_limits<int16_t>::max(), std::max<int32_t>(std::numeric_limits<int16_t>::min(), result)));
}

inline int16_t RoundingDivideByPOT16(int16_t x, int exponent) {
  const int16_t mask = static_cast<int16_t>((1 << exponent) - 1);
  const int16_t remainder = static_cast<int16_t>(x & mask);
  const int16_t threshold = static_cast<int16_t>((mask >> 1) + (x < 0 ? 1 : 0));
  return static_cast<int16_t>((x >> exponent) + (remainder > threshold ? 1 : 0));
}

template <typename T>
T HardSwishOne(const HardSwishParams& p, T in) {
  const int16_t input_value = static_cast<int16_t>(in - p.input_zero_point);
  const int16_t on_hires = static_cast<int16_t>(input_value * (1 << 7));
  const int16_t on_preshift_output =
      SaturatingRoundingDoublingHighMul16(on_hires, p.output_multiplier_fixedpoint_int16);
  int16_t reluish = on_hires;
  if (p.reluish_multiplier_exponent > 0) {
    reluish = SaturatingLeftShift16(reluish, p.reluish_multiplier_exponent - 1);
  }
  reluish = SaturatingRoundingDoublingHighMul16(reluish, p.reluish_multiplier_fixedpoint_int16);
  if (p.reluish_multiplier_exponent > 0) reluish = SaturatingLeftShift16(reluish, 1);
  if (p.reluish_multiplier_exponent < 0) {
    reluish = RoundingDivideByPOT16(reluish, -p.reluish_multiplier_exponent);
  }
  reluish = static_cast<int16_t>((reluish + (1 << 15)) >> 1);
  const int16_t preshift_output = SaturatingDoublingHighMul16(reluish, on_preshift_output);
  int16_t out = RoundingDivideByPOT16(preshift_output, -p.output_multiplier_exponent);
  out = static_cast<int16_t>(out + p.output_zero_point);
  out = std::min<int16_t>(out, std::numeric_limits<T>::max());
  out = std::max<int16_t>(out, std::numeric_limits<T>::min());
  return static_cast<T>(out);
}

/// out = clamp(MultiplyByQuantizedMultiplier(in − in_zp, m, shift) + out_zp).
template <typename In, typename Out>
void Requantize(const In* input, size_t size, int32_t multiplier, int shift, int32_t input_zero_point,
                int32_t output_zero_point, Out* output) {
  constexpr int32_t kMin = std::numeric_limits<Out>::min();
  constexpr int32_t kMax = std::numeric_limits<Out>::max();
  for (size_t i = 0; i < size; ++i) {
    const int32_t v = MultiplyByQuantizedMultiplier(static_cast<int32_t>(input[i]) - input_zero_point,
                                                    multiplier, shift) + output_zero_point;
    output[i] = static_cast<Out>(std::max(std::min(v, kMax), kMin));
  }
}

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_ELEMENTWISE_H_
