// Lookout's DEPTHWISE_CONV_2D on x86-64 with AVX-512 (MakeX86DepthwiseKernel,
// kernels/depthwise.h).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/depthwise.h"
#include "kernels/kernel_util.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
// GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
// intrinsics as maybe-uninitialized (a known false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning: clang rejects the unknown group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace {

constexpr int kLanes = 16;  // int32 accumulators per zmm

// ---------------------------------------------------------------------------
// 3x3 interior on AVX-512 VNNI + VBMI. For one input column (ix) of the
// window's three rows and 16 channels, a "column" vector holds per channel
// the quad [row0, row1, row2, row0] of bytes (the last byte meets a zero
// weight). One vpdpbusd of it against the weight quads of one kx,
// [w(0,kx), w(1,kx), w(2,kx), 0], adds that column's three taps to each
// channel's int32 lane; an output is three such dot products, and with
// stride 1 each column serves three neighbouring outputs.
//
// vpdpbusd multiplies unsigned bytes (the column) by signed ones (weights):
//  * kVnniInt8: x (s8) enters as x ^ 0x80 = x + 128; weights are s8 already:
//      sum (x − zx) w = sum (x + 128) w − (128 + zx) sum w, the last per
//      channel, folded into the bias;
//  * uint8, x (u8) as is. A channel whose nine w − zw all fit s8 uses them:
//      sum (x − zx)(w − zw) = sum x (w − zw) − zx sum (w − zw), the last
//      folded into the bias. Another takes w' = w − 128 (s8) and
//      k = 128 − zw (s8 when zw >= 1; with zw = 0 the node keeps the
//      generic path): sum x (w − zw) = sum x w' + k sum x, k sum x being
//      three more vpdpbusd per output, of the columns against (k, k, k, 0)
//      (0 for the channels that fit). Trained filters have about one such
//      channel per node, so only its block of 16 (kVnniUint8) pays them;
//      blocks without one are kVnniUint8Fit.
// Rows and columns of a window outside the image read the input zero point
// (adding (zx − zx) w = 0, as the generic path's skipped taps). All exact
// int32, so the result is that of the generic path.
enum VnniMode { kVnniInt8 = 1, kVnniUint8Fit, kVnniUint8 };

#define LOOKOUT_DW_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
#define LOOKOUT_DW_INLINE inline __attribute__((always_inline))

// Byte 4j + r of a column takes row r's channel j: rows 0 and 1 sit in
// lanes 0 and 1 of the first source, row 2 in lane 0 of the second (index
// bit 6); byte 4j + 3 repeats row 0 (its weight is 0).
alignas(64) constexpr uint8_t kColumnIndex[64] = {
    0,  16, 64, 0,  1,  17, 65, 1,  2,  18, 66, 2,  3,  19, 67, 3,  4,  20, 68, 4,  5,  21,
    69, 5,  6,  22, 70, 6,  7,  23, 71, 7,  8,  24, 72, 8,  9,  25, 73, 9,  10, 26, 74, 10,
    11, 27, 75, 11, 12, 28, 76, 12, 13, 29, 77, 13, 14, 30, 78, 14, 15, 31, 79, 15};

// acc += column (u8) x weights (s8), four products per lane. Inline assembly:
// GCC 12's _mm512_dpbusd_epi32 confines its accumulator to zmm0-15.
LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE __m512i Dot(__m512i acc, __m512i column, __m512i weights) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(column), "v"(weights));
  return acc;
}

