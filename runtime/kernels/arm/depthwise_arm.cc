// Lookout's DEPTHWISE_CONV_2D on 64-bit Arm NEON (depth multiplier 1, any
// window, stride, dilation and padding; uint8, int8 per tensor or per
// channel). Channels go 16 at a time: each tap widens 16 input bytes less
// the input zero point to int16 and multiply-accumulates them with the
// tap's weights less the filter zero point (int16, packed once) into four
// int32x4 accumulators, exact; then XNNPACK's fp32 requantization, so the
// outputs are byte for byte those of the x86 kernel and of XNNPACK's fp32
// operators. Taps outside the image are skipped: (x − zx) would be 0 there.
//
// Rows of the output x blocks of 16 channels are the units of work; a block
// keeps a 3x3 window's weights in registers across its row.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "kernels/arm/requant_neon.h"
#include "kernels/depthwise.h"
#include "kernels/kernel_util.h"
#include "kernels/pointwise.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

#if defined(__aarch64__)
namespace {

using arm::MakeRequant;
using arm::Pack16;
using arm::Requant;
using arm::ScaleRound;
using arm::StorePartial;

constexpr int32_t kBlock = 16;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

// 16 input bytes less the zero point, as two int16x8.
template <bool kSigned>
LOOKOUT_ARM_INLINE void Widen(const uint8_t* p, uint8x16_t zero_point, int16x8_t* lo, int16x8_t* hi) {
  const uint8x16_t x = vld1q_u8(p);
  if constexpr (kSigned) {
    const int8x16_t sx = vreinterpretq_s8_u8(x), sz = vreinterpretq_s8_u8(zero_point);
    *lo = vsubl_s8(vget_low_s8(sx), vget_low_s8(sz));
    *hi = vsubl_high_s8(sx, sz);
  } else {
    *lo = vreinterpretq_s16_u16(vsubl_u8(vget_low_u8(x), vget_low_u8(zero_point)));
    *hi = vreinterpretq_s16_u16(vsubl_high_u8(x, zero_point));
  }
}

struct Acc {
  int32x4_t a0, a1, a2, a3;
};

LOOKOUT_ARM_INLINE void Tap(Acc& acc, int16x8_t xl, int16x8_t xh, int16x8_t wl, int16x8_t wh) {
  acc.a0 = vmlal_s16(acc.a0, vget_low_s16(xl), vget_low_s16(wl));
  acc.a1 = vmlal_high_s16(acc.a1, xl, wl);
  acc.a2 = vmlal_s16(acc.a2, vget_low_s16(xh), vget_low_s16(wh));
  acc.a3 = vmlal_high_s16(acc.a3, xh, wh);
}

class DepthwiseArmKernel : public OpKernel {
 public:
  explicit DepthwiseArmKernel(pthreadpool_t pool) : pool_(pool) {}

