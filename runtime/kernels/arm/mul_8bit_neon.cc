// MUL on 64-bit Arm NEON, byte for byte TensorFlow Lite's reference integer
// MUL (MulElementwise): (a − za)(b − zb) in int32, times the fixed-point
// multiplier with gemmlowp's rounding (vqrdmulh is
// SaturatingRoundingDoublingHighMul; a rounding shift after a sign fixup is
// RoundingDivideByPOT, ties away from zero), plus the output zero point,
// clamped. Sixteen elements per step along the innermost dimension, either
// input broadcast there or not.
//
// Debian 12's arm64 XNNPACK rounds its uint8 MUL half up, which moves
// MobileNet v3's squeeze-and-excite outputs further from the reference than
// TensorFlow Lite's own XNNPACK delegate is; this kernel is exact.
#include <algorithm>
#include <memory>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "kernels/arm/requant_neon.h"
#include "kernels/broadcast.h"
#include "kernels/kernel_util.h"
#include "kernels/mul.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

#if defined(__aarch64__)
namespace {

class MulArmKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    a_ = ctx.input(0);
    b_ = ctx.input(1);
    o_ = ctx.output(0);
    const auto* options = ctx.op()->builtin_options_as_MulOptions();
    const int activation = options ? static_cast<int>(options->fused_activation_function()) : 0;
    LOOKOUT_RETURN_IF_ERROR(bc_.Init(ctx, *a_, *b_, *o_));
    // As the reference MUL's Prepare forms them.
    const double real = static_cast<double>(a_->scale) * static_cast<double>(b_->scale) /
                        static_cast<double>(o_->scale);
    if (!(real > 0.0 && real < 65536.0)) return ctx.Error("output multiplier out of range");
    int shift = 0;
    reference::QuantizeMultiplier(real, &multiplier_, &shift);
    left_shift_ = shift > 0 ? shift : 0;
    right_shift_ = shift > 0 ? 0 : -shift;
    if (right_shift_ > 31) return ctx.Error("output shift out of range");
    reference::ActivationRangeQuantized(activation, o_->scale, o_->zero_point, QMin(o_->type), QMax(o_->type),
                                        &act_min_, &act_max_);
    signed_ = a_->type == DataType::kInt8;
    return {};
  }

  Status Eval() override {
    if (signed_) {
      Run<true>();
    } else {
      Run<false>();
    }
    return {};
  }

  KernelFamily family() const override { return KernelFamily::kOwnArm; }

 private:
  template <bool kSigned>
  void Run() const {
    const uint8_t* a = a_->data;
    const uint8_t* b = b_->data;
    uint8_t* o = o_->data;
    for (int32_t i0 = 0; i0 < bc_.out[0]; ++i0) {
      for (int32_t i1 = 0; i1 < bc_.out[1]; ++i1) {
        for (int32_t i2 = 0; i2 < bc_.out[2]; ++i2) {
          const int64_t base1 = i0 * bc_.stride1[0] + i1 * bc_.stride1[1] + i2 * bc_.stride1[2];
          const int64_t base2 = i0 * bc_.stride2[0] + i1 * bc_.stride2[1] + i2 * bc_.stride2[2];
          Row<kSigned>(a + base1, bc_.stride1[3] != 0, b + base2, bc_.stride2[3] != 0, o,
                       static_cast<size_t>(bc_.out[3]));
          o += bc_.out[3];
        }
      }
    }
  }

  // n outputs from a row of a (or its one element, broadcast) and of b.
  template <bool kSigned>
  void Row(const uint8_t* a, bool a_row, const uint8_t* b, bool b_row, uint8_t* o, size_t n) const {
    const int32x4_t multiplier = vdupq_n_s32(multiplier_);
    const int32x4_t left = vdupq_n_s32(left_shift_);
    const int32x4_t right = vdupq_n_s32(-right_shift_);
    const int32x4_t zero_point = vdupq_n_s32(o_->zero_point);
    const uint8x16_t lo = vdupq_n_u8(static_cast<uint8_t>(act_min_)), hi = vdupq_n_u8(static_cast<uint8_t>(act_max_));
    const uint8x16_t za = vdupq_n_u8(static_cast<uint8_t>(a_->zero_point));
    const uint8x16_t zb = vdupq_n_u8(static_cast<uint8_t>(b_->zero_point));
    auto widen = [&](uint8x16_t x, uint8x16_t z, int16x8_t* l, int16x8_t* h) {
      if constexpr (kSigned) {
        *l = vsubl_s8(vget_low_s8(vreinterpretq_s8_u8(x)), vget_low_s8(vreinterpretq_s8_u8(z)));
        *h = vsubl_high_s8(vreinterpretq_s8_u8(x), vreinterpretq_s8_u8(z));
      } else {
        *l = vreinterpretq_s16_u16(vsubl_u8(vget_low_u8(x), vget_low_u8(z)));
        *h = vreinterpretq_s16_u16(vsubl_high_u8(x, z));
      }
    };
    auto scale = [&](int32x4_t x) {
      x = vqrdmulhq_s32(vshlq_s32(x, left), multiplier);
      // Negative values round half away from zero: subtract one before the
      // rounding shift (a no-op when the shift is 0: right & x is then 0).
      const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
      return vaddq_s32(vrshlq_s32(vqaddq_s32(x, fixup), right), zero_point);
    };
    const uint8x16_t a_one = vdupq_n_u8(*a), b_one = vdupq_n_u8(*b);
    size_t i = 0;
    alignas(16) uint8_t in_a[16], in_b[16], out[16];
    while (i < n) {
      const size_t count = std::min<size_t>(16, n - i);
      uint8x16_t x, y;
      if (count == 16) {
        x = a_row ? vld1q_u8(a + i) : a_one;
        y = b_row ? vld1q_u8(b + i) : b_one;
      } else {
        // The row's last elements, through a buffer: broadcast rows are
        // not padded as activations are.
        if (a_row) std::copy(a + i, a + i + count, in_a);
        if (b_row) std::copy(b + i, b + i + count, in_b);
        x = a_row ? vld1q_u8(in_a) : a_one;
        y = b_row ? vld1q_u8(in_b) : b_one;
      }
      int16x8_t xl, xh, yl, yh;
      widen(x, za, &xl, &xh);
      widen(y, zb, &yl, &yh);
      const int32x4_t r0 = scale(vmull_s16(vget_low_s16(xl), vget_low_s16(yl)));
      const int32x4_t r1 = scale(vmull_high_s16(xl, yl));
      const int32x4_t r2 = scale(vmull_s16(vget_low_s16(xh), vget_low_s16(yh)));
      const int32x4_t r3 = scale(vmull_high_s16(xh, yh));
      const int16x8_t h0 = vqmovn_high_s32(vqmovn_s32(r0), r1), h1 = vqmovn_high_s32(vqmovn_s32(r2), r3);
      uint8x16_t bytes;
      if constexpr (kSigned) {
        bytes = vreinterpretq_u8_s8(vminq_s8(vmaxq_s8(vqmovn_high_s16(vqmovn_s16(h0), h1), vreinterpretq_s8_u8(lo)),
                                             vreinterpretq_s8_u8(hi)));
      } else {
        bytes = vminq_u8(vmaxq_u8(vqmovun_high_s16(vqmovun_s16(h0), h1), lo), hi);
      }
      if (count == 16) {
        vst1q_u8(o + i, bytes);
      } else {
        vst1q_u8(out, bytes);
        std::copy(out, out + count, o + i);
      }
      i += count;
    }
  }

  Tensor *a_ = nullptr, *b_ = nullptr, *o_ = nullptr;
  Broadcast4 bc_;
  int32_t multiplier_ = 0, left_shift_ = 0, right_shift_ = 0;
  int32_t act_min_ = 0, act_max_ = 0;
  bool signed_ = false;
};

}  // namespace

std::unique_ptr<OpKernel> MakeArmMulKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (ctx.node().op_code != BuiltinOperator::kMul || !env.own.mul) return nullptr;
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (a == nullptr || b == nullptr || a->is_constant || b->is_constant) return nullptr;
  auto kernel = std::make_unique<MulArmKernel>();
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

#endif  // __aarch64__

}  // namespace lookout::runtime::internal
