// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on uint8 (per-tensor) and
// int8 (per-tensor or per-channel) tensors.
#include <memory>
#include <vector>

#include "kernels/kernel_util.h"
#include "kernels/reference/conv.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

// Checks shared by the three ops: 8-bit quantized input/filter/output of one
// type, a constant filter whose quantization fits `quantized_dimension`.
Status CheckQuantizedOperands(const KernelContext& ctx, const Tensor& input, const Tensor& filter,
                              const Tensor& output, int32_t expected_qdim, int32_t channels) {
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(input, "input", DataType::kUInt8, DataType::kInt8));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(input, "input", filter, "filter"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(input, "input", output, "output"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(input, "input"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(output, "output"));
  if (!filter.is_constant) return ctx.Error("filter '%s' is not constant", filter.name.c_str());
  if (!filter.quantization.quantized()) {
    return ctx.Error("filter '%s' has no quantization parameters", filter.name.c_str());
  }
  const size_t scales = filter.quantization.scale.size();
  if (scales > 1) {
    if (input.type != DataType::kInt8) {
      return ctx.Error("filter '%s': per-channel quantization needs INT8, got %s",
                       filter.name.c_str(), DataTypeName(filter.type).c_str());
    }
    if (filter.quantization.quantized_dimension != expected_qdim) {
      return ctx.Error("filter '%s' quantized_dimension %d, expected %d", filter.name.c_str(),
                       filter.quantization.quantized_dimension, expected_qdim);
    }
    if (scales != static_cast<size_t>(channels)) {
      return ctx.Error("filter '%s' has %zu scales, expected %d (output channels)",
                       filter.name.c_str(), scales, channels);
    }
  }
  if (filter.type == DataType::kInt8) {
    for (int64_t zp : filter.quantization.zero_point) {
      if (zp != 0) {
        return ctx.Error("filter '%s' zero_point %lld, expected 0 for INT8 weights",
                         filter.name.c_str(), static_cast<long long>(zp));
      }
    }
  }
  return {};
}

// uint8 CONV_2D / DEPTHWISE_CONV_2D run on TFLite's per-tensor multiplier;
// int8 ones on the per-channel multipliers, even for a per-tensor filter.
ScaleProduct ConvScaleProduct(const Tensor& input) {
  return input.type == DataType::kUInt8 ? ScaleProduct::kFloat : ScaleProduct::kDouble;
}

// State shared by the three ops once prepared.
struct QuantizedConvState {
  reference::ConvParams params;
  std::vector<int32_t> multipliers;
  std::vector<int32_t> shifts;
  std::vector<int32_t> bias;
  Tensor* input = nullptr;
  Tensor* filter = nullptr;
  Tensor* output = nullptr;

  // Bias, offsets and activation clamp: all but the requantization scale.
  Status PrepareCommon(const KernelContext& ctx, const Tensor* bias_tensor, int32_t channels,
                       int activation) {
    LOOKOUT_RETURN_IF_ERROR(CheckBias(ctx, bias_tensor, channels));
    LOOKOUT_RETURN_IF_ERROR(CheckActivation(ctx, activation));
    if (bias_tensor != nullptr) bias = CopyInt32(*bias_tensor);
    params.input_offset = -input->zero_point;
    params.filter_offset = filter->type == DataType::kUInt8 ? -filter->zero_point : 0;
    params.output_offset = output->zero_point;
    reference::ActivationRangeQuantized(activation, output->scale, output->zero_point,
                                        QMin(output->type), QMax(output->type), &params.act_min,
                                        &params.act_max);
    return {};
  }
  // PrepareCommon plus the per-channel fixed-point multipliers (CONV_2D,
  // DEPTHWISE_CONV_2D).
  Status PrepareQuantization(const KernelContext& ctx, const Tensor* bias_tensor, int32_t channels,
                             int activation, ScaleProduct product) {
    LOOKOUT_RETURN_IF_ERROR(PrepareCommon(ctx, bias_tensor, channels, activation));
    LOOKOUT_RETURN_IF_ERROR(
        ComputeChannelMultipliers(ctx, *input, *filter, *output, channels, product, &multipliers, &shifts));
    params.multiplier = multipliers.data();
    params.shift = shifts.data();
    return {};
  }
  const int32_t* bias_data() const { return bias.empty() ? nullptr : bias.data(); }
};

class Conv2DKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 3, 1));
    const auto* options = ctx.op()->builtin_options_as_Conv2DOptions();
    if (options == nullptr) return ctx.Error("missing Conv2DOptions");
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &s_.input));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "filter", &s_.filter));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &s_.output));
    Tensor& in = *s_.input;
    Tensor& filter = *s_.filter;
    Tensor& out = *s_.output;
    if (in.rank() != 4 || filter.rank() != 4 || out.rank() != 4) {
      return ctx.Error("input %s, filter %s and output %s must be 4-D", ShapeString(in.shape).c_str(),
                       ShapeString(filter.shape).c_str(), ShapeString(out.shape).c_str());
    }
    const int32_t channels = filter.dim(0);
    LOOKOUT_RETURN_IF_ERROR(CheckQuantizedOperands(ctx, in, filter, out, 0, channels));
    if (filter.dim(3) != in.dim(3)) {
      return ctx.Error("filter '%s' has %d input channels, input has %d", filter.name.c_str(),
                       filter.dim(3), in.dim(3));
    }
    const int padding = static_cast<int>(options->padding());
    LOOKOUT_RETURN_IF_ERROR(CheckWindow(ctx, padding, options->stride_w(), options->stride_h(),
                                        options->dilation_w_factor(), options->dilation_h_factor()));
    LOOKOUT_RETURN_IF_ERROR(CheckWindowFits(ctx, padding, in.dim(1), in.dim(2), filter.dim(1), filter.dim(2),
                                            options->dilation_h_factor(), options->dilation_w_factor()));
    const int32_t out_h = ComputeOutSize(padding, in.dim(1), filter.dim(1), options->stride_h(),
                                         options->dilation_h_factor());
    const int32_t out_w = ComputeOutSize(padding, in.dim(2), filter.dim(2), options->stride_w(),
                                         options->dilation_w_factor());
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(out, "output", {in.dim(0), out_h, out_w, channels}));
    auto& p = s_.params;
    p.stride_w = options->stride_w();
    p.stride_h = options->stride_h();
    p.dilation_w = options->dilation_w_factor();
    p.dilation_h = options->dilation_h_factor();
    p.pad_h = ComputePadding(p.stride_h, p.dilation_h, in.dim(1), filter.dim(1), out_h);
    p.pad_w = ComputePadding(p.stride_w, p.dilation_w, in.dim(2), filter.dim(2), out_w);
    return s_.PrepareQuantization(ctx, ctx.input(2), channels,
                                  static_cast<int>(options->fused_activation_function()),
                                  ConvScaleProduct(in));
  }

  Status Eval() override {
    if (s_.input->type == DataType::kUInt8) {
      Run<uint8_t>();
    } else {
      Run<int8_t>();
    }
    return {};
  }

 private:
  template <typename T>
  void Run() {
    reference::Conv<T>(s_.params, ToDims4(*s_.input), s_.input->data_as<T>(), ToDims4(*s_.filter),
                       s_.filter->data_as<T>(), s_.bias_data(), ToDims4(*s_.output),
                       s_.output->data_as<T>());
  }
  QuantizedConvState s_;
};