// The column whose rows 0, 1, 2 start at p0, p1, p2: 16 channels, those
// outside `mask` read as 0 when kTail.
template <int kMode, bool kTail>
LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE __m512i Column(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2,
                                                 __mmask16 mask, __m512i index) {
  __m128i r0, r1, r2;
  if constexpr (kTail) {
    r0 = _mm_maskz_loadu_epi8(mask, p0);
    r1 = _mm_maskz_loadu_epi8(mask, p1);
    r2 = _mm_maskz_loadu_epi8(mask, p2);
  } else {
    r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0));
    r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1));
    r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p2));
  }
  const __m512i rows01 = _mm512_inserti32x4(_mm512_castsi128_si512(r0), r1, 1);
  __m512i column = _mm512_permutex2var_epi8(rows01, index, _mm512_castsi128_si512(r2));
  if constexpr (kMode == kVnniInt8) column = _mm512_xor_si512(column, _mm512_set1_epi8(static_cast<char>(0x80)));
  return column;
}

// One output's three columns dotted with the three weight quads (and, for
// kVnniUint8, with (k, k, k, 0)).
template <int kMode>
LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE __m512i Window(__m512i acc, __m512i a, __m512i b, __m512i c, __m512i w0,
                                                 __m512i w1, __m512i w2, __m512i k) {
  acc = Dot(acc, a, w0);
  acc = Dot(acc, b, w1);
  acc = Dot(acc, c, w2);
  if constexpr (kMode == kVnniUint8) {
    acc = Dot(acc, a, k);
    acc = Dot(acc, b, k);
    acc = Dot(acc, c, k);
  }
  return acc;
}

// Four outputs' requantization: float(acc) x scale, at most act_max − zo
// (no overflow in the conversion), rounded to nearest even; then narrowed
// with saturation (int16, + zo, bytes), which clamps below monotonically,
// and raised to act_min: clamp(round(f) + zo, act_min, act_max) as in
// Requantize. A byte permute undoes the packs' lane interleaving.
alignas(64) constexpr uint8_t kUnpackIndex[64] = {
    0,  1,  2,  3,  16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51, 4,  5,  6,  7,  20, 21,
    22, 23, 36, 37, 38, 39, 52, 53, 54, 55, 8,  9,  10, 11, 24, 25, 26, 27, 40, 41, 42, 43,
    56, 57, 58, 59, 12, 13, 14, 15, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63};

struct Requant4 {
  __m512 scale, fmax;
  __m512i zero_point16, act_min8, unpack;
};

LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE __m512i ScaleRound(__m512i acc, const Requant4& r) {
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), r.scale), r.fmax));
}

template <bool kSigned, bool kTail>
LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE void Requantize4(uint8_t* dst, size_t pixel, __mmask16 mask, __m512i a0,
                                                   __m512i a1, __m512i a2, __m512i a3, const Requant4& r) {
  const __m512i p01 = _mm512_adds_epi16(_mm512_packs_epi32(ScaleRound(a0, r), ScaleRound(a1, r)), r.zero_point16);
  const __m512i p23 = _mm512_adds_epi16(_mm512_packs_epi32(ScaleRound(a2, r), ScaleRound(a3, r)), r.zero_point16);
  __m512i bytes = kSigned ? _mm512_max_epi8(_mm512_packs_epi16(p01, p23), r.act_min8)
                          : _mm512_max_epu8(_mm512_packus_epi16(p01, p23), r.act_min8);
  bytes = _mm512_permutexvar_epi8(r.unpack, bytes);
  const __m128i b0 = _mm512_castsi512_si128(bytes), b1 = _mm512_extracti32x4_epi32(bytes, 1),
                b2 = _mm512_extracti32x4_epi32(bytes, 2), b3 = _mm512_extracti32x4_epi32(bytes, 3);
  if constexpr (kTail) {
    _mm_mask_storeu_epi8(dst, mask, b0);
    _mm_mask_storeu_epi8(dst + pixel, mask, b1);
    _mm_mask_storeu_epi8(dst + 2 * pixel, mask, b2);
    _mm_mask_storeu_epi8(dst + 3 * pixel, mask, b3);
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + pixel), b1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * pixel), b2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * pixel), b3);
  }
}

