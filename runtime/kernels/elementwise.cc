// ADD, MUL (with 4-D broadcasting), HARD_SWISH and QUANTIZE on 8-bit tensors.
#include <cmath>
#include <memory>

#include "kernels/kernel_util.h"
#include "kernels/reference/elementwise.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

// Index arithmetic of a broadcasting binary op, shapes right-aligned to 4-D.
struct Broadcast4 {
  int32_t out[4] = {1, 1, 1, 1};
  int64_t stride1[4] = {0, 0, 0, 0};
  int64_t stride2[4] = {0, 0, 0, 0};
  bool trivial = true;  // both inputs have the output's shape.

  Status Init(const KernelContext& ctx, const Tensor& a, const Tensor& b, const Tensor& o) {
    if (a.rank() > 4 || b.rank() > 4 || o.rank() > 4) {
      return ctx.Error("broadcasting supports up to 4-D, got %s and %s", ShapeString(a.shape).c_str(),
                       ShapeString(b.shape).c_str());
    }
    int32_t da[4] = {1, 1, 1, 1}, db[4] = {1, 1, 1, 1}, dout[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < a.rank(); ++i) da[4 - a.rank() + i] = a.shape[i];
    for (size_t i = 0; i < b.rank(); ++i) db[4 - b.rank() + i] = b.shape[i];
    for (size_t i = 0; i < o.rank(); ++i) dout[4 - o.rank() + i] = o.shape[i];
    int64_t s1 = 1, s2 = 1;
    for (int i = 3; i >= 0; --i) {
      if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
        return ctx.Error("shapes %s and %s do not broadcast", ShapeString(a.shape).c_str(),
                         ShapeString(b.shape).c_str());
      }
      // The dimension that is not 1 (max() would make 1 of an empty 0 and
      // read the empty input as if it had one element).
      const int32_t expected = da[i] == 1 ? db[i] : da[i];
      if (dout[i] != expected) {
        return ctx.Error("output %s does not match the broadcast of %s and %s",
                         ShapeString(o.shape).c_str(), ShapeString(a.shape).c_str(),
                         ShapeString(b.shape).c_str());
      }
      out[i] = expected;
      stride1[i] = da[i] == 1 ? 0 : s1;
      stride2[i] = db[i] == 1 ? 0 : s2;
      s1 *= da[i];
      s2 *= db[i];
      if (da[i] != expected || db[i] != expected) trivial = false;
    }
    return {};
  }

  template <typename T, typename F>
  void Run(const T* a, const T* b, T* o, F&& f) const {
    if (trivial) {
      const int64_t n = static_cast<int64_t>(out[0]) * out[1] * out[2] * out[3];
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(f(a[i], b[i]));
      return;
    }
    for (int32_t i0 = 0; i0 < out[0]; ++i0) {
      for (int32_t i1 = 0; i1 < out[1]; ++i1) {
        for (int32_t i2 = 0; i2 < out[2]; ++i2) {
          const int64_t base1 = i0 * stride1[0] + i1 * stride1[1] + i2 * stride1[2];
          const int64_t base2 = i0 * stride2[0] + i1 * stride2[1] + i2 * stride2[2];
          for (int32_t i3 = 0; i3 < out[3]; ++i3) {
            *o++ = static_cast<T>(f(a[base1 + i3 * stride1[3]], b[base2 + i3 * stride2[3]]));
          }
        }
      }
    }
  }
};

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
  void Eval() override {
    auto f = [this](int32_t x, int32_t y) { return reference::AddOne(p_, x, y); };
    if (a_->type == DataType::kUInt8) {
      bc_.Run(a_->data_as<uint8_t>(), b_->data_as<uint8_t>(), o_->data_as<uint8_t>(), f);
    } else {
      bc_.Run(a_->data_as<int8_t>(), b_->data_as<int8_t>(), o_->data_as<int8_t>(), f);
    }
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
  void Eval() override {
    auto f = [this](int32_t x, int32_t y) { return reference::MulOne(p_, x, y); };
    if (a_->type == DataType::kUInt8) {
      bc_.Run(a_->data_as<uint8_t>(), b_->data_as<uint8_t>(), o_->data_as<uint8_t>(), f);
    } else {
      bc_.Run(a_->data_as<int8_t>(), b_->data_as<int8_t>(), o_->data_as<int8_t>(), f);
    }
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
  void Eval() override {
    if (in_->type == DataType::kUInt8) {
      Run<uint8_t>();
    } else {
      Run<int8_t>();
    }
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
  void Eval() override {
    const bool in_u8 = in_->type == DataType::kUInt8;
    const bool out_u8 = out_->type == DataType::kUInt8;
    if (in_u8 && out_u8) Run<uint8_t, uint8_t>();
    if (in_u8 && !out_u8) Run<uint8_t, int8_t>();
    if (!in_u8 && out_u8) Run<int8_t, uint8_t>();
    if (!in_u8 && !out_u8) Run<int8_t, int8_t>();
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
