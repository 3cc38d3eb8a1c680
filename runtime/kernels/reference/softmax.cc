#include "kernels/reference/softmax.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "kernels/reference/quantization.h"

namespace lookout::runtime::reference {
namespace {

constexpr int kScaledDiffIntegerBits = 5;
constexpr int kAccumulationIntegerBits = 12;

// gemmlowp fixed-point helpers on raw int32 values. A FixedPoint<int32, I>
// holds real = raw / 2^(31 − I); the product of FixedPoint<I1> and <I2> is a
// FixedPoint<I1 + I2> whose raw is SaturatingRoundingDoublingHighMul.
inline int32_t Mul(int32_t a, int32_t b) { return SaturatingRoundingDoublingHighMul(a, b); }

inline int32_t Add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t Sub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}

// SaturatingRoundingMultiplyByPOT<exponent>.
inline int32_t MultiplyByPOT(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return RoundingDivideByPOT(x, -exponent);
  const int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return std::numeric_limits<int32_t>::max();
  if (x < -threshold) return std::numeric_limits<int32_t>::min();
  return ShiftLeftWrapping(x, exponent);
}

// exp(a) for a in [-1/4, 0), a and result in Q0.31.
int32_t ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(int32_t a) {
  const int32_t constant_term = 1895147668;      // exp(-1/8)
  const int32_t constant_1_over_3 = 715827883;   // 1/3
  const int32_t x = Add(a, 1 << 28);             // a + 1/8
  const int32_t x2 = Mul(x, x);
  const int32_t x3 = Mul(x2, x);
  const int32_t x4 = Mul(x2, x2);
  const int32_t x4_over_4 = MultiplyByPOT(x4, -2);
  const int32_t poly = MultiplyByPOT(Add(Mul(Add(x4_over_4, x3), constant_1_over_3), x2), -1);
  return Add(constant_term, Mul(constant_term, Add(x, poly)));
}

// exp(a) for a <= 0 in Q5.26, result in Q0.31.
int32_t ExpOnNegativeValues(int32_t a) {
  constexpr int kIntegerBits = kScaledDiffIntegerBits;
  constexpr int kFractionalBits = 31 - kIntegerBits;
  const int32_t one_quarter = 1 << (kFractionalBits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = Sub(a & mask, one_quarter);
  int32_t result = ExpOnIntervalBetweenNegativeOneQuarterAnd0Excl(
      MultiplyByPOT(a_mod_quarter_minus_one_quarter, kIntegerBits));  // Rescale to Q0.31
  const int32_t remainder = Sub(a_mod_quarter_minus_one_quarter, a);
  // exp(-2^k) for k = -2..4 in Q0.31, applied for each set bit of the remainder.
  static constexpr int32_t kMultipliers[] = {1672461947, 1302514674, 790015084, 290630308,
                                             39332535,   720401,     242};
  for (int i = 0; i < 7; ++i) {
    const int exponent = i - 2;
    const int shift_amount = kFractionalBits + exponent;
    if (remainder & (int32_t{1} << shift_amount)) result = Mul(result, kMultipliers[i]);
  }
  if (a == 0) result = std::numeric_limits<int32_t>::max();  // One() in Q0.31
  return result;
}

// 1 / (1 + x) for x in [0, 1), x and result in Q0.31.
int32_t OneOverOnePlusX(int32_t a) {
  const int64_t sum = static_cast<int64_t>(a) + std::numeric_limits<int32_t>::max();
  const int32_t half_denominator = static_cast<int32_t>((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810;       // Q2.29
  const int32_t constant_neg_32_over_17 = -1010580540;  // Q2.29
  int32_t x = Add(constant_48_over_17, Mul(half_denominator, constant_neg_32_over_17));
  const int32_t one_q2 = 1 << 29;
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = Mul(half_denominator, x);         // Q2.29
    const int32_t one_minus = Sub(one_q2, half_denominator_times_x);            // Q2.29
    x = Add(x, MultiplyByPOT(Mul(x, one_minus), 2));                            // Q4 -> Q2
  }
  // ExactMulByPot<-1> makes x a Q1.30 without changing raw; Rescale<0> shifts by 1.
  return MultiplyByPOT(x, 1);
}

// TFLite GetReciprocal: 1 / x for x in Q12.19, result Q0.31 with a shift.
int32_t GetReciprocal(int32_t x, int x_integer_digits, int* num_bits_over_unit) {
  const int headroom_plus_one = std::countl_zero(static_cast<uint32_t>(x));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const int32_t shifted_sum_minus_one = static_cast<int32_t>(
      (static_cast<uint32_t>(x) << headroom_plus_one) - (static_cast<uint32_t>(1) << 31));
  return OneOverOnePlusX(shifted_sum_minus_one);
}

template <typename T>
void SoftmaxImpl(const SoftmaxParams& p, int32_t outer, int32_t depth, const T* input, T* output) {
  constexpr int32_t kOutMin = std::numeric_limits<T>::min();
  constexpr int32_t kOutMax = std::numeric_limits<T>::max();
  for (int32_t i = 0; i < outer; ++i) {
    const T* in = input + static_cast<int64_t>(i) * depth;
    T* out = output + static_cast<int64_t>(i) * depth;
    T max_in_row = std::numeric_limits<T>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = std::max(max_in_row, in[c]);

    int32_t sum_of_exps = 0;  // Q12.19
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = static_cast<int32_t>(in[c]) - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t rescaled =
            Mul(ShiftLeftWrapping(diff, p.input_left_shift), p.input_multiplier);
        sum_of_exps = Add(sum_of_exps, MultiplyByPOT(ExpOnNegativeValues(rescaled),
                                                     -kAccumulationIntegerBits));
      }
    }
    int num_bits_over_unit = 0;
    const int32_t shifted_scale = GetReciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    const int out_shift = num_bits_over_unit + 31 - static_cast<int>(sizeof(T) * 8);
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = static_cast<int32_t>(in[c]) - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t rescaled =
            Mul(ShiftLeftWrapping(diff, p.input_left_shift), p.input_multiplier);
        const int32_t exp_in_0 = ExpOnNegativeValues(rescaled);
        const int32_t unsat = RoundingDivideByPOT(Mul(shifted_scale, exp_in_0), out_shift);
        const int32_t shifted = unsat + kOutMin;
        out[c] = static_cast<T>(std::max(std::min(shifted, kOutMax), kOutMin));
      } else {
        out[c] = static_cast<T>(kOutMin);
      }
    }
  }
}

