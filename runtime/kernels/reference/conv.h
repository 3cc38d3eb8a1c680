// Reference integer CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.
// Arithmetic matches TFLite's reference kernels (reference_ops::Conv,
// reference_integer_ops::ConvPerChannel, depthwise_conv::DepthwiseConvBasicKernel
// with kAwayFromZero rounding; for FULLY_CONNECTED the reference_ops /
// reference_integer_ops FullyConnected overloads taking the float scales):
// accumulate (filter + filter_offset) × (input + input_offset) in int32, add
// the bias, scale to the output (convolutions: MultiplyByQuantizedMultiplier
// with the output channel's multiplier; FULLY_CONNECTED: in double), add the
// output zero point, clamp to the fused activation range.
// Shapes are NHWC; filters OHWI (conv), 1HWO (depthwise), OI (fully connected).
#ifndef LOOKOUT_RUNTIME_KERNELS_REFERENCE_CONV_H_
#define LOOKOUT_RUNTIME_KERNELS_REFERENCE_CONV_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/reference/quantization.h"

namespace lookout::runtime::reference {

/// NHWC dimensions of a 4-D tensor.
struct Dims4 {
  int32_t n = 1, h = 1, w = 1, c = 1;
};

/// Precomputed parameters of a quantized convolution-like op.
struct ConvParams {
  int32_t stride_w = 1, stride_h = 1;
  int32_t dilation_w = 1, dilation_h = 1;
  int32_t pad_w = 0, pad_h = 0;      ///< Leading padding (TFLite's padding_values).
  int32_t depth_multiplier = 1;      ///< Depthwise only.
  int32_t input_offset = 0;          ///< −input zero_point.
  int32_t filter_offset = 0;         ///< −filter zero_point (0 for int8 weights).
  int32_t output_offset = 0;         ///< +output zero_point.
  int32_t act_min = 0, act_max = 0;  ///< Fused activation clamp, quantized.
  const int32_t* multiplier = nullptr;  ///< Per output channel (convolutions only).
  const int32_t* shift = nullptr;       ///< Per output channel (convolutions only).
};

// Products of two offset 8-bit values fit int32; sums wrap modulo 2^32 as
// they do in TFLite's int32 accumulators, without signed-overflow UB.
inline int32_t Requantize(uint32_t acc, const ConvParams& p, int32_t channel) {
  int32_t value = MultiplyByQuantizedMultiplier(static_cast<int32_t>(acc), p.multiplier[channel],
                                                p.shift[channel]);
  value += p.output_offset;
  return std::min(std::max(value, p.act_min), p.act_max);
}

template <typename T>
void Conv(const ConvParams& p, const Dims4& in, const T* input, const Dims4& filter,
          const T* filter_data, const int32_t* bias, const Dims4& out, T* output) {
  for (int32_t b = 0; b < out.n; ++b) {
    for (int32_t oy = 0; oy < out.h; ++oy) {
      const int32_t in_y0 = oy * p.stride_h - p.pad_h;
      for (int32_t ox = 0; ox < out.w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_w;
        T* out_px = output + ((static_cast<int64_t>(b) * out.h + oy) * out.w + ox) * out.c;
        for (int32_t oc = 0; oc < out.c; ++oc) {
          uint32_t acc = 0;
          for (int32_t fy = 0; fy < filter.h; ++fy) {
            const int32_t iy = in_y0 + p.dilation_h * fy;
            if (iy < 0 || iy >= in.h) continue;
            for (int32_t fx = 0; fx < filter.w; ++fx) {
              const int32_t ix = in_x0 + p.dilation_w * fx;
              if (ix < 0 || ix >= in.w) continue;
              const T* in_px = input + ((static_cast<int64_t>(b) * in.h + iy) * in.w + ix) * in.c;
              const T* f = filter_data + ((static_cast<int64_t>(oc) * filter.h + fy) * filter.w + fx) * filter.c;
              for (int32_t ic = 0; ic < in.c; ++ic) {
                const int32_t product = (static_cast<int32_t>(f[ic]) + p.filter_offset) *
                                        (static_cast<int32_t>(in_px[ic]) + p.input_offset);
                acc += static_cast<uint32_t>(product);
              }
            }
          }
          if (bias != nullptr) acc += static_cast<uint32_t>(bias[oc]);
          out_px[oc] = static_cast<T>(Requantize(acc, p, oc));
        }
      }
    }
  }
}

template <typename T>
void DepthwiseConv(const ConvParams& p, const Dims4& in, const T* input, const Dims4& filter,
                   const T* filter_data, const int32_t* bias, const Dims4& out, T* output) {
  for (int32_t b = 0; b < out.n; ++b) {
    for (int32_t oy = 0; oy < out.h; ++oy) {
      const int32_t in_y0 = oy * p.stride_h - p.pad_h;
      for (int32_t ox = 0; ox < out.w; ++ox) {
        const int32_t in_x0 = ox * p.stride_w - p.pad_w;
        T* out_px = output + ((static_cast<int64_t>(b) * out.h + oy) * out.w + ox) * out.c;
        for (int32_t ic = 0; ic < in.c; ++ic) {
          for (int32_t m = 0; m < p.depth_multiplier; ++m) {
            const int32_t oc = ic * p.depth_multiplier + m;
            uint32_t acc = 0;
            for (int32_t fy = 0; fy < filter.h; ++fy) {
              const int32_t iy = in_y0 + p.dilation_h * fy;
              if (iy < 0 || iy >= in.h) continue;
              for (int32_t fx = 0; fx < filter.w; ++fx) {
                const int32_t ix = in_x0 + p.dilation_w * fx;
                if (ix < 0 || ix >= in.w) continue;
                const int32_t in_val = input[((static_cast<int64_t>(b) * in.h + iy) * in.w + ix) * in.c + ic];
                const int32_t f_val = filter_data[(static_cast<int64_t>(fy) * filter.w + fx) * filter.c + oc];
                acc += static_cast<uint32_t>((f_val + p.filter_offset) * (in_val + p.input_offset));
              }
            }
            if (bias != nullptr) acc += static_cast<uint32_t>(bias[oc]);
            out_px[oc] = static_cast<T>(Requantize(acc, p, oc));
          }
        }
      }
    }
  }
}

/// input [batches, depth], filter [units, depth], output [batches, units].
/// Requantizes in double, ignoring p.multiplier / p.shift: acc × scale[unit]
/// rounded half away from zero, scale[unit] = double(input_scale) ×
/// double(filter_scale) / double(output_scale) (reference_ops::FullyConnected,
/// reference_integer_ops::FullyConnected / FullyConnectedPerChannel, the
/// overloads taking the scales that fully_connected.cc's kReference calls).
template <typename T>
void FullyConnected(const ConvParams& p, const double* scale, int32_t batches, int32_t depth,
                    const T* input, int32_t units, const T* filter_data, const int32_t* bias,
                    T* output) {
  for (int32_t b = 0; b < batches; ++b) {
    const T* in_row = input + static_cast<int64_t>(b) * depth;
    for (int32_t u = 0; u < units; ++u) {
      const T* f_row = filter_data + static_cast<int64_t>(u) * depth;
      uint32_t acc = 0;
      for (int32_t d = 0; d < depth; ++d) {
        acc += static_cast<uint32_t>((static_cast<int32_t>(f_row[d]) + p.filter_offset) *
                                     (static_cast<int32_t>(in_row[d]) + p.input_offset));
      }
      if (bias != nullptr) acc += static_cast<uint32_t>(bias[u]);
      // Offset and clamp in double: equal to TFLite's int32 steps wherever
      // those are defined, and no overflow where they are not.
      const double scaled = std::round(static_cast<double>(static_cast<int32_t>(acc)) * scale[u]);
      const double result = std::clamp(scaled + p.output_offset, static_cast<double>(p.act_min),
                                       static_cast<double>(p.act_max));
      output[static_cast<int64_t>(b) * units + u] = static_cast<T>(static_cast<int32_t>(result));
    }
  }
}

}  // namespace lookout::runtime::reference

#endif  // LOOKOUT_RUNTIME_KERNELS_REFERENCE_CONV_H_