  Status Prepare(KernelContext& ctx) override {
    const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
    in_ = ctx.input(0);
    out_ = ctx.output(0);
    const Tensor& filter = *ctx.input(1);
    const Tensor* bias = ctx.input(2);
    signed_ = in_->type == DataType::kInt8;
    batch_ = in_->dim(0);
    in_h_ = in_->dim(1);
    in_w_ = in_->dim(2);
    channels_ = in_->dim(3);
    out_h_ = out_->dim(1);
    out_w_ = out_->dim(2);
    k_h_ = filter.dim(1);
    k_w_ = filter.dim(2);
    stride_h_ = o->stride_h();
    stride_w_ = o->stride_w();
    dil_h_ = o->dilation_h_factor();
    dil_w_ = o->dilation_w_factor();
    const int padding = static_cast<int>(o->padding());
    pad_top_ = padding == 0 ? ComputePadding(stride_h_, dil_h_, in_h_, k_h_, out_h_) : 0;
    pad_left_ = padding == 0 ? ComputePadding(stride_w_, dil_w_, in_w_, k_w_, out_w_) : 0;
    blocks_ = (channels_ + kBlock - 1) / kBlock;
    const size_t padded = static_cast<size_t>(blocks_) * kBlock;
    taps_ = static_cast<size_t>(k_h_) * static_cast<size_t>(k_w_);

    // [block][tap][16 channels] of int16 w − zw; padded channels 0.
    weights_.reset(static_cast<int16_t*>(std::aligned_alloc(64, std::max<size_t>(64, (taps_ * padded * 2 + 63) / 64 * 64))));
    bias_.assign(padded, 0);
    scale_.assign(padded, 0.0f);
    if (!weights_) return ctx.Error("cannot allocate packed weights");
    const int32_t filter_zp = signed_ ? 0 : filter.zero_point;
    for (size_t t = 0; t < taps_; ++t) {
      for (size_t c = 0; c < padded; ++c) {
        int32_t w = 0;
        if (c < static_cast<size_t>(channels_)) {
          const size_t i = t * static_cast<size_t>(channels_) + c;
          w = signed_ ? static_cast<int32_t>(filter.data_as<int8_t>()[i])
                      : static_cast<int32_t>(filter.data_as<uint8_t>()[i]) - filter_zp;
        }
        weights_[(c / kBlock) * taps_ * kBlock + t * kBlock + c % kBlock] = static_cast<int16_t>(w);
      }
    }
    const bool per_channel = filter.quantization.scale.size() > 1;
    for (size_t c = 0; c < static_cast<size_t>(channels_); ++c) {
      bias_[c] = bias != nullptr ? ReadInt32(*bias, c) : 0;
      const float filter_scale = per_channel ? filter.quantization.scale[c] : filter.scale;
      // As XNNPACK forms it: float product, then float division.
      scale_[c] = in_->scale * filter_scale / out_->scale;
    }
    int32_t lo, hi;
    reference::ActivationRangeQuantized(static_cast<int>(o->fused_activation_function()), out_->scale,
                                        out_->zero_point, QMin(out_->type), QMax(out_->type), &lo, &hi);
    act_min_ = lo;
    act_max_ = hi;
    in_zp_ = in_->zero_point;
    out_zp_ = out_->zero_point;

    // Output columns whose whole window lies inside the image.
    ox_lo_ = 0;
    while (ox_lo_ < out_w_ && ox_lo_ * stride_w_ - pad_left_ < 0) ++ox_lo_;
    ox_hi_ = out_w_;
    while (ox_hi_ > ox_lo_ && (ox_hi_ - 1) * stride_w_ - pad_left_ + (k_w_ - 1) * dil_w_ >= in_w_) --ox_hi_;
    return {};
  }

  void Eval() override {
    const size_t rows = static_cast<size_t>(batch_) * static_cast<size_t>(out_h_);
    if (k_h_ == 3 && k_w_ == 3) {
      pthreadpool_parallelize_2d(pool_, signed_ ? &RunRow<true, 3> : &RunRow<false, 3>, this, rows,
                                 static_cast<size_t>(blocks_), 0);
    } else {
      pthreadpool_parallelize_2d(pool_, signed_ ? &RunRow<true, 0> : &RunRow<false, 0>, this, rows,
                                 static_cast<size_t>(blocks_), 0);
    }
  }

  const char* backend() const override { return "lookout"; }

 private:
  // One output row of one block. kK: 3 for a 3x3 window (weights held in
  // registers), 0 for any other.
  template <bool kSigned, int kK>
  static void RunRow(void* context, size_t row, size_t block) {
    static_cast<const DepthwiseArmKernel*>(context)->Row<kSigned, kK>(row, block);
  }