class DepthwiseConv2DKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 3, 1));
    const auto* options = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
    if (options == nullptr) return ctx.Error("missing DepthwiseConv2DOptions");
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &s_.input));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "filter", &s_.filter));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &s_.output));
    Tensor& in = *s_.input;
    Tensor& filter = *s_.filter;
    Tensor& out = *s_.output;
    if (in.rank() != 4 || filter.rank() != 4 || out.rank() != 4) {
      return ctx.Error("input %s, filter %s and output %s must be 4-D", ShapeString(in.shape).c_str(),
                       ShapeString(filter.shape).c_str(), ShapeString(out.shape).c_str());
    }
    if (filter.dim(0) != 1) return ctx.Error("filter '%s' dim 0 is %d, expected 1", filter.name.c_str(), filter.dim(0));
    const int32_t channels = filter.dim(3);
    LOOKOUT_RETURN_IF_ERROR(CheckQuantizedOperands(ctx, in, filter, out, 3, channels));
    // TFLite ignores the stored depth_multiplier and derives it from shapes.
    if (in.dim(3) <= 0 || channels % in.dim(3) != 0) {
      return ctx.Error("filter '%s' has %d channels, not a multiple of the input's %d",
                       filter.name.c_str(), channels, in.dim(3));
    }
    const int padding = static_cast<int>(options->padding());
    LOOKOUT_RETURN_IF_ERROR(CheckWindow(ctx, padding, options->stride_w(), options->stride_h(),
                                        options->dilation_w_factor(), options->dilation_h_factor()));
    LOOKOUT_RETURN_IF_ERROR(CheckWindowFits(ctx, padding, in.dim(1), in.dim(2), filter.dim(1), filter.dim(2),
                                            options->dilation_h_factor(), options->dilation_w_factor()));
    const int32_t out_h = ComputeOutSize(padding, in.dim(1), filter.dim(1), options->stride_h(),
                                         options->dilation_h_factor());
    const int32_t out_w = ComputeOutSize(padding, in.dim(2), filter.dim(2), options->stride_w(),
                                         options->dilation_w_factor());
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(out, "output", {in.dim(0), out_h, out_w, channels}));
    auto& p = s_.params;
    p.depth_multiplier = channels / in.dim(3);
    p.stride_w = options->stride_w();
    p.stride_h = options->stride_h();
    p.dilation_w = options->dilation_w_factor();
    p.dilation_h = options->dilation_h_factor();
    p.pad_h = ComputePadding(p.stride_h, p.dilation_h, in.dim(1), filter.dim(1), out_h);
    p.pad_w = ComputePadding(p.stride_w, p.dilation_w, in.dim(2), filter.dim(2), out_w);
    return s_.PrepareQuantization(ctx, ctx.input(2), channels,
                                  static_cast<int>(options->fused_activation_function()),
                                  ConvScaleProduct(in));
  }

  Status Eval() override {
    if (s_.input->type == DataType::kUInt8) {
      Run<uint8_t>();
    } else {
      Run<int8_t>();
    }
    return {};
  }

 private:
  template <typename T>
  void Run() {
    reference::DepthwiseConv<T>(s_.params, ToDims4(*s_.input), s_.input->data_as<T>(),
                                ToDims4(*s_.filter), s_.filter->data_as<T>(), s_.bias_data(),
                                ToDims4(*s_.output), s_.output->data_as<T>());
  }
  QuantizedConvState s_;
};

class FullyConnectedKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 3, 1));
    const auto* options = ctx.op()->builtin_options_as_FullyConnectedOptions();
    int activation = 0;
    if (options != nullptr) {
      if (options->weights_format() != tflite::FullyConnectedOptionsWeightsFormat::DEFAULT) {
        return ctx.Error("weights_format %d is not supported", static_cast<int>(options->weights_format()));
      }
      activation = static_cast<int>(options->fused_activation_function());
    }
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &s_.input));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "filter", &s_.filter));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &s_.output));
    Tensor& in = *s_.input;
    Tensor& filter = *s_.filter;
    Tensor& out = *s_.output;
    if (filter.rank() != 2) return ctx.Error("filter '%s' must be 2-D, got %s", filter.name.c_str(), ShapeString(filter.shape).c_str());
    units_ = filter.dim(0);
    depth_ = filter.dim(1);
    LOOKOUT_RETURN_IF_ERROR(CheckQuantizedOperands(ctx, in, filter, out, 0, units_));
    if (depth_ <= 0 || in.elements % static_cast<size_t>(depth_) != 0) {
      return ctx.Error("input %s has %zu elements, not a multiple of the filter depth %d",
                       ShapeString(in.shape).c_str(), in.elements, depth_);
    }
    batches_ = static_cast<int32_t>(in.elements / static_cast<size_t>(depth_));
    if (out.elements != static_cast<size_t>(batches_) * static_cast<size_t>(units_) || out.rank() < 1 ||
        out.shape.back() != units_) {
      return ctx.Error("output %s, expected %d x %d elements", ShapeString(out.shape).c_str(),
                       batches_, units_);
    }
    LOOKOUT_RETURN_IF_ERROR(s_.PrepareCommon(ctx, ctx.input(2), units_, activation));
    // TFLite's reference FULLY_CONNECTED ignores the fixed-point multiplier
    // its Prepare computes and requantizes with the scales in double.
    return ComputeChannelScales(ctx, in, filter, out, units_, &scales_);
  }

  Status Eval() override {
    if (s_.input->type == DataType::kUInt8) {
      Run<uint8_t>();
    } else {
      Run<int8_t>();
    }
    return {};
  }

 private:
  template <typename T>
  void Run() {
    reference::FullyConnected<T>(s_.params, scales_.data(), batches_, depth_, s_.input->data_as<T>(),
                                 units_, s_.filter->data_as<T>(), s_.bias_data(),
                                 s_.output->data_as<T>());
  }
  QuantizedConvState s_;
  std::vector<double> scales_;
  int32_t batches_ = 0, depth_ = 0, units_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeConv2D() { return std::make_unique<Conv2DKernel>(); }
std::unique_ptr<OpKernel> MakeDepthwiseConv2D() { return std::make_unique<DepthwiseConv2DKernel>(); }
std::unique_ptr<OpKernel> MakeFullyConnected() { return std::make_unique<FullyConnectedKernel>(); }

}  // namespace lookout::runtime::internal
