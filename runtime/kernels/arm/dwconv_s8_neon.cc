// Lookout's int8 DEPTHWISE_CONV_2D on 64-bit Arm NEON (depth multiplier 1,
// filter zero point 0 and bytes in [-127, 127] as TFLite's int8 scheme
// gives them; any window of up to kMaxTaps taps, stride, dilation, padding).
//
// Why it beats XNNPACK's kernels on a Pi: those reload the weights and
// nine input pointers (each checked against the zero buffer) for every
// output pixel. Here a work unit is one output row of 16 channels: a 3x3
// window's weights stay in registers across the row, and inside the image
// the nine taps are fixed offsets from three row pointers (rows outside the
// image point at a row of zx).
//
// Arithmetic: the input zero point is folded into the bias,
//   bias + Σ (x − zx) w = (bias − zx Σ w) + Σ x w   (mod 2^32, as int32 sums),
// and Σ x w takes taps two at a time: vmull_s8 + vmlal_s8 sum two int8
// products in int16, exact because |x w| <= 128 × 127 and two of them
// stay below 2^15; then vaddw widens the pair into the int32 accumulators.
// Taps outside the image read the input zero point, which the folded bias
// cancels. Then XNNPACK's fp32 requantization, so outputs are byte for byte
// those of the x86 kernel and of the pointwise kernels.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/depthwise.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/arm/requant_neon.h"
#include "kernels/kernel_util.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

using arm::MakeRequant;
using arm::Pack16;
using arm::Requant;
using arm::ScaleRound;
using arm::StorePartial;

constexpr int32_t kBlock = 16;    // channels per work unit (one int8x16)
constexpr int32_t kMaxTaps = 64;  // larger windows stay with XNNPACK

struct Acc {
  int32x4_t a0, a1, a2, a3;
};

// Two taps: x0 w0 + x1 w1 in int16 (exact, see above), widened into acc.
LOOKOUT_ARM_INLINE void TapPair(Acc& acc, int8x16_t x0, int8x16_t w0, int8x16_t x1, int8x16_t w1) {
  const int16x8_t lo = vmlal_s8(vmull_s8(vget_low_s8(x0), vget_low_s8(w0)), vget_low_s8(x1), vget_low_s8(w1));
  const int16x8_t hi = vmlal_high_s8(vmull_high_s8(x0, w0), x1, w1);
  acc.a0 = vaddw_s16(acc.a0, vget_low_s16(lo));
  acc.a1 = vaddw_high_s16(acc.a1, lo);
  acc.a2 = vaddw_s16(acc.a2, vget_low_s16(hi));
  acc.a3 = vaddw_high_s16(acc.a3, hi);
}

LOOKOUT_ARM_INLINE void Tap(Acc& acc, int8x16_t x, int8x16_t w) {
  const int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(w));
  const int16x8_t hi = vmull_high_s8(x, w);
  acc.a0 = vaddw_s16(acc.a0, vget_low_s16(lo));
  acc.a1 = vaddw_high_s16(acc.a1, lo);
  acc.a2 = vaddw_s16(acc.a2, vget_low_s16(hi));
  acc.a3 = vaddw_high_s16(acc.a3, hi);
}

LOOKOUT_ARM_INLINE int8x16_t Load(const int8_t* p) { return vld1q_s8(p); }

LOOKOUT_ARM_INLINE uint8x16_t Requantize(const Acc& a, const float* scale, const Requant& q) {
  return Pack16<true>(ScaleRound(a.a0, vld1q_f32(scale)), ScaleRound(a.a1, vld1q_f32(scale + 4)),
                      ScaleRound(a.a2, vld1q_f32(scale + 8)), ScaleRound(a.a3, vld1q_f32(scale + 12)), q);
}

struct Weights3x3 {
  int8x16_t w0, w1, w2, w3, w4, w5, w6, w7, w8;
};

// One output pixel of a 3x3 window on 16 channels, taps p0..p8 row-major.
LOOKOUT_ARM_INLINE uint8x16_t Pixel3x3(const int8_t* p0, const int8_t* p1, const int8_t* p2, const int8_t* p3,
                                       const int8_t* p4, const int8_t* p5, const int8_t* p6, const int8_t* p7,
                                       const int8_t* p8, const Weights3x3& w, const int32_t* bias,
                                       const float* scale, const Requant& q) {
  Acc a{vld1q_s32(bias), vld1q_s32(bias + 4), vld1q_s32(bias + 8), vld1q_s32(bias + 12)};
  TapPair(a, Load(p0), w.w0, Load(p1), w.w1);
  TapPair(a, Load(p2), w.w2, Load(p3), w.w3);
  TapPair(a, Load(p4), w.w4, Load(p5), w.w5);
  TapPair(a, Load(p6), w.w6, Load(p7), w.w7);
  Tap(a, Load(p8), w.w8);
  return Requantize(a, scale, q);
}

