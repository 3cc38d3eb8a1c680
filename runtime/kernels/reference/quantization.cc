#include "kernels/reference/quantization.h"

#include <cmath>

namespace lookout::runtime::reference {

void QuantizeMultiplier(double real_multiplier, int32_t* multiplier, int* shift) {
  if (real_multiplier == 0.0 || !std::isfinite(real_multiplier)) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  const double q = std::frexp(real_multiplier, shift);
  int64_t q_fixed = static_cast<int64_t>(std::round(q * static_cast<double>(int64_t{1} << 31)));
  if (q_fixed == (int64_t{1} << 31)) {
    q_fixed /= 2;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q_fixed = 0;
  }
  if (*shift > 30) {
    *shift = 30;
    q_fixed = (int64_t{1} << 31) - 1;
  }
  *multiplier = static_cast<int32_t>(q_fixed);
}

void ActivationRangeQuantized(int activation, float output_scale, int32_t output_zero_point,
                              int32_t qmin, int32_t qmax, int32_t* act_min, int32_t* act_max) {
  // float division then round, exactly as TFLite's lambda does. A tiny scale
  // takes the rounded value past int32 (converting it would be undefined), so
  // it is clamped to [qmin, qmax] first: the std::max / std::min below give
  // the same limits either way, as zero_point lies in [qmin, qmax].
  auto quantize = [&](float f) {
    const double q = static_cast<double>(output_zero_point) + std::round(f / output_scale);
    return static_cast<int32_t>(std::clamp(q, static_cast<double>(qmin), static_cast<double>(qmax)));
  };
  *act_min = qmin;
  *act_max = qmax;
  switch (activation) {
    case 1:  // RELU
      *act_min = std::max(qmin, quantize(0.0f));
      break;
    case 2:  // RELU_N1_TO_1
      *act_min = std::max(qmin, quantize(-1.0f));
      *act_max = std::min(qmax, quantize(1.0f));
      break;
    case 3:  // RELU6
      *act_min = std::max(qmin, quantize(0.0f));
      *act_max = std::min(qmax, quantize(6.0f));
      break;
    default:
      break;
  }
}

}  // namespace lookout::runtime::reference
