// Reference 8-bit SOFTMAX, bit for bit as TFLite's reference_ops::Softmax on
// quantized data: input differences from the row maximum are rescaled by
// beta × input_scale into Q5.26, exponentiated with gemmlowp's fixed-point
// exp_on_negative_values, summed in Q12.19, and normalised by the Newton-
// Raphson reciprocal of gemmlowp's one_over_one_plus_x_for_x_in_0_1. Output
// scale is 1/256 with zero point at the type's minimum.
#ifndef LOOKOUT_RUNTIME_KERNELS_REFERENCE_SOFTMAX_H_
#define LOOKOUT_RUNTIME_KERNELS_REFERENCE_SOFTMAX_H_

#include <cstdint>

namespace lookout::runtime::reference {

struct SoftmaxParams {
  int32_t input_multiplier = 0;
  int32_t input_left_shift = 0;
  int32_t diff_min = 0;
};

/// TFLite PreprocessSoftmaxScaling + CalculateInputRadius for 5 integer bits.
/// Returns false when beta × input_scale cannot be represented.
bool PrepareSoftmax(double beta, double input_scale, SoftmaxParams* params);

/// Softmax over the innermost dimension of `outer` rows of `depth` values.
void SoftmaxUInt8(const SoftmaxParams& p, int32_t outer, int32_t depth, const uint8_t* in, uint8_t* out);
void SoftmaxInt8(const SoftmaxParams& p, int32_t outer, int32_t depth, const int8_t* in, int8_t* out);

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_SOFTMAX_H_