  template <bool kSigned, int kK>
  void Row(size_t row, size_t block) const {
    const size_t image = row / static_cast<size_t>(out_h_);
    const int32_t oy = static_cast<int32_t>(row % static_cast<size_t>(out_h_));
    const size_t c = static_cast<size_t>(channels_);
    const size_t c0 = block * kBlock;
    const size_t line = static_cast<size_t>(in_w_) * c;
    const uint8_t* const image_in = in_->data + image * static_cast<size_t>(in_h_) * line + c0;
    uint8_t* out = out_->data + (row * static_cast<size_t>(out_w_)) * c + c0;
    const size_t n = std::min<size_t>(kBlock, c - c0);
    const int16_t* const w = weights_.get() + block * taps_ * kBlock;
    const int32_t* bias = bias_.data() + c0;
    const float* scale = scale_.data() + c0;
    const int32x4_t b0 = vld1q_s32(bias), b1 = vld1q_s32(bias + 4), b2 = vld1q_s32(bias + 8), b3 = vld1q_s32(bias + 12);
    const float32x4_t s0 = vld1q_f32(scale), s1 = vld1q_f32(scale + 4), s2 = vld1q_f32(scale + 8),
                      s3 = vld1q_f32(scale + 12);
    const Requant q = MakeRequant(out_zp_, act_min_, act_max_);
    const uint8x16_t zx = vdupq_n_u8(static_cast<uint8_t>(in_zp_));

    // The window's rows: ky_begin .. ky_end lie inside the image.
    const int32_t iy0 = oy * stride_h_ - pad_top_;
    int32_t ky_begin = 0, ky_end = k_h_;
    while (ky_begin < k_h_ && iy0 + ky_begin * dil_h_ < 0) ++ky_begin;
    while (ky_end > ky_begin && iy0 + (ky_end - 1) * dil_h_ >= in_h_) --ky_end;

    const size_t step = static_cast<size_t>(stride_w_) * c;
    const size_t dx = static_cast<size_t>(dil_w_) * c;
    const size_t dy = static_cast<size_t>(dil_h_) * line;

    auto store = [&](uint8_t* dst, const Acc& a) {
      const uint8x16_t bytes = Pack16<kSigned>(ScaleRound(a.a0, s0), ScaleRound(a.a1, s1), ScaleRound(a.a2, s2),
                                               ScaleRound(a.a3, s3), q);
      StorePartial(dst, bytes, n);
    };

    // Columns with taps outside the image: each tap checked.
    auto edge = [&](int32_t ox) {
      Acc a{b0, b1, b2, b3};
      const int32_t ix0 = ox * stride_w_ - pad_left_;
      for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
        const uint8_t* src_row = image_in + static_cast<size_t>(iy0 + ky * dil_h_) * line;
        for (int32_t kx = 0; kx < k_w_; ++kx) {
          const int32_t ix = ix0 + kx * dil_w_;
          if (ix < 0 || ix >= in_w_) continue;
          const int16_t* wt = w + (static_cast<size_t>(ky) * static_cast<size_t>(k_w_) + static_cast<size_t>(kx)) * kBlock;
          int16x8_t xl, xh;
          Widen<kSigned>(src_row + static_cast<size_t>(ix) * c, zx, &xl, &xh);
          Tap(a, xl, xh, vld1q_s16(wt), vld1q_s16(wt + 8));
        }
      }
      store(out + static_cast<size_t>(ox) * c, a);
    };

    for (int32_t ox = 0; ox < ox_lo_; ++ox) edge(ox);
    if (ox_lo_ < ox_hi_) {
      const uint8_t* src = image_in + static_cast<size_t>(iy0 + ky_begin * dil_h_) * line +
                           static_cast<size_t>(ox_lo_ * stride_w_ - pad_left_) * c;
      uint8_t* dst = out + static_cast<size_t>(ox_lo_) * c;
      if constexpr (kK == 3) {
        if (ky_begin == 0 && ky_end == 3) {
          // The whole 3x3 window inside: weights in registers.
          const int16x8_t w0l = vld1q_s16(w), w0h = vld1q_s16(w + 8), w1l = vld1q_s16(w + 16),
                          w1h = vld1q_s16(w + 24), w2l = vld1q_s16(w + 32), w2h = vld1q_s16(w + 40),
                          w3l = vld1q_s16(w + 48), w3h = vld1q_s16(w + 56), w4l = vld1q_s16(w + 64),
                          w4h = vld1q_s16(w + 72), w5l = vld1q_s16(w + 80), w5h = vld1q_s16(w + 88),
                          w6l = vld1q_s16(w + 96), w6h = vld1q_s16(w + 104), w7l = vld1q_s16(w + 112),
                          w7h = vld1q_s16(w + 120), w8l = vld1q_s16(w + 128), w8h = vld1q_s16(w + 136);
          for (int32_t ox = ox_lo_; ox < ox_hi_; ++ox, src += step, dst += c) {
            Acc a{b0, b1, b2, b3};
            int16x8_t xl, xh;
#define LOOKOUT_TAP(p, wl, wh)         \
  Widen<kSigned>(p, zx, &xl, &xh);     \
  Tap(a, xl, xh, wl, wh);
            LOOKOUT_TAP(src, w0l, w0h)
            LOOKOUT_TAP(src + dx, w1l, w1h)
            LOOKOUT_TAP(src + 2 * dx, w2l, w2h)
            LOOKOUT_TAP(src + dy, w3l, w3h)
            LOOKOUT_TAP(src + dy + dx, w4l, w4h)
            LOOKOUT_TAP(src + dy + 2 * dx, w5l, w5h)
            LOOKOUT_TAP(src + 2 * dy, w6l, w6h)
            LOOKOUT_TAP(src + 2 * dy + dx, w7l, w7h)
            LOOKOUT_TAP(src + 2 * dy + 2 * dx, w8l, w8h)
#undef LOOKOUT_TAP
            store(dst, a);
          }
          for (int32_t ox = ox_hi_; ox < out_w_; ++ox) edge(ox);
          return;
        }
      }
      for (int32_t ox = ox_lo_; ox < ox_hi_; ++ox, src += step, dst += c) {
        Acc a{b0, b1, b2, b3};
        const uint8_t* p_row = src;
        for (int32_t ky = ky_begin; ky < ky_end; ++ky, p_row += dy) {
          const int16_t* wt = w + static_cast<size_t>(ky) * static_cast<size_t>(k_w_) * kBlock;
          const uint8_t* p = p_row;
          for (int32_t kx = 0; kx < k_w_; ++kx, p += dx, wt += kBlock) {
            int16x8_t xl, xh;
            Widen<kSigned>(p, zx, &xl, &xh);
            Tap(a, xl, xh, vld1q_s16(wt), vld1q_s16(wt + 8));
          }
        }
        store(dst, a);
      }
    }
    for (int32_t ox = std::max(ox_hi_, ox_lo_); ox < out_w_; ++ox) edge(ox);
  }

