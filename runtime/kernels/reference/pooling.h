// Reference 8-bit AVERAGE_POOL_2D, MAX_POOL_2D and MEAN over height and
// width, matching TFLite's reference_ops::AveragePool / MaxPool (no
// requantization: input and output share scale and zero point; average
// rounds half away from zero) and the 8-bit MEAN of reduce.cc's reference
// kernel (reference_ops::QuantizedMeanOrSum, for int8 and uint8 alike).
#ifndef LOOKOUT_RUNTIME_KERNELS_REFERENCE_POOLING_H_
#define LOOKOUT_RUNTIME_KERNELS_REFERENCE_POOLING_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

#include "kernels/reference/conv.h"

namespace lookout::runtime::reference {

struct PoolParams {
  int32_t stride_w = 1, stride_h = 1;
  int32_t filter_w = 1, filter_h = 1;
  int32_t pad_w = 0, pad_h = 0;
  int32_t act_min = 0, act_max = 0;
};

template <typename T, bool kAverage>
void Pool(const PoolParams& p, const Dims4& in, const T* input, const Dims4& out, T* output) {
  for (int32_t b = 0; b < out.n; ++b) {
    for (int32_t oy = 0; oy < out.h; ++oy) {
      const int32_t in_y0 = oy * p.stride_h - p.pad_h;
      const int32_t fy_start = std::max(0, -in_y0);
      const int32_t fy_end = std::min(p.filter_h, in.h - in_y0);
      for (int32_t ox = 0; ox < out.w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_w;
        const int32_t fx_start = std::max(0, -in_x0);
        const int32_t fx_end = std::min(p.filter_w, in.w - in_x0);
        T* out_px = output + ((static_cast<int64_t>(b) * out.h + oy) * out.w + ox) * out.c;
        for (int32_t c = 0; c < out.c; ++c) {
          int32_t acc = kAverage ? 0 : std::numeric_limits<T>::lowest();
          int32_t count = 0;
          for (int32_t fy = fy_start; fy < fy_end; ++fy) {
            for (int32_t fx = fx_start; fx < fx_end; ++fx) {
              const int32_t v =
                  input[((static_cast<int64_t>(b) * in.h + in_y0 + fy) * in.w + in_x0 + fx) * in.c + c];
              if (kAverage) {
                acc += v;
              } else {
                acc = std::max(acc, v);
              }
              ++count;
            }
          }
          if (kAverage) {
            if (count == 0) count = 1;  // window entirely in padding: TFLite refuses; output 0-sum
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          acc = std::min(std::max(acc, p.act_min), p.act_max);
          out_px[c] = static_cast<T>(acc);
        }
      }
    }
  }
}

/// Folds 1/count into a MEAN's in_scale/out_scale multiplier, in integers
/// (reference_ops::QuantizedMeanOrSum): multiplier × 2^s / count truncated,
/// shift − s, s = floor(log2(count)) capped at 32 and at 31 + shift.
inline void FoldMeanCount(int64_t count, int32_t* multiplier, int* shift) {
  int s = static_cast<int>(std::bit_width(static_cast<uint64_t>(count))) - 1;
  s = std::min(s, 32);
  s = std::min(s, 31 + *shift);
  *multiplier = static_cast<int32_t>((static_cast<int64_t>(*multiplier) << s) / count);
  *shift -= s;
}

/// 8-bit MEAN over H and W of NHWC input into [N,1,1,C]
/// (reference_ops::QuantizedMeanOrSum with compute_sum false): requantizes
/// sum(in) − in_zp × count with the multiplier FoldMeanCount gave.
template <typename T>
void MeanHW(const Dims4& in, const T* input, int32_t input_zero_point, int32_t multiplier,
            int shift, int32_t output_zero_point, T* output) {
  const int64_t count = static_cast<int64_t>(in.h) * in.w;
  for (int32_t b = 0; b < in.n; ++b) {
    for (int32_t c = 0; c < in.c; ++c) {
      uint32_t sum = 0;  // TFLite's int32 WrappingAdd.
      for (int64_t i = 0; i < count; ++i) {
        sum += static_cast<uint32_t>(static_cast<int32_t>(input[(b * count + i) * in.c + c]));
      }
      const int32_t shifted_sum = static_cast<int32_t>(
          sum - static_cast<uint32_t>(static_cast<int64_t>(input_zero_point) * count));
      const int32_t acc =
          MultiplyByQuantizedMultiplier(shifted_sum, multiplier, shift) + output_zero_point;
      const int32_t clamped = std::clamp<int32_t>(acc, std::numeric_limits<T>::min(),
                                                  std::numeric_limits<T>::max());
      output[static_cast<int64_t>(b) * in.c + c] = static_cast<T>(clamped);
    }
  }
}

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_POOLING_H_
