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

/// Per input difference d = max − x (0..255): the exp term and its Q12.19
/// share of the sum, exactly as SoftmaxImpl computes them (they depend on d
/// alone), and whether d is within diff_min at all.
struct SoftmaxTables {
  int32_t exp[256];
  int32_t sum_term[256];
  bool included[256];
};
void BuildSoftmaxTables(const SoftmaxParams& p, SoftmaxTables* tables);

/// SoftmaxUInt8 / SoftmaxInt8 from the tables: same bits, table lookups in
/// place of the per-element fixed-point exp, and a 256-entry output table
/// per row when rows are long.
void SoftmaxUInt8(const SoftmaxTables& t, int32_t outer, int32_t depth, const uint8_t* in, uint8_t* out);
void SoftmaxInt8(const SoftmaxTables& t, int32_t outer, int32_t depth, const int8_t* in, int8_t* out);

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_SOFTMAX_H_