class DepthwiseS8NeonKernel : public OpKernel, DepthwiseGeometry {
 public:
  explicit DepthwiseS8NeonKernel(pthreadpool_t pool) : pool_(pool) {}

  Status Prepare(KernelContext& ctx) override {
    const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
    if (o == nullptr) return ctx.Error("missing DepthwiseConv2DOptions");
    in_ = ctx.input(0);
    out_ = ctx.output(0);
    const Tensor& filter = *ctx.input(1);
    const Tensor* bias = ctx.input(2);
    ReadGeometry(ctx);
    blocks_ = (channels_ + kBlock - 1) / kBlock;
    taps_ = static_cast<size_t>(k_h_) * static_cast<size_t>(k_w_);
    const size_t padded = static_cast<size_t>(blocks_) * kBlock;
    const size_t channels = static_cast<size_t>(channels_);

    // [block][tap][16 channels]; channels past the end weigh 0.
    weights_.reset(static_cast<int8_t*>(std::aligned_alloc(64, (taps_ * padded + 63) / 64 * 64)));
    if (!weights_) return ctx.Error("cannot allocate packed weights");
    std::memset(weights_.get(), 0, taps_ * padded);
    const auto* w = filter.data_as<int8_t>();
    for (size_t t = 0; t < taps_; ++t) {
      for (size_t c = 0; c < channels; ++c) {
        weights_[(c / kBlock) * taps_ * kBlock + t * kBlock + c % kBlock] = w[t * channels + c];
      }
    }
    in_zp_ = in_->zero_point;
    bias_.assign(padded, 0);
    scale_.assign(padded, 0.0f);
    const bool per_channel = filter.quantization.scale.size() > 1;
    for (size_t c = 0; c < channels; ++c) {
      uint32_t sum = 0;
      for (size_t t = 0; t < taps_; ++t) sum += static_cast<uint32_t>(static_cast<int32_t>(w[t * channels + c]));
      const uint32_t b = bias != nullptr ? static_cast<uint32_t>(ReadInt32(*bias, c)) : 0u;
      bias_[c] = static_cast<int32_t>(b - static_cast<uint32_t>(in_zp_) * sum);
      const float filter_scale = per_channel ? filter.quantization.scale[c] : filter.scale;
      scale_[c] = in_->scale * filter_scale / out_->scale;  // as XNNPACK forms it
    }
    const size_t zero_bytes = (static_cast<size_t>(in_w_) * channels + kBlock + 63) / 64 * 64;
    zero_row_.reset(static_cast<int8_t*>(std::aligned_alloc(64, zero_bytes)));
    if (!zero_row_) return ctx.Error("cannot allocate the zero row");
    std::memset(zero_row_.get(), static_cast<int8_t>(in_zp_), zero_bytes);
    int32_t lo, hi;
    reference::ActivationRangeQuantized(static_cast<int>(o->fused_activation_function()), out_->scale,
                                        out_->zero_point, QMin(out_->type), QMax(out_->type), &lo, &hi);
    act_min_ = lo;
    act_max_ = hi;
    out_zp_ = out_->zero_point;

    // Output columns whose whole window lies inside the image.
    ox_lo_ = 0;
    while (ox_lo_ < out_w_ && ox_lo_ * stride_w_ - pad_left_ < 0) ++ox_lo_;
    ox_hi_ = out_w_;
    while (ox_hi_ > ox_lo_ && (ox_hi_ - 1) * stride_w_ - pad_left_ + (k_w_ - 1) * dil_w_ >= in_w_) --ox_hi_;
    return {};
  }

  Status Eval() override {
    const size_t rows = static_cast<size_t>(batch_) * static_cast<size_t>(out_h_);
    pthreadpool_parallelize_2d(pool_, &RunRow, this, rows, static_cast<size_t>(blocks_), 0);
    return {};
  }

  KernelFamily family() const override { return KernelFamily::kOwnArm; }

 private:
  static void RunRow(void* context, size_t row, size_t block) {
    static_cast<const DepthwiseS8NeonKernel*>(context)->Row(row, block);
  }

