// ADD, MUL (with 4-D broadcasting), HARD_SWISH and QUANTIZE on 8-bit tensors.
#include <cmath>
#include <memory>

#include "kernels/broadcast.h"
#include "kernels/kernel_util.h"
#include "kernels/reference/elementwise.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

Status CheckBinaryOperands(const KernelContext& ctx, Tensor** a, Tensor** b, Tensor** o) {
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 2, 1));
  LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input1", a));
  LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "input2", b));
  LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, o));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(**a, "input1", DataType::kUInt8, DataType::kInt8));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(**a, "input1", **b, "input2"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(**a, "input1", **o, "output"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(**a, "input1"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(**b, "input2"));
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(**o, "output"));
  return {};
}

Status QuantizeSmallerThanOne(const KernelContext& ctx, const char* what, double real,
                              int32_t* multiplier, int* shift) {
  if (!(real > 0.0 && real < 1.0)) {
    return ctx.Error("%s multiplier %g must be in (0, 1)", what, real);
  }
  reference::QuantizeMultiplier(real, multiplier, shift);
  return {};
}

class AddKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(CheckBinaryOperands(ctx, &a_, &b_, &o_));
    const auto* options = ctx.op()->builtin_options_as_AddOptions();
    const int activation = options ? static_cast<int>(options->fused_activation_function()) : 0;
    LOOKOUT_RETURN_IF_ERROR(CheckActivation(ctx, activation));
    LOOKOUT_RETURN_IF_ERROR(bc_.Init(ctx, *a_, *b_, *o_));
    p_.input1_offset = -a_->zero_point;
    p_.input2_offset = -b_->zero_point;
    p_.output_offset = o_->zero_point;
    p_.left_shift = 20;
    // Mixed float/double arithmetic as in TFLite's PrepareInt8UInt8Add.
    const double twice_max_input_scale = 2 * std::max(a_->scale, b_->scale);
    const double real1 = a_->scale / twice_max_input_scale;
    const double real2 = b_->scale / twice_max_input_scale;
    const double real_out = twice_max_input_scale / ((1 << p_.left_shift) * o_->scale);
    LOOKOUT_RETURN_IF_ERROR(QuantizeSmallerThanOne(ctx, "input1", real1, &p_.input1_multiplier, &p_.input1_shift));
    LOOKOUT_RETURN_IF_ERROR(QuantizeSmallerThanOne(ctx, "input2", real2, &p_.input2_multiplier, &p_.input2_shift));
    LOOKOUT_RETURN_IF_ERROR(QuantizeSmallerThanOne(ctx, "output", real_out, &p_.output_multiplier, &p_.output_shift));
    reference::ActivationRangeQuantized(activation, o_->scale, o_->zero_point, QMin(o_->type),
                                        QMax(o_->type), &p_.act_min, &p_.act_max);
    return {};
  }
  Status Eval() override {
    auto f = [this](int32_t x, int32_t y) { return reference::AddOne(p_, x, y); };
    if (a_->type == DataType::kUInt8) {
      bc_.Run(a_->data_as<uint8_t>(), b_->data_as<uint8_t>(), o_->data_as<uint8_t>(), f);
    } else {
      bc_.Run(a_->data_as<int8_t>(), b_->data_as<int8_t>(), o_->data_as<int8_t>(), f);
    }
    return {};
  }

 private:
  Tensor *a_ = nullptr, *b_ = nullptr, *o_ = nullptr;
  Broadcast4 bc_;
  reference::AddParams p_;
};

class MulKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(CheckBinaryOperands(ctx, &a_, &b_, &o_));
    const auto* options = ctx.op()->builtin_options_as_MulOptions();
    const int activation = options ? static_cast<int>(options->fused_activation_function()) : 0;
    LOOKOUT_RETURN_IF_ERROR(CheckActivation(ctx, activation));
    LOOKOUT_RETURN_IF_ERROR(bc_.Init(ctx, *a_, *b_, *o_));
    p_.input1_offset = -a_->zero_point;
    p_.input2_offset = -b_->zero_point;
    p_.output_offset = o_->zero_point;
    const double real = static_cast<double>(a_->scale) * static_cast<double>(b_->scale) /
                        static_cast<double>(o_->scale);
    if (!(real > 0.0 && real < 65536.0)) return ctx.Error("output multiplier %g out of range (0, 65536)", real);
    reference::QuantizeMultiplier(real, &p_.output_multiplier, &p_.output_shift);
    reference::ActivationRangeQuantized(activation, o_->scale, o_->zero_point, QMin(o_->type),
                                        QMax(o_->type), &p_.act_min, &p_.act_max);
    return {};
  }
  Status Eval() override {
    auto f = [this](int32_t x, int32_t y) { return reference::MulOne(p_, x, y); };
    if (a_->type == DataType::kUInt8) {
      bc_.Run(a_->data_as<uint8_t>(), b_->data_as<uint8_t>(), o_->data_as<uint8_t>(), f);
    } else {
      bc_.Run(a_->data_as<int8_t>(), b_->data_as<int8_t>(), o_->data_as<int8_t>(), f);
    }
    return {};
  }

 private:
  Tensor *a_ = nullptr, *b_ = nullptr, *o_ = nullptr;
  Broadcast4 bc_;
  reference::MulParams p_;
};

class HardSwishKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(1, 1, 1));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(*in_, "input", DataType::kUInt8, DataType::kInt8));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(*in_, "input", *out_, "output"));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*in_, "input"));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*out_, "output"));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", in_->shape));
    p_.input_zero_point = static_cast<int16_t>(in_->zero_point);
    p_.output_zero_point = static_cast<int16_t>(out_->zero_point);
    // float arithmetic, as TFLite's HardSwishPrepare.
    const float hires_input_scale = (1.0f / 128.0f) * in_->scale;
    const float reluish_scale = 3.0f / 32768.0f;
    const float output_multiplier = hires_input_scale / out_->scale;
    const float reluish_multiplier = hires_input_scale / reluish_scale;
    if (!(output_multiplier > 0.0f && std::isfinite(output_multiplier)) ||
        !(reluish_multiplier > 0.0f && std::isfinite(reluish_multiplier))) {
      return ctx.Error("scales give multipliers %g and %g", output_multiplier, reluish_multiplier);
    }
    int32_t m32 = 0;
    reference::QuantizeMultiplier(output_multiplier, &m32, &p_.output_multiplier_exponent);
    p_.output_multiplier_fixedpoint_int16 = reference::DownScaleInt32ToInt16Multiplier(m32);
    if (p_.output_multiplier_exponent > 0 || p_.output_multiplier_exponent < -15) {
      return ctx.Error("output multiplier exponent %d out of range [-15, 0]", p_.output_multiplier_exponent);
    }
    reference::QuantizeMultiplier(reluish_multiplier, &m32, &p_.reluish_multiplier_exponent);
    p_.reluish_multiplier_fixedpoint_int16 = reference::DownScaleInt32ToInt16Multiplier(m32);
    if (p_.reluish_multiplier_exponent > 15 || p_.reluish_multiplier_exponent < -15) {
      return ctx.Error("reluish multiplier exponent %d out of range [-15, 15]", p_.reluish_multiplier_exponent);
    }
    return {};
  }
  Status Eval() override {
    if (in_->type == DataType::kUInt8) {
      Run<uint8_t>();
    } else {
      Run<int8_t>();
    }
    return {};
  }

 private:
  template <typename T>
  void Run() {
    const T* in = in_->data_as<T>();
    T* out = out_->data_as<T>();
    for (size_t i = 0; i < in_->elements; ++i) out[i] = reference::HardSwishOne<T>(p_, in[i]);
  }
  Tensor *in_ = nullptr, *out_ = nullptr;
  reference::HardSwishParams p_;
};

class QuantizeKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(1, 1, 1));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(*in_, "input", DataType::kUInt8, DataType::kInt8));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckType(*out_, "output", DataType::kUInt8, DataType::kInt8));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*in_, "input"));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckPerTensorQuantized(*out_, "output"));
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", in_->shape));
    const double real = static_cast<double>(in_->scale) / static_cast<double>(out_->scale);
    if (!(real > 0.0 && real < 65536.0)) return ctx.Error("multiplier %g out of range (0, 65536)", real);
    reference::QuantizeMultiplier(real, &multiplier_, &shift_);
    return {};
  }
  Status Eval() override {
    const bool in_u8 = in_->type == DataType::kUInt8;
    const bool out_u8 = out_->type == DataType::kUInt8;
    if (in_u8 && out_u8) Run<uint8_t, uint8_t>();
    if (in_u8 && !out_u8) Run<uint8_t, int8_t>();
    if (!in_u8 && out_u8) Run<int8_t, uint8_t>();
    if (!in_u8 && !out_u8) Run<int8_t, int8_t>();
    return {};
  }

 private:
  template <typename In, typename Out>
  void Run() {
    reference::Requantize(in_->data_as<In>(), in_->elements, multiplier_, shift_, in_->zero_point,
                          out_->zero_point, out_->data_as<Out>());
  }
  Tensor *in_ = nullptr, *out_ = nullptr;
  int32_t multiplier_ = 0;
  int shift_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeAdd() { return std::make_unique<AddKernel>(); }
std::unique_ptr<OpKernel> MakeMul() { return std::make_unique<MulKernel>(); }
std::unique_ptr<OpKernel> MakeHardSwish() { return std::make_unique<HardSwishKernel>(); }
std::unique_ptr<OpKernel> MakeQuantize() { return std::make_unique<QuantizeKernel>(); }

}  // namespace lookout::runtime::internal
