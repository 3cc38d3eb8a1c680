#include "kernels/depthwise.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/kernel_util.h"
#include "kernels/pointwise.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

#if defined(__x86_64__)
// GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
// intrinsics as maybe-uninitialized (a known false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace {

constexpr int kLanes = 16;  // int32 accumulators per zmm

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
std::unique_ptr<T[], AlignedFree> AllocateAligned(size_t count) {
  const size_t bytes = std::max<size_t>(64, (count * sizeof(T) + 63) / 64 * 64);
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(std::aligned_alloc(64, bytes)));
}

class DepthwiseKernel : public OpKernel {
 public:
  DepthwiseKernel(pthreadpool_t pool) : pool_(pool) {}

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
    padded_channels_ = (channels_ + kLanes - 1) / kLanes * kLanes;

    // Weights as int32 (zero point removed), [tap][channel], channels padded.
    const size_t taps = static_cast<size_t>(k_h_) * static_cast<size_t>(k_w_);
    weights_ = AllocateAligned<int32_t>(taps * static_cast<size_t>(padded_channels_));
    bias_ = AllocateAligned<int32_t>(static_cast<size_t>(padded_channels_));
    scale_ = AllocateAligned<float>(static_cast<size_t>(padded_channels_));
    if (!weights_ || !bias_ || !scale_) return ctx.Error("cannot allocate packed weights");
    const int32_t filter_zp = signed_ ? 0 : filter.zero_point;
    for (size_t t = 0; t < taps; ++t) {
      for (int32_t c = 0; c < padded_channels_; ++c) {
        int32_t w = 0;
        if (c < channels_) {
          const size_t i = t * static_cast<size_t>(channels_) + static_cast<size_t>(c);
          w = signed_ ? static_cast<int32_t>(filter.data_as<int8_t>()[i])
                      : static_cast<int32_t>(filter.data_as<uint8_t>()[i]) - filter_zp;
        }
        // Low 16 bits only: multiplied by vpmaddwd against the input's
        // low int16 (|x − zero_point| and |w| stay below 2^15), the high
        // halves (0 here) contributing nothing.
        weights_[t * static_cast<size_t>(padded_channels_) + static_cast<size_t>(c)] = w & 0xFFFF;
      }
    }
    const bool per_channel = filter.quantization.scale.size() > 1;
    for (int32_t c = 0; c < padded_channels_; ++c) {
      bias_[static_cast<size_t>(c)] = (bias != nullptr && c < channels_) ? ReadInt32(*bias, static_cast<size_t>(c)) : 0;
      const float filter_scale =
          per_channel ? filter.quantization.scale[static_cast<size_t>(std::min(c, channels_ - 1))] : filter.scale;
      // As XNNPACK forms it: float product, then float division.
      scale_[static_cast<size_t>(c)] = in_->scale * filter_scale / out_->scale;
    }
    // bias − in_zp × Σw: the whole-window sum Σ(x − in_zp)·w as Σx·w + this.
    folded_bias_ = AllocateAligned<int32_t>(static_cast<size_t>(padded_channels_));
    if (!folded_bias_) return ctx.Error("cannot allocate packed weights");
    for (int32_t c = 0; c < padded_channels_; ++c) {
      int64_t sum = 0;
      for (size_t t = 0; t < taps; ++t) {
        sum += static_cast<int16_t>(weights_[t * static_cast<size_t>(padded_channels_) + static_cast<size_t>(c)]);
      }
      folded_bias_[static_cast<size_t>(c)] =
          static_cast<int32_t>(static_cast<int64_t>(bias_[static_cast<size_t>(c)]) - int64_t{in_->zero_point} * sum);
    }
    fast3x3_ = k_h_ == 3 && k_w_ == 3 && dil_h_ == 1 && dil_w_ == 1;
    int32_t lo, hi;
    reference::ActivationRangeQuantized(static_cast<int>(o->fused_activation_function()), out_->scale,
                                        out_->zero_point, QMin(out_->type), QMax(out_->type), &lo, &hi);
    act_min_ = lo;
    act_max_ = hi;
    in_zp_ = in_->zero_point;
    out_zp_ = out_->zero_point;
    return {};
  }

  void Eval() override {
    pthreadpool_parallelize_1d(pool_, &DepthwiseKernel::RowTask, this,
                               static_cast<size_t>(batch_) * static_cast<size_t>(out_h_), 0);
  }
  const char* backend() const override { return "lookout"; }

 private:
  static void RowTask(void* self, size_t row) {
    auto* k = static_cast<DepthwiseKernel*>(self);
    if (k->signed_) {
      k->Row<true>(row);
    } else {
      k->Row<false>(row);
    }
  }

  // One output pixel's channels [c, c + 16) for any window: taps outside the
  // image are skipped (they would add (zero_point − zero_point) × w = 0).
  template <bool kSigned>
  __attribute__((target("avx512f,avx512bw,avx512vl"))) __m512i AccumulateGeneric(
      const uint8_t* in, int32_t iy0, int32_t ix0, int32_t ky_begin, int32_t ky_end, int32_t c,
      __mmask16 mask) const {
    const size_t cstride = static_cast<size_t>(padded_channels_);
    const __m512i in_zp = _mm512_set1_epi32(in_zp_);
    int32_t kx_begin = 0, kx_end = k_w_;
    while (kx_begin < k_w_ && ix0 + kx_begin * dil_w_ < 0) ++kx_begin;
    while (kx_end > kx_begin && ix0 + (kx_end - 1) * dil_w_ >= in_w_) --kx_end;
    __m512i acc = _mm512_load_si512(bias_.get() + c);
    for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
      const uint8_t* src_row = in + static_cast<size_t>(iy0 + ky * dil_h_) * in_w_ * channels_ + c;
      const int32_t* w_row = weights_.get() + static_cast<size_t>(ky * k_w_) * cstride + c;
      for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
        const __m128i bytes =
            _mm_maskz_loadu_epi8(mask, src_row + static_cast<size_t>(ix0 + kx * dil_w_) * channels_);
        const __m512i x = kSigned ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
        const __m512i w = _mm512_load_si512(w_row + static_cast<size_t>(kx) * cstride);
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_sub_epi32(x, in_zp), w));
      }
    }
    return acc;
  }

  template <bool kSigned>
  __attribute__((target("avx512f,avx512bw,avx512vl"))) void Row(size_t row) {
    const int32_t n = static_cast<int32_t>(row / static_cast<size_t>(out_h_));
    const int32_t oy = static_cast<int32_t>(row % static_cast<size_t>(out_h_));
    const int32_t iy0 = oy * stride_h_ - pad_top_;
    // Window rows inside the image.
    int32_t ky_begin = 0, ky_end = k_h_;
    while (ky_begin < k_h_ && iy0 + ky_begin * dil_h_ < 0) ++ky_begin;
    while (ky_end > ky_begin && iy0 + (ky_end - 1) * dil_h_ >= in_h_) --ky_end;
    const bool full_rows = ky_begin == 0 && ky_end == k_h_;
    // Output columns whose whole window lies inside the image.
    const int32_t span_w = (k_w_ - 1) * dil_w_;
    int32_t ox_lo = (pad_left_ + stride_w_ - 1) / stride_w_;
    int32_t ox_hi = in_w_ - 1 - span_w + pad_left_ >= 0 ? (in_w_ - 1 - span_w + pad_left_) / stride_w_ + 1 : 0;
    ox_hi = std::min(ox_hi, out_w_);
    if (!full_rows || !fast3x3_) ox_lo = ox_hi = 0;
    ox_lo = std::min(ox_lo, ox_hi);

    const uint8_t* in = in_->data + static_cast<size_t>(n) * in_h_ * in_w_ * channels_;
    uint8_t* out = out_->data + (static_cast<size_t>(n) * out_h_ + oy) * out_w_ * channels_;
    const __m512i out_zp = _mm512_set1_epi32(out_zp_);
    const __m512 fmin = _mm512_set1_ps(static_cast<float>(act_min_ - out_zp_));
    const __m512 fmax = _mm512_set1_ps(static_cast<float>(act_max_ - out_zp_));
    const __m512i vmin = _mm512_set1_epi32(act_min_);
    const __m512i vmax = _mm512_set1_epi32(act_max_);
    const size_t cstride = static_cast<size_t>(padded_channels_);
    const size_t pixel = static_cast<size_t>(channels_);
    const size_t line = static_cast<size_t>(in_w_) * pixel;

    for (int32_t c = 0; c < channels_; c += kLanes) {
      const int32_t left = channels_ - c;
      const __mmask16 mask = left >= kLanes ? static_cast<__mmask16>(0xFFFF)
                                            : static_cast<__mmask16>((1u << left) - 1);
      const __m512 scale = _mm512_load_ps(scale_.get() + c);
#define LOOKOUT_DW_STORE(ox, acc)                                                                     \
  do {                                                                                                \
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);                                         \
    f = _mm512_min_ps(_mm512_max_ps(f, fmin), fmax);                                                  \
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), out_zp);                                      \
    q = _mm512_min_epi32(_mm512_max_epi32(q, vmin), vmax);                                            \
    _mm_mask_storeu_epi8(out + static_cast<size_t>(ox) * pixel + c, mask, _mm512_cvtepi32_epi8(q));   \
  } while (0)
      for (int32_t ox = 0; ox < ox_lo; ++ox) {
        const __m512i acc = AccumulateGeneric<kSigned>(in, iy0, ox * stride_w_ - pad_left_, ky_begin, ky_end, c, mask);
        LOOKOUT_DW_STORE(ox, acc);
      }
      if (ox_lo < ox_hi) {
        // 3x3, dilation 1, window inside the image: the nine weight vectors
        // stay in registers, and the input zero point is folded into the bias.
        const int32_t* w = weights_.get() + c;
        const __m512i w0 = _mm512_load_si512(w), w1 = _mm512_load_si512(w + cstride),
                      w2 = _mm512_load_si512(w + 2 * cstride), w3 = _mm512_load_si512(w + 3 * cstride),
                      w4 = _mm512_load_si512(w + 4 * cstride), w5 = _mm512_load_si512(w + 5 * cstride),
                      w6 = _mm512_load_si512(w + 6 * cstride), w7 = _mm512_load_si512(w + 7 * cstride),
                      w8 = _mm512_load_si512(w + 8 * cstride);
        const __m512i folded = _mm512_load_si512(folded_bias_.get() + c);
        const size_t step = static_cast<size_t>(stride_w_) * pixel;
        const uint8_t* src = in + static_cast<size_t>(iy0) * line + static_cast<size_t>(ox_lo * stride_w_ - pad_left_) * pixel + c;
#define tap(p) (kSigned ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, (p))) \
                      : _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, (p))))
        int32_t ox = ox_lo;
        if (stride_w_ == 1) {
          // Four outputs at a time: each of the six input columns they span
          // is loaded and widened once per row and used by up to three.
          for (; ox + 4 <= ox_hi; ox += 4, src += 4 * pixel) {
            __m512i r0 = folded, r1 = folded, r2 = folded, r3 = folded;
            const __m512i* wk[3][3] = {{&w0, &w1, &w2}, {&w3, &w4, &w5}, {&w6, &w7, &w8}};
            for (int ky = 0; ky < 3; ++ky) {
              const uint8_t* p = src + static_cast<size_t>(ky) * line;
              const __m512i x0 = tap(p), x1 = tap(p + pixel), x2 = tap(p + 2 * pixel), x3 = tap(p + 3 * pixel),
                            x4 = tap(p + 4 * pixel), x5 = tap(p + 5 * pixel);
              const __m512i k0 = *wk[ky][0], k1 = *wk[ky][1], k2 = *wk[ky][2];
              r0 = _mm512_add_epi32(r0, _mm512_add_epi32(_mm512_madd_epi16(x0, k0),
                                                         _mm512_add_epi32(_mm512_madd_epi16(x1, k1), _mm512_madd_epi16(x2, k2))));
              r1 = _mm512_add_epi32(r1, _mm512_add_epi32(_mm512_madd_epi16(x1, k0),
                                                         _mm512_add_epi32(_mm512_madd_epi16(x2, k1), _mm512_madd_epi16(x3, k2))));
              r2 = _mm512_add_epi32(r2, _mm512_add_epi32(_mm512_madd_epi16(x2, k0),
                                                         _mm512_add_epi32(_mm512_madd_epi16(x3, k1), _mm512_madd_epi16(x4, k2))));
              r3 = _mm512_add_epi32(r3, _mm512_add_epi32(_mm512_madd_epi16(x3, k0),
                                                         _mm512_add_epi32(_mm512_madd_epi16(x4, k1), _mm512_madd_epi16(x5, k2))));
            }
            LOOKOUT_DW_STORE(ox, r0);
            LOOKOUT_DW_STORE(ox + 1, r1);
            LOOKOUT_DW_STORE(ox + 2, r2);
            LOOKOUT_DW_STORE(ox + 3, r3);
          }
        }
        for (; ox < ox_hi; ++ox, src += step) {
          __m512i a0 = _mm512_add_epi32(folded, _mm512_madd_epi16(tap(src), w0));
          __m512i a1 = _mm512_madd_epi16(tap(src + pixel), w1);
          __m512i a2 = _mm512_madd_epi16(tap(src + 2 * pixel), w2);
          a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(tap(src + line), w3));
          a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(tap(src + line + pixel), w4));
          a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(tap(src + line + 2 * pixel), w5));
          a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(tap(src + 2 * line), w6));
          a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(tap(src + 2 * line + pixel), w7));
          a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(tap(src + 2 * line + 2 * pixel), w8));
          const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(a0, a1), a2);
          LOOKOUT_DW_STORE(ox, acc);
        }
