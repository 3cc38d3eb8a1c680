// AVERAGE_POOL_2D, MAX_POOL_2D, MEAN and SOFTMAX on 8-bit tensors.
#include <cmath>
#include <limits>
#include <memory>

#include "kernels/kernel_util.h"
#include "kernels/reference/pooling.h"
#include "kernels/reference/softmax.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

// Averages sum 8-bit values in 32 bits (the reference kernels, and XNNPACK,
// whose 1/count scale must also stay above 2^-32): at most 2^23 of them.
constexpr int64_t kMaxAveraged = int64_t{1} << 23;

Status CheckUnaryQuantized(const KernelContext& ctx, Tensor* in, Tensor* out) {
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(*in, "input", DataType::kUInt8, DataType::kInt8));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(*in, "input", *out, "output"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*in, "input"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*out, "output"));
  return {};
}

template <bool kAverage>
class PoolKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(1, 1, 1));
    const auto* options = ctx.op()->builtin_options_as_Pool2DOptions();
    if (options == nullptr) return ctx.Error("missing Pool2DOptions");
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckUnaryQuantized(ctx, in_, out_));
    if (in_->rank() != 4) return ctx.Error("input %s must be 4-D", ShapeString(in_->shape).c_str());
    const int padding = static_cast<int>(options->padding());
    LOOKOUT_RETURN_IF_ERROR(CheckWindow(ctx, padding, options->stride_w(), options->stride_h(), 1, 1));
    if (options->filter_width() <= 0 || options->filter_height() <= 0) {
      return ctx.Error("filter %dx%d must be positive", options->filter_width(), options->filter_height());
    }
    LOOKOUT_RETURN_IF_ERROR(CheckWindowFits(ctx, padding, in_->dim(1), in_->dim(2), options->filter_height(),
                                            options->filter_width(), 1, 1));
    const int activation = static_cast<int>(options->fused_activation_function());
    LOOKOUT_RETURN_IF_ERROR(CheckActivation(ctx, activation));
    // The window as it overlaps the input.
    const int64_t window = int64_t{std::min(options->filter_height(), in_->dim(1))} *
                           std::min(options->filter_width(), in_->dim(2));
    if (kAverage && window > kMaxAveraged) {
      return ctx.Error("filter %dx%d averages %lld values, more than the limit of %lld",
                       options->filter_width(), options->filter_height(),
                       static_cast<long long>(window), static_cast<long long>(kMaxAveraged));
    }
    const int32_t out_h = ComputeOutSize(padding, in_->dim(1), options->filter_height(), options->stride_h(), 1);
    const int32_t out_w = ComputeOutSize(padding, in_->dim(2), options->filter_width(), options->stride_w(), 1);
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", {in_->dim(0), out_h, out_w, in_->dim(3)}));
    p_.stride_w = options->stride_w();
    p_.stride_h = options->stride_h();
    p_.filter_w = options->filter_width();
    p_.filter_h = options->filter_height();
    p_.pad_h = ComputePadding(p_.stride_h, 1, in_->dim(1), p_.filter_h, out_h);
    p_.pad_w = ComputePadding(p_.stride_w, 1, in_->dim(2), p_.filter_w, out_w);
    reference::ActivationRangeQuantized(activation, out_->scale, out_->zero_point, QMin(out_->type),
                                        QMax(out_->type), &p_.act_min, &p_.act_max);
    return {};
  }
  Status Eval() override {
    if (in_->type == DataType::kUInt8) {
      reference::Pool<uint8_t, kAverage>(p_, ToDims4(*in_), in_->data_as<uint8_t>(), ToDims4(*out_),
                                         out_->data_as<uint8_t>());
    } else {
      reference::Pool<int8_t, kAverage>(p_, ToDims4(*in_), in_->data_as<int8_t>(), ToDims4(*out_),
                                        out_->data_as<int8_t>());
    }
    return {};
  }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  reference::PoolParams p_;
};

class MeanKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 2, 1));
    Tensor* axis = nullptr;
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "axis", &axis));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckUnaryQuantized(ctx, in_, out_));
    const auto* options = ctx.op()->builtin_options_as_ReducerOptions();
    const bool keep_dims = options != nullptr && options->keep_dims();
    if (axis->type != DataType::kInt32 || !axis->is_constant) {
      return ctx.Error("axis tensor '%s' must be a constant INT32 tensor", axis->name.c_str());
    }
    // TFLite's reference MEAN resolves axes generically (reference_ops::ResolveAxis:
    // negative values count from the end, duplicates collapse); its literal
    // [1, 2] check belongs to the optimized 4-D path only.
    bool reduced[4] = {false, false, false, false};
    bool axes_valid = in_->rank() == 4;
    for (size_t i = 0; axes_valid && i < axis->elements; ++i) {
      int32_t a = ReadInt32(*axis, i);
      if (a < 0) a += 4;
      axes_valid = a >= 0 && a < 4;
      if (axes_valid) reduced[a] = true;
    }
    if (!axes_valid || reduced[0] || !reduced[1] || !reduced[2] || reduced[3] || !keep_dims) {
      return ctx.Error("only MEAN over axes [1, 2] of a 4-D input with keep_dims is supported");
    }
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", {in_->dim(0), 1, 1, in_->dim(3)}));
    const int64_t count = static_cast<int64_t>(in_->dim(1)) * in_->dim(2);
    if (count <= 0) return ctx.Error("input %s has nothing to average", ShapeString(in_->shape).c_str());
    if (count > kMaxAveraged) {
      return ctx.Error("input %s averages %lld values per channel, more than the limit of %lld",
                       ShapeString(in_->shape).c_str(), static_cast<long long>(count),
                       static_cast<long long>(kMaxAveraged));
    }
    const double real = static_cast<double>(in_->scale) / static_cast<double>(out_->scale);
    if (!(real > 0.0 && real < 65536.0)) return ctx.Error("multiplier %g out of range", real);
    reference::QuantizeMultiplier(real, &multiplier_, &shift_);
    reference::FoldMeanCount(count, &multiplier_, &shift_);
    return {};
  }
  Status Eval() override {
    if (in_->type == DataType::kInt8) {
      reference::MeanHW(ToDims4(*in_), in_->data_as<int8_t>(), in_->zero_point, multiplier_, shift_,
                        out_->zero_point, out_->data_as<int8_t>());
    } else {
      reference::MeanHW(ToDims4(*in_), in_->data_as<uint8_t>(), in_->zero_point, multiplier_, shift_,
                        out_->zero_point, out_->data_as<uint8_t>());
    }
    return {};
  }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  int32_t multiplier_ = 0;
  int shift_ = 0;
};

class SoftmaxKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(1, 1, 1));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckUnaryQuantized(ctx, in_, out_));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", in_->shape));
    if (in_->rank() < 1) return ctx.Error("input must have at least one dimension");
    const int32_t expected_zp = out_->type == DataType::kInt8 ? -128 : 0;
    if (out_->zero_point != expected_zp || std::fabs(out_->scale - 1.0f / 256) > 0.001f / 256) {
      return ctx.Error("output scale %g zero_point %d, expected 1/256 and %d", out_->scale,
                       out_->zero_point, expected_zp);
    }
    const auto* options = ctx.op()->builtin_options_as_SoftmaxOptions();
    const float beta = options != nullptr ? options->beta() : 1.0f;
    if (!reference::PrepareSoftmax(static_cast<double>(beta), static_cast<double>(in_->scale), &p_)) {
      return ctx.Error("beta %g with input scale %g cannot be represented", beta, in_->scale);
    }
    depth_ = in_->shape.back();
    outer_ = depth_ > 0 ? static_cast<int32_t>(in_->elements / static_cast<size_t>(depth_)) : 0;
    return {};
  }
  Status Eval() override {
    if (in_->type == DataType::kUInt8) {
      reference::SoftmaxUInt8(p_, outer_, depth_, in_->data_as<uint8_t>(), out_->data_as<uint8_t>());
    } else {
      reference::SoftmaxInt8(p_, outer_, depth_, in_->data_as<int8_t>(), out_->data_as<int8_t>());
    }
    return {};
  }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  reference::SoftmaxParams p_;
  int32_t outer_ = 0, depth_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeAveragePool2D() { return std::make_unique<PoolKernel<true>>(); }
std::unique_ptr<OpKernel> MakeMaxPool2D() { return std::make_unique<PoolKernel<false>>(); }
std::unique_ptr<OpKernel> MakeMean() { return std::make_unique<MeanKernel>(); }
std::unique_ptr<OpKernel> MakeSoftmax() { return std::make_unique<SoftmaxKernel>(); }

}  // namespace lookout::runtime::internal