// float(acc) x scale, clamped to the activation range less the output zero
// point (so that, rounded and shifted back, it needs no integer clamp),
// rounded to nearest even, plus the zero point, stored as 16 bytes.
LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE void Requantize(uint8_t* dst, __mmask16 mask, __m512i acc, __m512 scale,
                                                  __m512 fmin, __m512 fmax, __m512i zero_point) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, fmin), fmax);
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zero_point);
  _mm_mask_storeu_epi8(dst, mask, _mm512_cvtepi32_epi8(q));
}


class DepthwiseKernel : public OpKernel, DepthwiseGeometry {
 public:
  // `vnni`: the CPU has AVX-512 VNNI and VBMI (the 3x3 dot-product path).
  DepthwiseKernel(pthreadpool_t pool, bool vnni) : pool_(pool), cpu_vnni_(vnni) {}

  Status Prepare(KernelContext& ctx) override {
    const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
    in_ = ctx.input(0);
    out_ = ctx.output(0);
    const Tensor& filter = *ctx.input(1);
    const Tensor* bias = ctx.input(2);
    signed_ = in_->type == DataType::kInt8;
    ReadGeometry(ctx);
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
    vnni_ = false;
    if (fast3x3_ && cpu_vnni_) {
      // uint8: a channel whose nine w − zw all fit s8 takes them as they
      // are (k = 0); another w − 128 and k = 128 − zw, which needs zw >= 1.
      vnni_ = true;
      for (int32_t c = 0; c < channels_ && !signed_; ++c) {
        for (size_t t = 0; t < taps; ++t) {
          const int32_t w = static_cast<int32_t>(filter.data_as<uint8_t>()[t * static_cast<size_t>(channels_) + static_cast<size_t>(c)]) - filter_zp;
          if ((w < -128 || w > 127) && filter_zp < 1) vnni_ = false;
        }
      }
    }
    if (vnni_) {
      const size_t padded = static_cast<size_t>(padded_channels_);
      quads_ = AllocateAligned<int8_t>(3 * 4 * padded);
      colsum_quads_ = AllocateAligned<int32_t>(padded);
      vnni_bias_ = AllocateAligned<int32_t>(padded);
      zero_row_ = AllocateAligned<uint8_t>(static_cast<size_t>(in_w_) * static_cast<size_t>(channels_));
      block_mode_ = AllocateAligned<uint8_t>(padded / kLanes);
      if (!quads_ || !colsum_quads_ || !vnni_bias_ || !zero_row_ || !block_mode_) {
        return ctx.Error("cannot allocate packed weights");
      }
      std::memset(quads_.get(), 0, 3 * 4 * padded);
      std::memset(colsum_quads_.get(), 0, padded * sizeof(int32_t));
      std::memset(vnni_bias_.get(), 0, padded * sizeof(int32_t));
      std::memset(zero_row_.get(), static_cast<uint8_t>(in_->zero_point), static_cast<size_t>(in_w_) * static_cast<size_t>(channels_));
      for (size_t b = 0; b < padded / kLanes; ++b) block_mode_[b] = signed_ ? kVnniInt8 : kVnniUint8Fit;
      for (int32_t c = 0; c < channels_; ++c) {
        const size_t cc = static_cast<size_t>(c);
        bool fits = true;
        int64_t sum = 0;  // Σw, for int8
        for (size_t t = 0; t < taps; ++t) {
          const size_t i = t * static_cast<size_t>(channels_) + cc;
          const int32_t w = signed_ ? filter.data_as<int8_t>()[i] : static_cast<int32_t>(filter.data_as<uint8_t>()[i]) - filter_zp;
          fits = fits && w >= -128 && w <= 127;
          sum += w;
        }
        for (size_t t = 0; t < taps; ++t) {
          const size_t i = t * static_cast<size_t>(channels_) + cc;
          const int32_t q = signed_ ? filter.data_as<int8_t>()[i]
                            : fits  ? static_cast<int32_t>(filter.data_as<uint8_t>()[i]) - filter_zp
                                    : static_cast<int32_t>(filter.data_as<uint8_t>()[i]) - 128;
          const size_t ky = t / 3, kx = t % 3;
          quads_[(kx * padded + cc) * 4 + ky] = static_cast<int8_t>(q);
        }
        if (!fits) {
          const uint32_t k = static_cast<uint8_t>(static_cast<int8_t>(128 - filter_zp));
          colsum_quads_[cc] = static_cast<int32_t>(k | k << 8 | k << 16);
          block_mode_[cc / kLanes] = kVnniUint8;
        }
        vnni_bias_[cc] = signed_ ? static_cast<int32_t>(int64_t{bias_[cc]} - (128 + int64_t{in_->zero_point}) * sum)
                                 : folded_bias_[cc];
      }
      // Output columns whose window lies inside the image horizontally.
      vnni_ox_lo_ = (pad_left_ + stride_w_ - 1) / stride_w_;
      vnni_ox_hi_ = in_w_ - 3 + pad_left_ >= 0 ? std::min(out_w_, (in_w_ - 3 + pad_left_) / stride_w_ + 1) : 0;
      vnni_ox_lo_ = std::min(vnni_ox_lo_, vnni_ox_hi_);
    }
    int32_t lo, hi;
    reference::ActivationRangeQuantized(static_cast<int>(o->fused_activation_function()), out_->scale,
                                        out_->zero_point, QMin(out_->type), QMax(out_->type), &lo, &hi);
    act_min_ = lo;
    act_max_ = hi;
    in_zp_ = in_->zero_point;
    out_zp_ = out_->zero_point;
    return {};
  }

