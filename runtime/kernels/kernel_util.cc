#include "kernels/kernel_util.h"

#include <cmath>

#include "kernels/reference/quantization.h"

namespace lookout::runtime::internal {
namespace {
// Smallest requantization multiplier accepted: TFLite's QuantizeMultiplier
// flushes those below 2^-32 to zero, and XNNPACK (which forms the product in
// float) asserts that its scale is at least 2^-32; 2^-31 leaves room for the
// float rounding; real models sit orders of magnitude above it.
constexpr double kMinMultiplier = 0x1p-31;
}  // namespace

int32_t ComputeOutSize(int padding, int32_t in_size, int32_t filter_size, int32_t stride,
                       int32_t dilation) {
  const int64_t effective = (static_cast<int64_t>(filter_size) - 1) * dilation + 1;
  int64_t out = 0;
  if (padding == 0) {
    out = (static_cast<int64_t>(in_size) + stride - 1) / stride;
  } else {
    out = (static_cast<int64_t>(in_size) + stride - effective) / stride;
  }
  return out > 0 && out <= INT32_MAX ? static_cast<int32_t>(out) : 0;
}

int32_t ComputePadding(int32_t stride, int32_t dilation, int32_t in_size, int32_t filter_size,
                       int32_t out_size) {
  const int64_t effective = (static_cast<int64_t>(filter_size) - 1) * dilation + 1;
  const int64_t padding = ((static_cast<int64_t>(out_size) - 1) * stride + effective - in_size) / 2;
  return padding > 0 ? static_cast<int32_t>(padding) : 0;
}

Status CheckWindow(const KernelContext& ctx, int padding, int32_t stride_w, int32_t stride_h,
                   int32_t dilation_w, int32_t dilation_h) {
  if (padding != 0 && padding != 1) return ctx.Error("padding %d is neither SAME nor VALID", padding);
  if (stride_w <= 0 || stride_h <= 0) return ctx.Error("stride %dx%d must be positive", stride_w, stride_h);
  if (dilation_w <= 0 || dilation_h <= 0) {
    return ctx.Error("dilation %dx%d must be positive", dilation_w, dilation_h);
  }
  if (stride_w > 1024 || stride_h > 1024 || dilation_w > 1024 || dilation_h > 1024) {
    return ctx.Error("stride or dilation larger than 1024");
  }
  return {};
}

Status CheckWindowFits(const KernelContext& ctx, int padding, int32_t in_h, int32_t in_w, int32_t filter_h,
                       int32_t filter_w, int32_t dilation_h, int32_t dilation_w) {
  if (padding != 1) return {};
  const int64_t window_h = (static_cast<int64_t>(filter_h) - 1) * dilation_h + 1;
  const int64_t window_w = (static_cast<int64_t>(filter_w) - 1) * dilation_w + 1;
  if ((in_h > 0 && window_h > in_h) || (in_w > 0 && window_w > in_w)) {
    return ctx.Error("VALID window %lldx%lld (filter %dx%d, dilation %dx%d; height x width) is larger than the %dx%d input",
                     static_cast<long long>(window_h), static_cast<long long>(window_w), filter_h, filter_w,
                     dilation_h, dilation_w, in_h, in_w);
  }
  return {};
}

Status CheckActivation(const KernelContext& ctx, int activation) {
  if (activation < 0 || activation > 3) {
    return ctx.Error("fused_activation_function %d is not supported (NONE, RELU, RELU_N1_TO_1, RELU6)",
                     activation);
  }
  return {};
}

Status CheckBias(const KernelContext& ctx, const Tensor* bias, int32_t channels) {
  if (bias == nullptr) return {};
  if (bias->type != DataType::kInt32) {
    return ctx.Error("bias tensor '%s' has type %s, expected INT32", bias->name.c_str(),
                     DataTypeName(bias->type).c_str());
  }
  if (!bias->is_constant) return ctx.Error("bias tensor '%s' is not constant", bias->name.c_str());
  if (bias->elements != static_cast<size_t>(channels)) {
    return ctx.Error("bias tensor '%s' has %zu elements, expected %d (output channels)",
                     bias->name.c_str(), bias->elements, channels);
  }
  return {};
}

Status ComputeChannelMultipliers(const KernelContext& ctx, const Tensor& input,
                                 const Tensor& filter, const Tensor& output, int32_t channels,
                                 ScaleProduct product, std::vector<int32_t>* multipliers,
                                 std::vector<int32_t>* shifts) {
  const auto& scales = filter.quantization.scale;
  if (scales.size() != 1 && scales.size() != static_cast<size_t>(channels)) {
    return ctx.Error("filter '%s' has %zu scales, expected 1 or %d (output channels)",
                     filter.name.c_str(), scales.size(), channels);
  }
  multipliers->resize(static_cast<size_t>(channels));
  shifts->resize(static_cast<size_t>(channels));
  for (int32_t c = 0; c < channels; ++c) {
    const float filter_scale = scales.size() == 1 ? scales[0] : scales[c];
    const double input_product =
        product == ScaleProduct::kFloat
            ? static_cast<double>(input.scale * filter_scale)
            : static_cast<double>(input.scale) * static_cast<double>(filter_scale);
    const double real = input_product / static_cast<double>(output.scale);
    if (!std::isfinite(real) || real < kMinMultiplier || real >= 65536.0) {
      return ctx.Error("output channel %d: requantization multiplier %g out of range [2^-31, 65536)", c,
                       real);
    }
    int shift = 0;
    reference::QuantizeMultiplier(real, &(*multipliers)[c], &shift);
    (*shifts)[c] = shift;
  }
  return {};
}

Status ComputeChannelScales(const KernelContext& ctx, const Tensor& input, const Tensor& filter,
                            const Tensor& output, int32_t channels, std::vector<double>* scales) {
  const auto& filter_scales = filter.quantization.scale;
  if (filter_scales.size() != 1 && filter_scales.size() != static_cast<size_t>(channels)) {
    return ctx.Error("filter '%s' has %zu scales, expected 1 or %d (output channels)",
                     filter.name.c_str(), filter_scales.size(), channels);
  }
  scales->resize(static_cast<size_t>(channels));
  for (int32_t c = 0; c < channels; ++c) {
    const float filter_scale = filter_scales.size() == 1 ? filter_scales[0] : filter_scales[c];
    const double real = static_cast<double>(input.scale) * static_cast<double>(filter_scale) /
                        static_cast<double>(output.scale);
    if (!std::isfinite(real) || real < kMinMultiplier) {
      return ctx.Error("output channel %d: requantization scale %g is not finite and at least 2^-31", c,
                       real);
    }
    (*scales)[c] = real;
  }
  return {};
}

}  // namespace lookout::runtime::internal