  void Row(size_t row, size_t block) const {
    const size_t image = row / static_cast<size_t>(out_h_);
    const int32_t oy = static_cast<int32_t>(row % static_cast<size_t>(out_h_));
    const size_t c = static_cast<size_t>(channels_);
    const size_t c0 = block * kBlock;
    const size_t n = std::min<size_t>(kBlock, c - c0);
    const size_t line = static_cast<size_t>(in_w_) * c;
    const int8_t* const image_in =
        reinterpret_cast<const int8_t*>(in_->data) + image * static_cast<size_t>(in_h_) * line + c0;
    uint8_t* const out = out_->data + row * static_cast<size_t>(out_w_) * c + c0;
    const int8_t* const w = weights_.get() + block * taps_ * kBlock;
    // Read through pointers in the loops: the output stores may alias them,
    // so they are reloaded per pixel rather than held in eight registers.
    const int32_t* const bias = bias_.data() + c0;
    const float* const scale = scale_.data() + c0;
    const int32_t iy0 = oy * stride_h_ - pad_top_;

    if (k_h_ != 3 || k_w_ != 3 || n != kBlock) {
      const Requant q = MakeRequant(out_zp_, act_min_, act_max_);
      for (int32_t ox = 0; ox < out_w_; ++ox) {
        AnyColumn(image_in, iy0, ox, w, n, bias, scale, q, out + static_cast<size_t>(ox) * c);
      }
      return;
    }
    // 3x3 on 16 channels: the window's rows (rows outside the image read
    // the zero row).
    const int8_t* r[3];
    for (int32_t ky = 0; ky < 3; ++ky) {
      const int32_t iy = iy0 + ky * dil_h_;
      r[ky] = iy >= 0 && iy < in_h_ ? image_in + static_cast<size_t>(iy) * line : zero_row_.get();
    }
    // Everything below is a local value, so that the compiler keeps the
    // weights and constants in registers across the stores.
    const Weights3x3 ws{Load(w),      Load(w + 16), Load(w + 32), Load(w + 48), Load(w + 64),
                        Load(w + 80), Load(w + 96), Load(w + 112), Load(w + 128)};
    const Requant q = MakeRequant(out_zp_, act_min_, act_max_);
    const int32_t out_w = out_w_, in_w = in_w_, stride_w = stride_w_, dil_w = dil_w_, pad_left = pad_left_;
    const int32_t ox_lo = std::min(ox_lo_, out_w), ox_hi = std::max(ox_hi_, ox_lo);
    const size_t dx = static_cast<size_t>(dil_w) * c, step = static_cast<size_t>(stride_w) * c;
    const int8_t* const zero = zero_row_.get();
    // Columns with taps left or right of the image: those read the zero row.
    const int32_t edges = ox_lo + (out_w - ox_hi);
    for (int32_t e = 0; e < edges; ++e) {
      const int32_t ox = e < ox_lo ? e : ox_hi + (e - ox_lo);
      const int32_t ix0 = ox * stride_w - pad_left, ix1 = ix0 + dil_w, ix2 = ix1 + dil_w;
      const auto inside = [in_w](int32_t ix) { return ix >= 0 && ix < in_w; };
      const size_t x0 = static_cast<size_t>(ix0) * c, x1 = static_cast<size_t>(ix1) * c,
                   x2 = static_cast<size_t>(ix2) * c;
      const bool i0 = inside(ix0), i1 = inside(ix1), i2 = inside(ix2);
      vst1q_u8(out + static_cast<size_t>(ox) * c,
               Pixel3x3(i0 ? r[0] + x0 : zero, i1 ? r[0] + x1 : zero, i2 ? r[0] + x2 : zero,
                        i0 ? r[1] + x0 : zero, i1 ? r[1] + x1 : zero, i2 ? r[1] + x2 : zero,
                        i0 ? r[2] + x0 : zero, i1 ? r[2] + x1 : zero, i2 ? r[2] + x2 : zero, ws, bias, scale, q));
    }
    // Columns with the whole window inside: taps at fixed offsets.
    const size_t x = static_cast<size_t>(ox_lo * stride_w - pad_left) * c;
    const int8_t *s0 = r[0] + x, *s1 = r[1] + x, *s2 = r[2] + x;
    uint8_t* dst = out + static_cast<size_t>(ox_lo) * c;
    for (int32_t ox = ox_lo; ox < ox_hi; ++ox, s0 += step, s1 += step, s2 += step, dst += c) {
      vst1q_u8(dst, Pixel3x3(s0, s0 + dx, s0 + 2 * dx, s1, s1 + dx, s1 + 2 * dx, s2, s2 + dx, s2 + 2 * dx, ws, bias,
                             scale, q));
    }
  }