  Status Eval() override {
    pthreadpool_parallelize_1d(pool_, &DepthwiseKernel::RowTask, this,
                               static_cast<size_t>(batch_) * static_cast<size_t>(out_h_), 0);
    return {};
  }
  KernelFamily family() const override { return KernelFamily::kOwnX86; }

 private:
  static void RowTask(void* self, size_t row) {
    auto* k = static_cast<DepthwiseKernel*>(self);
    if (k->vnni_) {
      k->RowVnni(row);
    } else if (k->signed_) {
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

  // One output row on the VNNI path: rows of the window outside the image
  // read zero_row_ (the input zero point, which adds (zx − zx) w = 0), as do
  // columns outside it.
  LOOKOUT_DW_VNNI void RowVnni(size_t row) const {
    const int32_t n = static_cast<int32_t>(row / static_cast<size_t>(out_h_));
    const int32_t oy = static_cast<int32_t>(row % static_cast<size_t>(out_h_));
    const int32_t iy0 = oy * stride_h_ - pad_top_;
    const size_t line = static_cast<size_t>(in_w_) * static_cast<size_t>(channels_);
    const uint8_t* in = in_->data + static_cast<size_t>(n) * static_cast<size_t>(in_h_) * line;
    const uint8_t* rows[3];
    for (int32_t ky = 0; ky < 3; ++ky) {
      const int32_t iy = iy0 + ky;
      rows[ky] = iy >= 0 && iy < in_h_ ? in + static_cast<size_t>(iy) * line : zero_row_.get();
    }
    uint8_t* out = out_->data + (static_cast<size_t>(n) * out_h_ + oy) * out_w_ * static_cast<size_t>(channels_);
    for (int32_t c = 0; c < channels_; c += kLanes) {
      const int32_t left = channels_ - c;
      const __mmask16 mask = left >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
      const bool tail = left < kLanes;
      const size_t off = static_cast<size_t>(c);
      const uint8_t *r0 = rows[0] + off, *r1 = rows[1] + off, *r2 = rows[2] + off;
      switch (block_mode_[off / kLanes] * 2 + (tail ? 1 : 0)) {
        case kVnniInt8 * 2: RowBlock<kVnniInt8, false>(r0, r1, r2, out + off, c, mask); break;
        case kVnniInt8 * 2 + 1: RowBlock<kVnniInt8, true>(r0, r1, r2, out + off, c, mask); break;
        case kVnniUint8Fit * 2: RowBlock<kVnniUint8Fit, false>(r0, r1, r2, out + off, c, mask); break;
        case kVnniUint8Fit * 2 + 1: RowBlock<kVnniUint8Fit, true>(r0, r1, r2, out + off, c, mask); break;
        case kVnniUint8 * 2: RowBlock<kVnniUint8, false>(r0, r1, r2, out + off, c, mask); break;
        default: RowBlock<kVnniUint8, true>(r0, r1, r2, out + off, c, mask); break;
      }
    }
  }

  // Channels [c, c + 16) (those in `mask`) of one output row: r0..r2 are
  // the window's three input rows (column 0, channel c), dst the output
  // row's channel c.
  template <int kMode, bool kTail>
  LOOKOUT_DW_VNNI LOOKOUT_DW_INLINE void RowBlock(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, uint8_t* dst,
                                                  int32_t c, __mmask16 mask) const {
    const size_t pixel = static_cast<size_t>(channels_);
    const size_t cstride = static_cast<size_t>(padded_channels_) * 4;
    const __m512i index = _mm512_load_si512(kColumnIndex);
    const int8_t* q = quads_.get() + static_cast<size_t>(c) * 4;
    const __m512i w0 = _mm512_load_si512(q), w1 = _mm512_load_si512(q + cstride),
                  w2 = _mm512_load_si512(q + 2 * cstride);
    const __m512i k = _mm512_load_si512(colsum_quads_.get() + c);
    const __m512i bias = _mm512_load_si512(vnni_bias_.get() + c);
    const __m512 scale = _mm512_load_ps(scale_.get() + c);
    const __m512 fmin = _mm512_set1_ps(static_cast<float>(act_min_ - out_zp_));
    const __m512 fmax = _mm512_set1_ps(static_cast<float>(act_max_ - out_zp_));
    const __m512i zp = _mm512_set1_epi32(out_zp_);
    const Requant4 r4{scale, fmax, _mm512_set1_epi16(static_cast<int16_t>(out_zp_)),
                      _mm512_set1_epi8(static_cast<char>(act_min_)), _mm512_load_si512(kUnpackIndex)};
    const uint8_t* zero = zero_row_.get() + c;
    const __m512i outside = Column<kMode, kTail>(zero, zero, zero, mask, index);
#define column(ix) Column<kMode, kTail>(r0 + (ix) * pixel, r1 + (ix) * pixel, r2 + (ix) * pixel, mask, index)
    // The interior: column ix of output ox_lo + i's window is x0 + s i + kx.
    const int32_t count = vnni_ox_hi_ - vnni_ox_lo_;
    const size_t x0 = static_cast<size_t>(vnni_ox_lo_ * stride_w_ - pad_left_);
    uint8_t* o = dst + static_cast<size_t>(vnni_ox_lo_) * pixel;
    int32_t i = 0;
    if (stride_w_ == 1 && count >= 4) {
      // Four outputs at a time over six columns, the last two carried over.
      __m512i c0 = column(x0), c1 = column(x0 + 1);
      for (; i + 4 <= count; i += 4, o += 4 * pixel) {
        const size_t x = x0 + static_cast<size_t>(i) + 2;
        const __m512i c2 = column(x), c3 = column(x + 1), c4 = column(x + 2), c5 = column(x + 3);
        const __m512i a0 = Window<kMode>(bias, c0, c1, c2, w0, w1, w2, k);
        const __m512i a1 = Window<kMode>(bias, c1, c2, c3, w0, w1, w2, k);
        const __m512i a2 = Window<kMode>(bias, c2, c3, c4, w0, w1, w2, k);
        const __m512i a3 = Window<kMode>(bias, c3, c4, c5, w0, w1, w2, k);
        Requantize4<kMode == kVnniInt8, kTail>(o, pixel, mask, a0, a1, a2, a3, r4);
        c0 = c4;
        c1 = c5;
      }
    } else if (stride_w_ == 2 && count >= 4) {
      // Four outputs at a time over nine columns, the last carried over.
      __m512i c0 = column(x0);
      for (; i + 4 <= count; i += 4, o += 4 * pixel) {
        const size_t x = x0 + 2 * static_cast<size_t>(i) + 1;
        const __m512i c1 = column(x), c2 = column(x + 1), c3 = column(x + 2), c4 = column(x + 3),
                      c5 = column(x + 4), c6 = column(x + 5), c7 = column(x + 6), c8 = column(x + 7);
        const __m512i a0 = Window<kMode>(bias, c0, c1, c2, w0, w1, w2, k);
        const __m512i a1 = Window<kMode>(bias, c2, c3, c4, w0, w1, w2, k);
        const __m512i a2 = Window<kMode>(bias, c4, c5, c6, w0, w1, w2, k);
        const __m512i a3 = Window<kMode>(bias, c6, c7, c8, w0, w1, w2, k);
        Requantize4<kMode == kVnniInt8, kTail>(o, pixel, mask, a0, a1, a2, a3, r4);
        c0 = c8;
      }
    }
    for (; i < count; ++i, o += pixel) {
      const size_t x = x0 + static_cast<size_t>(i) * static_cast<size_t>(stride_w_);
      const __m512i a = Window<kMode>(bias, column(x), column(x + 1), column(x + 2), w0, w1, w2, k);
      Requantize(o, mask, a, scale, fmin, fmax, zp);
    }
    // Outputs whose window crosses the left or right edge.
    for (int32_t ox = 0; ox < out_w_; ++ox) {
      if (ox == vnni_ox_lo_) ox = vnni_ox_hi_;
      if (ox >= out_w_) break;
      const int32_t ix = ox * stride_w_ - pad_left_;
      __m512i cols[3];
      for (int32_t kx = 0; kx < 3; ++kx) {
        const int32_t x = ix + kx;
        cols[kx] = x >= 0 && x < in_w_ ? column(static_cast<size_t>(x)) : outside;
      }
      const __m512i a = Window<kMode>(bias, cols[0], cols[1], cols[2], w0, w1, w2, k);
      Requantize(dst + static_cast<size_t>(ox) * pixel, mask, a, scale, fmin, fmax, zp);
    }
#undef column
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
  bool cpu_vnni_ = false;
  Tensor *in_ = nullptr, *out_ = nullptr;
  bool signed_ = false;
  int32_t padded_channels_ = 0;
  int32_t act_min_ = 0, act_max_ = 0, in_zp_ = 0, out_zp_ = 0;
  bool fast3x3_ = false;
  // The VNNI 3x3 path (dilation 1, any stride and padding).
  bool vnni_ = false;
  int32_t vnni_ox_lo_ = 0, vnni_ox_hi_ = 0;
  std::unique_ptr<int32_t[], AlignedFree> weights_, bias_, folded_bias_;
  std::unique_ptr<int32_t[], AlignedFree> vnni_bias_, colsum_quads_;  // per channel; (k, k, k, 0) bytes
  std::unique_ptr<int8_t[], AlignedFree> quads_;                      // [kx][channel][ky, 0..3]
  std::unique_ptr<uint8_t[], AlignedFree> zero_row_;                  // a row of in_zp, for rows outside
  std::unique_ptr<uint8_t[], AlignedFree> block_mode_;                // VnniMode per 16 channels
  std::unique_ptr<float[], AlignedFree> scale_;
};

}  // namespace

std::unique_ptr<OpKernel> MakeX86DepthwiseKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (ctx.node().op_code != BuiltinOperator::kDepthwiseConv2D || !env.own.depthwise) return nullptr;
  if (!env.cpu->avx512_core()) return nullptr;
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
  auto kernel = std::make_unique<DepthwiseKernel>(env.pool, env.cpu->avx512vnni && env.cpu->avx512vbmi);
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

#pragma GCC diagnostic pop

}  // namespace lookout::runtime::internal