#undef tap
      }
      for (int32_t ox = ox_hi; ox < out_w_; ++ox) {
        const __m512i acc = AccumulateGeneric<kSigned>(in, iy0, ox * stride_w_ - pad_left_, ky_begin, ky_end, c, mask);
        LOOKOUT_DW_STORE(ox, acc);
      }
#undef LOOKOUT_DW_STORE
    }
  }

  pthreadpool_t pool_;
  Tensor *in_ = nullptr, *out_ = nullptr;
  bool signed_ = false;
  int32_t batch_ = 0, in_h_ = 0, in_w_ = 0, channels_ = 0, out_h_ = 0, out_w_ = 0;
  int32_t k_h_ = 0, k_w_ = 0, stride_h_ = 1, stride_w_ = 1, dil_h_ = 1, dil_w_ = 1;
  int32_t pad_top_ = 0, pad_left_ = 0, padded_channels_ = 0;
  int32_t act_min_ = 0, act_max_ = 0, in_zp_ = 0, out_zp_ = 0;
  bool fast3x3_ = false;
  std::unique_ptr<int32_t[], AlignedFree> weights_, bias_, folded_bias_;
  std::unique_ptr<float[], AlignedFree> scale_;
};

}  // namespace

std::unique_ptr<OpKernel> MakeDepthwiseKernel(KernelContext& ctx, pthreadpool_t pool) {
  if (ctx.node().op_code != 4 /* DEPTHWISE_CONV_2D */ || OwnKernelDisabled("depthwise")) return nullptr;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl")) {
    return nullptr;
  }
  const Tensor* in = ctx.input(0);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || out == nullptr || in->rank() != 4 || out->rank() != 4 || in->dim(3) != out->dim(3)) {
    return nullptr;  // depth multiplier > 1: XNNPACK's
  }
  // XNNPACK refuses requantization scales of 256 and above; so do we, so
  // the two paths agree on which nodes they take.
  const Tensor& filter = *ctx.input(1);
  for (size_t c = 0; c < filter.quantization.scale.size(); ++c) {
    const float scale = in->scale * filter.quantization.scale[c] / out->scale;
    if (!(scale < 256.0f) || !(scale >= 0x1.0p-32f)) return nullptr;
  }
  auto kernel = std::make_unique<DepthwiseKernel>(pool);
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

#pragma GCC diagnostic pop

#else  // not x86-64: XNNPACK's NEON kernels serve

std::unique_ptr<OpKernel> MakeDepthwiseKernel(KernelContext&, pthreadpool_t) { return nullptr; }

#endif

}  // namespace lookout::runtime::internal