  pthreadpool_t pool_;
  Tensor *in_ = nullptr, *out_ = nullptr;
  bool signed_ = false;
  int32_t batch_ = 0, in_h_ = 0, in_w_ = 0, channels_ = 0, out_h_ = 0, out_w_ = 0;
  int32_t k_h_ = 0, k_w_ = 0, stride_h_ = 1, stride_w_ = 1, dil_h_ = 1, dil_w_ = 1;
  int32_t pad_top_ = 0, pad_left_ = 0, blocks_ = 0;
  int32_t act_min_ = 0, act_max_ = 0, in_zp_ = 0, out_zp_ = 0;
  int32_t ox_lo_ = 0, ox_hi_ = 0;
  size_t taps_ = 0;
  std::unique_ptr<int16_t[], AlignedFree> weights_;
  std::vector<int32_t> bias_;
  std::vector<float> scale_;
};

}  // namespace

std::unique_ptr<OpKernel> MakeDepthwiseKernel(KernelContext& ctx, pthreadpool_t pool) {
  if (ctx.node().op_code != 4 /* DEPTHWISE_CONV_2D */ || OwnKernelDisabled("depthwise")) return nullptr;
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr || in->rank() != 4 || out->rank() != 4 ||
      filter->rank() != 4 || in->dim(3) != out->dim(3) || filter->dim(3) != out->dim(3)) {
    return nullptr;  // depth multiplier > 1: XNNPACK's
  }
  if (in->type != filter->type || in->type != out->type) return nullptr;
  if (in->type != DataType::kUInt8 && in->type != DataType::kInt8) return nullptr;
  if (!filter->is_constant || filter->data == nullptr) return nullptr;
  if (ctx.input(2) != nullptr) {
    const Tensor& bias = *ctx.input(2);
    if (!bias.is_constant || bias.type != DataType::kInt32 || bias.elements != static_cast<size_t>(out->dim(3))) {
      return nullptr;
    }
  }
  if (in->type == DataType::kInt8) {
    for (int64_t zp : filter->quantization.zero_point) {
      if (zp != 0) return nullptr;
    }
  } else if (filter->quantization.scale.size() > 1 || filter->zero_point < 0 || filter->zero_point > 255) {
    return nullptr;
  }
  const size_t channels = static_cast<size_t>(out->dim(3));
  const bool per_channel = filter->quantization.scale.size() > 1;
  if (per_channel && filter->quantization.scale.size() != channels) return nullptr;
  // XNNPACK refuses requantization scales outside [2^-32, 256); so do we,
  // so that the two agree on which nodes they take.
  for (size_t c = 0; c < channels; ++c) {
    const float filter_scale = per_channel ? filter->quantization.scale[c] : filter->scale;
    const float scale = in->scale * filter_scale / out->scale;
    if (!(scale < 256.0f) || !(scale >= 0x1.0p-32f)) return nullptr;
  }
  auto kernel = std::make_unique<DepthwiseArmKernel>(pool);
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

#endif  // __aarch64__

}  // namespace lookout::runtime::internal