template <typename T>
void SoftmaxFromTables(const SoftmaxTables& t, int32_t outer, int32_t depth, const T* input, T* output) {
  constexpr int32_t kOutMin = std::numeric_limits<T>::min();
  constexpr int32_t kOutMax = std::numeric_limits<T>::max();
  for (int32_t i = 0; i < outer; ++i) {
    const T* in = input + static_cast<int64_t>(i) * depth;
    T* out = output + static_cast<int64_t>(i) * depth;
    T max_in_row = std::numeric_limits<T>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = std::max(max_in_row, in[c]);
    // Wrapping addition is associative: the order of the terms is free.
    uint32_t sum = 0;
    for (int32_t c = 0; c < depth; ++c) {
      sum += static_cast<uint32_t>(t.sum_term[static_cast<int32_t>(max_in_row) - static_cast<int32_t>(in[c])]);
    }
    int num_bits_over_unit = 0;
    const int32_t shifted_scale =
        GetReciprocal(static_cast<int32_t>(sum), kAccumulationIntegerBits, &num_bits_over_unit);
    const int out_shift = num_bits_over_unit + 31 - static_cast<int>(sizeof(T) * 8);
    if (depth < 256) {
      for (int32_t c = 0; c < depth; ++c) {
        const int32_t d = static_cast<int32_t>(max_in_row) - static_cast<int32_t>(in[c]);
        const int32_t unsat = RoundingDivideByPOT(Mul(shifted_scale, t.exp[d]), out_shift);
        out[c] = t.included[d] ? static_cast<T>(std::max(std::min(unsat + kOutMin, kOutMax), kOutMin))
                               : static_cast<T>(kOutMin);
      }
      continue;
    }
    T row_table[256];
    for (int d = 0; d < 256; ++d) {
      if (!t.included[d]) {
        row_table[d] = static_cast<T>(kOutMin);
        continue;
      }
      const int32_t unsat = RoundingDivideByPOT(Mul(shifted_scale, t.exp[d]), out_shift);
      row_table[d] = static_cast<T>(std::max(std::min(unsat + kOutMin, kOutMax), kOutMin));
    }
    for (int32_t c = 0; c < depth; ++c) {
      out[c] = row_table[static_cast<int32_t>(max_in_row) - static_cast<int32_t>(in[c])];
    }
  }
}

}  // namespace

void BuildSoftmaxTables(const SoftmaxParams& p, SoftmaxTables* t) {
  for (int d = 0; d < 256; ++d) {
    const int32_t diff = -d;
    t->included[d] = diff >= p.diff_min;
    t->exp[d] = 0;
    t->sum_term[d] = 0;
    if (!t->included[d]) continue;
    const int32_t rescaled = Mul(ShiftLeftWrapping(diff, p.input_left_shift), p.input_multiplier);
    t->exp[d] = ExpOnNegativeValues(rescaled);
    t->sum_term[d] = MultiplyByPOT(t->exp[d], -kAccumulationIntegerBits);
  }
}

void SoftmaxUInt8(const SoftmaxTables& t, int32_t outer, int32_t depth, const uint8_t* in, uint8_t* out) {
  SoftmaxFromTables<uint8_t>(t, outer, depth, in, out);
}

void SoftmaxInt8(const SoftmaxTables& t, int32_t outer, int32_t depth, const int8_t* in, int8_t* out) {
  SoftmaxFromTables<int8_t>(t, outer, depth, in, out);
}

bool PrepareSoftmax(double beta, double input_scale, SoftmaxParams* params) {
  const double real = std::min<double>(
      beta * input_scale * static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)),
      static_cast<double>((int64_t{1} << 31) - 1));
  if (!(real > 1.0) || !std::isfinite(real)) return false;
  int shift = 0;
  QuantizeMultiplier(real, &params->input_multiplier, &shift);
  if (shift < 0 || shift > 30) return false;
  params->input_left_shift = shift;
  const double max_input_rescaled =
      1.0 * ((1 << kScaledDiffIntegerBits) - 1) *
      static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
      static_cast<double>(int64_t{1} << shift);
  params->diff_min = -static_cast<int32_t>(std::floor(max_input_rescaled));
  return true;
}

void SoftmaxUInt8(const SoftmaxParams& p, int32_t outer, int32_t depth, const uint8_t* in, uint8_t* out) {
  SoftmaxImpl<uint8_t>(p, outer, depth, in, out);
}

void SoftmaxInt8(const SoftmaxParams& p, int32_t outer, int32_t depth, const int8_t* in, int8_t* out) {
  SoftmaxImpl<int8_t>(p, outer, depth, in, out);
}

}  // namespace lookout::runtime::reference