  // Any window, any block: one pointer per tap, to the input or to the zero
  // row; a block short of 16 channels copies its bytes so as not to read
  // past the tensor.
  void AnyColumn(const int8_t* image_in, int32_t iy0, int32_t ox, const int8_t* w, size_t n, const int32_t* bias,
                 const float* scale, const Requant& q, uint8_t* dst) const {
    const size_t c = static_cast<size_t>(channels_);
    const size_t line = static_cast<size_t>(in_w_) * c;
    const int8_t* p[kMaxTaps];
    alignas(16) int8_t partial[kMaxTaps][kBlock];
    const int32_t ix0 = ox * stride_w_ - pad_left_;
    size_t t = 0;
    for (int32_t ky = 0; ky < k_h_; ++ky) {
      const int32_t iy = iy0 + ky * dil_h_;
      for (int32_t kx = 0; kx < k_w_; ++kx, ++t) {
        const int32_t ix = ix0 + kx * dil_w_;
        if (iy < 0 || iy >= in_h_ || ix < 0 || ix >= in_w_) {
          p[t] = zero_row_.get();
          continue;
        }
        p[t] = image_in + static_cast<size_t>(iy) * line + static_cast<size_t>(ix) * c;
        if (n < kBlock) {
          std::memcpy(partial[t], p[t], n);
          p[t] = partial[t];
        }
      }
    }
    Acc a{vld1q_s32(bias), vld1q_s32(bias + 4), vld1q_s32(bias + 8), vld1q_s32(bias + 12)};
    size_t k = 0;
    for (; k + 1 < taps_; k += 2) {
      TapPair(a, Load(p[k]), Load(w + k * kBlock), Load(p[k + 1]), Load(w + (k + 1) * kBlock));
    }
    if (k < taps_) Tap(a, Load(p[k]), Load(w + k * kBlock));
    StorePartial(dst, Requantize(a, scale, q), n);
  }

  pthreadpool_t pool_;
  Tensor *in_ = nullptr, *out_ = nullptr;
  int32_t blocks_ = 0;
  int32_t act_min_ = 0, act_max_ = 0, in_zp_ = 0, out_zp_ = 0;
  int32_t ox_lo_ = 0, ox_hi_ = 0;
  size_t taps_ = 0;
  std::unique_ptr<int8_t[], AlignedFree> weights_;
  std::vector<int32_t> bias_;  // folded: bias − zx Σ w
  std::vector<float> scale_;
  std::unique_ptr<int8_t[], AlignedFree> zero_row_;  // an input row of zx, for taps outside the image
};

}  // namespace

std::unique_ptr<OpKernel> MakeArmDepthwiseKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (ctx.node().op_code != BuiltinOperator::kDepthwiseConv2D || !env.own.depthwise) return nullptr;
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr || in->rank() != 4 || out->rank() != 4 ||
      filter->rank() != 4 || in->dim(3) != out->dim(3) || filter->dim(3) != out->dim(3)) {
    return nullptr;  // depth multiplier > 1: XNNPACK's
  }
  // uint8 filters carry a zero point, so w − zw needs 9 bits: XNNPACK's.
  if (in->type != DataType::kInt8 || filter->type != DataType::kInt8 || out->type != DataType::kInt8) return nullptr;
  if (!filter->is_constant || filter->data == nullptr) return nullptr;
  if (static_cast<int64_t>(filter->dim(1)) * filter->dim(2) > kMaxTaps) return nullptr;
  for (int64_t zp : filter->quantization.zero_point) {
    if (zp != 0) return nullptr;
  }
  // −128 would let a pair of products overflow int16.
  const auto* w = filter->data_as<int8_t>();
  if (std::find(w, w + filter->elements, int8_t{-128}) != w + filter->elements) return nullptr;
  const size_t channels = static_cast<size_t>(out->dim(3));
  if (ctx.input(2) != nullptr) {
    const Tensor& bias = *ctx.input(2);
    if (!bias.is_constant || bias.type != DataType::kInt32 || bias.elements != channels) return nullptr;
  }
  const bool per_channel = filter->quantization.scale.size() > 1;
  if (per_channel && filter->quantization.scale.size() != channels) return nullptr;
  // XNNPACK refuses requantization scales outside [2^-32, 256); so do we,
  // so that the two agree on which nodes they take.
  for (size_t c = 0; c < channels; ++c) {
    const float filter_scale = per_channel ? filter->quantization.scale[c] : filter->scale;
    const float scale = in->scale * filter_scale / out->scale;
    if (!(scale < 256.0f) || !(scale >= 0x1.0p-32f)) return nullptr;
  }
  auto kernel = std::make_unique<DepthwiseS8NeonKernel>(env.pool);
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

}  // namespace lookout::runtime::internal

#endif  // __aarch64__
