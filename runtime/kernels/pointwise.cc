// Lookout's pointwise convolution: CONV_2D with a 1x1 filter and stride 1,
// and FULLY_CONNECTED, as one 8-bit GEMM [pixels x IC] x [IC x OC] on
// AVX-512 VNNI (vpdpbusd: u8 x s8 products, four at a time, summed into
// int32 lanes). Other CONV_2D windows whose patch (KH x KW x IC) is at most
// kMaxPatch bytes (MobileNet's 3x3 stride-2 first layer) run the same GEMM
// over patches each tile gathers on the stack (see Window).
//
// Arithmetic. Each output is
//   acc = bias + sum_k (a_k - za) (w_k - zw)          (exact int32)
//   out = clamp(round_even(float(acc) * scale) + zo, act_min, act_max)
// with scale = input_scale * filter_scale / output_scale formed in float,
// XNNPACK's fp32 requantization, so that the result is byte for byte what
// the XNNPACK operator it replaces computes.
//
// vpdpbusd wants one unsigned and one signed operand. Weights are packed as
// w ^ 0x80 in both cases:
//  * uint8: activations a (u8) x packed (s8, = w - 128):
//      dot = sum a (w - 128), so sum (a - za)(w - zw)
//          = dot + (128 - zw) sum a - za sum (w - zw);
//  * int8 (weights zero point 0): packed (u8, = w + 128) x activations (s8):
//      dot = sum a (w + 128), so sum (a - za) w = dot - 128 sum a - za sum w.
// The per-channel terms are folded into the bias at creation; the per-pixel
// term c * sum a (c = 128 - zw or -128) is one row sum per pixel, computed
// once per tile of pixels for all output channels.
//
// Layout. Output channels come in vectors of 16 (one zmm of int32), vectors
// in blocks of kVr; input channels in groups of 4 (one int32 lane), the
// last group zero-padded. A block of v vectors is stored group by group:
// [group][vector][16 channels x 4 bytes], so the tile loop reads the weights
// as one stream. Padded channels and groups hold 0, which adds nothing.
//
// Tiles of kMr pixels x kVr vectors keep kMr * kVr accumulators in zmm
// registers; the pool runs tiles of pixels (each over all output channels).
#include "kernels/pointwise.h"

#include <algorithm>
#include <cstdint>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/kernel_util.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LOOKOUT_POINTWISE_X86 1
#include <immintrin.h>
#else
#define LOOKOUT_POINTWISE_X86 0
#endif

namespace lookout::runtime::internal {

#if LOOKOUT_POINTWISE_X86
// GCC 12's AVX-512 headers build _mm512_undefined_*() from a self-initialized
// variable, which -Wuninitialized reports at every inlined use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning: clang rejects the unknown group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace {

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kMr = 8;  // pixels per tile
constexpr int kVr = 3;  // 16-channel vectors per tile
constexpr size_t kVector = 16;
constexpr size_t kGroupBytes = 64;  // 16 channels x 4 input channels

// What one tile call reads and writes.
struct TileArgs {
  const uint8_t* input;    // the tile's first pixel
  size_t input_stride;     // bytes from one pixel to the next (IC)
  size_t groups;           // whole groups of 4 input channels
  size_t tail;             // input channels after them, 0..3
  const uint8_t* weights;  // the block's packed weights
  const int32_t* corr;     // per pixel: c * row sum (unless kRowSum)
  int32_t row_coeff;       // c, for kRowSum
  const int32_t* bias;     // per channel, from the block's first
  const float* scale;      // per channel, from the block's first
  uint8_t* output;         // the tile's first pixel, the block's first channel
  size_t output_stride;    // OC
  size_t channels;         // valid channels of the block, 1..16 * vectors
  int32_t zero_point;
  float hi;                // act_max less the output zero point
  int32_t act_min;
  bool signed_out;         // int8 output
};
using TileFn = void (*)(const TileArgs&);

// acc += u8 x s8 products, 4 per lane. Inline assembly rather than
// _mm512_dpbusd_epi32: GCC 12 gives that builtin's accumulator only zmm0-15
// (the VEX AVX-VNNI register class), so with 24 accumulators it spills.
template <bool kSigned>
LOOKOUT_VNNI inline __attribute__((always_inline)) __m512i Dot(__m512i acc, __m512i weights,
                                                               __m512i activations) {
  // AT&T order: vpdpbusd signed, unsigned, accumulator.
  if constexpr (kSigned) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(weights), "v"(activations));
  } else {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(activations), "v"(weights));
  }
  return acc;
}

inline int32_t LoadWhole(const uint8_t* p) {
  int32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

inline int32_t LoadPart(const uint8_t* p, size_t n) {
  int32_t x = 0;
  std::memcpy(&x, p, n);
  return x;
}

// Requantization of four vectors of 16 accumulators into 64 bytes, in
// order: float(acc) * scale, at most hi (so that the conversion cannot
// overflow), rounded to nearest even; then narrowed with signed saturation
// to int16, + zero point (saturating), narrowed to bytes with saturation and
// raised to act_min. Every saturation is monotone and act_min, act_max lie
// inside the byte range, so this is clamp(round(f), lo, hi) + zero point, as
// XNNPACK computes it. The packs interleave 128-bit lanes: lane i holds
// 4 bytes of each vector in turn, which a dword permute puts back in order.
struct Requant {
  __m512 hi;
  __m512i zero_point16, act_min8, unpack;
  bool signed_out;
};

constexpr std::array<int32_t, 16> UnpackIndex() {
  std::array<int32_t, 16> index{};
  for (int32_t d = 0; d < 16; ++d) index[static_cast<size_t>(d)] = 4 * (d % 4) + d / 4;  // vector d / 4, lane d % 4
  return index;
}
alignas(64) constexpr std::array<int32_t, 16> kUnpackIndex = UnpackIndex();

LOOKOUT_VNNI inline __attribute__((always_inline)) __m512i ScaleRound(__m512i acc, __m512 scale, __m512 hi) {
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale), hi));
}

LOOKOUT_VNNI inline __attribute__((always_inline)) __m512i Pack4(__m512i a0, __m512i a1, __m512i a2,
                                                                 __m512i a3, const __m512* scales,
                                                                 const Requant& r) {
  const __m512i p01 = _mm512_adds_epi16(
      _mm512_packs_epi32(ScaleRound(a0, scales[0], r.hi), ScaleRound(a1, scales[1], r.hi)), r.zero_point16);
  const __m512i p23 = _mm512_adds_epi16(
      _mm512_packs_epi32(ScaleRound(a2, scales[2], r.hi), ScaleRound(a3, scales[3], r.hi)), r.zero_point16);
  const __m512i bytes = r.signed_out ? _mm512_max_epi8(_mm512_packs_epi16(p01, p23), r.act_min8)
                                     : _mm512_max_epu8(_mm512_packus_epi16(p01, p23), r.act_min8);
  return _mm512_permutexvar_epi32(r.unpack, bytes);
}

// M pixels x V vectors of output channels (M <= 8, V <= 4). The
// accumulators are named variables, not an array: GCC keeps those in zmm
// registers, where it spills an array's elements around every vpdpbusd.
// kRowSum (unsigned activations, no tail): the row sums come from one more
// vpdpbusd per pixel and group, against a vector of ones, and c * row sum is
// added at the end (t.corr is not read).
#define LOOKOUT_FOR_PIXELS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
template <int M, int V, bool kSigned, bool kRowSum>
LOOKOUT_VNNI void Tile(const TileArgs& t) {
  static_assert(!(kSigned && kRowSum));
  static_assert(M >= 1 && M <= 8 && V >= 1 && V <= 4);
  const __m512i zero = _mm512_setzero_si512();
  // Accumulators start at bias + c * row sum.
  const __m512i b0 = _mm512_loadu_si512(t.bias);
  const __m512i b1 = V > 1 ? _mm512_loadu_si512(t.bias + 16) : zero;
  const __m512i b2 = V > 2 ? _mm512_loadu_si512(t.bias + 32) : zero;
  const __m512i b3 = V > 3 ? _mm512_loadu_si512(t.bias + 48) : zero;
#define LOOKOUT_INIT(m)                                                   \
  const __m512i r##m = _mm512_set1_epi32(M > m && !kRowSum ? t.corr[m] : 0); \
  __m512i s##m = zero;                                                     \
  __m512i a##m##0 = _mm512_add_epi32(b0, r##m);                           \
  __m512i a##m##1 = _mm512_add_epi32(b1, r##m);                           \
  __m512i a##m##2 = _mm512_add_epi32(b2, r##m);                           \
  __m512i a##m##3 = _mm512_add_epi32(b3, r##m);
  LOOKOUT_FOR_PIXELS(LOOKOUT_INIT)
#undef LOOKOUT_INIT

  const uint8_t* w = t.weights;
  const uint8_t* in = t.input;
  const size_t stride = t.input_stride;
  __m512i w0, w1 = zero, w2 = zero, w3 = zero;
  const __m512i ones = _mm512_set1_epi8(1);
#define LOOKOUT_STEP(m)                                                   \
  if constexpr (M > m) {                                                  \
    const __m512i x = _mm512_set1_epi32(Load4(in + m * stride));          \
    a##m##0 = Dot<kSigned>(a##m##0, w0, x);                               \
    if constexpr (V > 1) a##m##1 = Dot<kSigned>(a##m##1, w1, x);          \
    if constexpr (V > 2) a##m##2 = Dot<kSigned>(a##m##2, w2, x);          \
    if constexpr (V > 3) a##m##3 = Dot<kSigned>(a##m##3, w3, x);          \
    if constexpr (kRowSum) s##m = Dot<false>(s##m, ones, x);              \
  }
#define LOOKOUT_LOAD_WEIGHTS()                                  \
  w0 = _mm512_load_si512(w);                                    \
  if constexpr (V > 1) w1 = _mm512_load_si512(w + 64);          \
  if constexpr (V > 2) w2 = _mm512_load_si512(w + 128);         \
  if constexpr (V > 3) w3 = _mm512_load_si512(w + 192);
  for (size_t g = 0; g < t.groups; ++g) {
    LOOKOUT_LOAD_WEIGHTS()
    w += kGroupBytes * V;
#define Load4 LoadWhole
    LOOKOUT_FOR_PIXELS(LOOKOUT_STEP)
#undef Load4
    in += 4;
  }
  if (!kRowSum && t.tail != 0) {
    LOOKOUT_LOAD_WEIGHTS()
    const size_t tail = t.tail;
#define Load4(p) LoadPart(p, tail)
    LOOKOUT_FOR_PIXELS(LOOKOUT_STEP)
#undef Load4
  }
#undef LOOKOUT_LOAD_WEIGHTS
#undef LOOKOUT_STEP
  if constexpr (kRowSum) {
    const __m512i coeff = _mm512_set1_epi32(t.row_coeff);
#define LOOKOUT_ROWS(m)                                                   \
  if constexpr (M > m) {                                                  \
    const __m512i c = _mm512_mullo_epi32(s##m, coeff);                    \
    a##m##0 = _mm512_add_epi32(a##m##0, c);                               \
    if constexpr (V > 1) a##m##1 = _mm512_add_epi32(a##m##1, c);          \
    if constexpr (V > 2) a##m##2 = _mm512_add_epi32(a##m##2, c);          \
    if constexpr (V > 3) a##m##3 = _mm512_add_epi32(a##m##3, c);          \
  }
    LOOKOUT_FOR_PIXELS(LOOKOUT_ROWS)
#undef LOOKOUT_ROWS
  }

  const Requant r{_mm512_set1_ps(t.hi), _mm512_set1_epi16(static_cast<int16_t>(t.zero_point)),
                  _mm512_set1_epi8(static_cast<char>(t.act_min)), _mm512_load_si512(kUnpackIndex.data()),
                  t.signed_out};
  // Scales of the V vectors, repeated to fill four slots.
  __m512 scales[4];
  for (int v = 0; v < 4; ++v) scales[v] = _mm512_loadu_ps(t.scale + kVector * static_cast<size_t>(v % V));
  const size_t n = t.channels;  // valid bytes of one pixel's block
  const size_t out_stride = t.output_stride;
  if constexpr (V >= 3) {
    // One pixel per 64 bytes.
    const __mmask64 k = n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
#define LOOKOUT_OUT(m)                                                                              \
  if constexpr (M > m) {                                                                            \
    const __m512i bytes = Pack4(a##m##0, a##m##1, a##m##2, V > 3 ? a##m##3 : zero, scales, r);      \
    _mm512_mask_storeu_epi8(t.output + m * out_stride, k, bytes);                                        \
  }
    LOOKOUT_FOR_PIXELS(LOOKOUT_OUT)
#undef LOOKOUT_OUT
  } else if constexpr (V == 2) {
    // Two pixels per 64 bytes.
    const __mmask32 k = n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
#define LOOKOUT_OUT(m, m1)                                                                          \
  if constexpr (M > m) {                                                                            \
    const __m512i bytes = Pack4(a##m##0, a##m##1, a##m1##0, a##m1##1, scales, r);                   \
    _mm256_mask_storeu_epi8(t.output + m * out_stride, k, _mm512_castsi512_si256(bytes));               \
    if constexpr (M > m1)                                                                           \
      _mm256_mask_storeu_epi8(t.output + m1 * out_stride, k, _mm512_extracti64x4_epi64(bytes, 1));      \
  }
    LOOKOUT_OUT(0, 1) LOOKOUT_OUT(2, 3) LOOKOUT_OUT(4, 5) LOOKOUT_OUT(6, 7)
#undef LOOKOUT_OUT
  } else {
    // Four pixels per 64 bytes.
    const __mmask16 k = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
#define LOOKOUT_OUT(m, m1, m2, m3)                                                                  \
  if constexpr (M > m) {                                                                            \
    const __m512i bytes = Pack4(a##m##0, a##m1##0, a##m2##0, a##m3##0, scales, r);                  \
    _mm_mask_storeu_epi8(t.output + m * out_stride, k, _mm512_castsi512_si128(bytes));                  \
    if constexpr (M > m1) _mm_mask_storeu_epi8(t.output + m1 * out_stride, k, _mm512_extracti32x4_epi32(bytes, 1)); \
    if constexpr (M > m2) _mm_mask_storeu_epi8(t.output + m2 * out_stride, k, _mm512_extracti32x4_epi32(bytes, 2)); \
    if constexpr (M > m3) _mm_mask_storeu_epi8(t.output + m3 * out_stride, k, _mm512_extracti32x4_epi32(bytes, 3)); \
  }
    LOOKOUT_OUT(0, 1, 2, 3) LOOKOUT_OUT(4, 5, 6, 7)
#undef LOOKOUT_OUT
  }
}
#undef LOOKOUT_FOR_PIXELS

// Sum of the n bytes at p, as uint8 or as int8.
template <bool kSigned>
LOOKOUT_VNNI int32_t RowSum(const uint8_t* p, size_t n) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i sum = zero;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i x = _mm512_loadu_si512(p + i);
    if constexpr (kSigned) x = _mm512_xor_si512(x, flip);
    sum = _mm512_add_epi64(sum, _mm512_sad_epu8(x, zero));
  }
  if (i < n) {
    const __mmask64 k = (uint64_t{1} << (n - i)) - 1;
    __m512i x = _mm512_maskz_loadu_epi8(k, p + i);
    if constexpr (kSigned) x = _mm512_maskz_mov_epi8(k, _mm512_xor_si512(x, flip));
    sum = _mm512_add_epi64(sum, _mm512_sad_epu8(x, zero));
  }
  int64_t total = _mm512_reduce_add_epi64(sum);
  if constexpr (kSigned) total -= 128 * static_cast<int64_t>(n);
  return static_cast<int32_t>(total);
}

template <bool kSigned, bool kRowSum, int V, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> TilesOfWidth(std::index_sequence<I...>) {
  return {&Tile<static_cast<int>(I) + 1, V, kSigned, kRowSum>...};
}

template <bool kSigned, bool kRowSum, size_t... J>
constexpr std::array<std::array<TileFn, kMr>, sizeof...(J)> TileTable(std::index_sequence<J...>) {
  return {TilesOfWidth<kSigned, kRowSum, static_cast<int>(J) + 1>(std::make_index_sequence<kMr>())...};
}

// [vectors - 1][pixels - 1].
template <bool kSigned, bool kRowSum = false>
constexpr auto kTiles = TileTable<kSigned, kRowSum>(std::make_index_sequence<kVr>());

// A convolution window other than 1x1 / stride 1: each tile first gathers
// its pixels' input patches ([ky][kx][ic], TFLite's filter order; outside
// the image the input zero point, which adds nothing) into a buffer on the
// stack, then runs as a pointwise product over them.
struct Window {
  size_t batch_pixels = 0;  // OH * OW
  int32_t in_h = 0, in_w = 0, channels = 0, out_w = 0;
  int32_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1;
  int32_t dilation_h = 1, dilation_w = 1, pad_top = 0, pad_left = 0;
};
constexpr size_t kMaxPatch = 1024;  // bytes of one gathered patch, at most

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

class PointwiseKernel : public OpKernel {
 public:
  PointwiseKernel(const Tensor& in, const Tensor& filter, const Tensor* bias, const Tensor& out,
                  const std::vector<float>& scales, int32_t lo, int32_t hi, const Window* window,
                  pthreadpool_t pool)
      : in_(&in), out_(&out), pool_(pool) {
    oc_ = static_cast<size_t>(filter.dim(0));
    ic_ = filter.elements / oc_;
    pixels_ = out.elements / oc_;
    signed_ = in.type == DataType::kInt8;
    if (window != nullptr) {
      gather_ = true;
      window_ = *window;
      out_h_ = static_cast<int32_t>(window_.batch_pixels / static_cast<size_t>(window_.out_w));
      flip_ = signed_;
    }
    // Gathered patches take whole groups: the pad bytes are 0 (with 0
    // weights, they add nothing to the products nor to the row sums).
    patch_ = gather_ ? (ic_ + 3) / 4 * 4 : ic_;
    groups_ = gather_ ? patch_ / 4 : ic_ / 4;
    tail_ = gather_ ? 0 : ic_ % 4;
    const size_t all_groups = (ic_ + 3) / 4;
    const size_t vectors = (oc_ + kVector - 1) / kVector;

    const size_t bytes = vectors * all_groups * kGroupBytes;
    weights_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    std::memset(weights_.get(), 0, std::max<size_t>(bytes, 64));
    bias_.assign(vectors * kVector, 0);
    scale_.assign(vectors * kVector, 0.0f);

    const int32_t za = in.zero_point;
    const int32_t zw = signed_ ? 0 : filter.zero_point;
    // flip_ (int8 gathered): the gather stores a + 128 as u8 and the weights
    // stay s8, so sum (a - za) w = dot - (za + 128) sum w, no row sums.
    row_coeff_ = flip_ ? 0 : signed_ ? -128 : 128 - zw;
    const uint8_t weight_flip = flip_ ? 0 : 0x80;
    const uint8_t* w = filter.data;
    for (size_t o = 0; o < oc_; ++o) {
      const size_t vector = o / kVector;
      const size_t block = vector / kVr;
      const size_t in_block = std::min<size_t>(kVr, vectors - block * kVr);
      uint8_t* base = weights_.get() + block * kVr * all_groups * kGroupBytes +
                      (vector % kVr) * kGroupBytes + (o % kVector) * 4;
      int64_t sum = 0;  // sum over k of (w - zw)
      for (size_t k = 0; k < ic_; ++k) {
        const uint8_t byte = w[o * ic_ + k];
        sum += signed_ ? static_cast<int64_t>(static_cast<int8_t>(byte)) : static_cast<int64_t>(byte) - zw;
        base[(k / 4) * in_block * kGroupBytes + k % 4] = static_cast<uint8_t>(byte ^ weight_flip);
      }
      int64_t b = bias != nullptr ? static_cast<int64_t>(ReadBias(*bias, o)) : 0;
      b -= (static_cast<int64_t>(za) + (flip_ ? 128 : 0)) * sum;
      bias_[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(b)));
      scale_[o] = scales[o];
    }
    zero_point_ = out.zero_point;
    act_min_ = lo;
    hi_ = static_cast<float>(hi - out.zero_point);
  }

  Status Prepare(KernelContext&) override { return {}; }

  Status Eval() override {
    const size_t tiles = (pixels_ + kMr - 1) / kMr;
    if (gather_) {
      if (flip_) {
        pthreadpool_parallelize_1d(pool_, &RunGathered<true>, this, tiles, 0);
      } else {
        pthreadpool_parallelize_1d(pool_, &RunGathered<false>, this, tiles, 0);
      }
    } else if (pool_ != nullptr && tiles < 8) {
      // Few pixels (FULLY_CONNECTED, the logits' 1x1 layer): split the
      // output channels too, so every thread has work.
      const size_t blocks = (oc_ + kVector * kVr - 1) / (kVector * kVr);
      pthreadpool_parallelize_2d(pool_, signed_ ? &RunTileBlock<true> : &RunTileBlock<false>, this, tiles,
                                 blocks, 0);
    } else if (signed_) {
      pthreadpool_parallelize_1d(pool_, &RunTiles<true>, this, tiles, 0);
    } else {
      pthreadpool_parallelize_1d(pool_, &RunTiles<false>, this, tiles, 0);
    }
    return {};
  }

  KernelFamily family() const override { return KernelFamily::kOwnX86; }

 private:
  static int32_t ReadBias(const Tensor& bias, size_t i) {
    int32_t v;
    std::memcpy(&v, bias.data + i * sizeof(int32_t), sizeof(v));
    return v;
  }

  // Copies the input patch of output pixel (oy, ox) of `image` to `patch`
  // (ic_ bytes, each ^ 0x80 when kFlip; the patch_ - ic_ bytes after them
  // are set to 0).
  template <bool kFlip>
  LOOKOUT_VNNI void Gather(size_t image, int32_t oy, int32_t ox, uint8_t* patch) const {
    const Window& w = window_;
    constexpr uint8_t kFlipByte = kFlip ? 0x80 : 0;
    std::memset(patch + patch_ - 4, 0, 4);
    const size_t c = static_cast<size_t>(w.channels);
    const uint8_t* base = in_->data + image * static_cast<size_t>(w.in_h) * static_cast<size_t>(w.in_w) * c;
    const uint8_t pad = static_cast<uint8_t>(in_->zero_point) ^ kFlipByte;
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(kFlipByte));
    const int32_t x0 = ox * w.stride_w - w.pad_left;
    const bool row_inside = x0 >= 0 && x0 + (w.kernel_w - 1) * w.dilation_w < w.in_w;
    const size_t row_bytes = static_cast<size_t>(w.kernel_w) * c;
    int32_t iy = oy * w.stride_h - w.pad_top;
    for (int32_t ky = 0; ky < w.kernel_h; ++ky, iy += w.dilation_h, patch += row_bytes) {
      if (iy < 0 || iy >= w.in_h) {
        std::memset(patch, pad, row_bytes);
        continue;
      }
      const uint8_t* row = base + static_cast<size_t>(iy) * static_cast<size_t>(w.in_w) * c;
      if (row_inside && w.dilation_w == 1 && row_bytes <= 64) {
        // One masked copy (MobileNet's first layer: 9 bytes).
        const __mmask64 k = row_bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << row_bytes) - 1;
        __m512i x = _mm512_maskz_loadu_epi8(k, row + static_cast<size_t>(x0) * c);
        if constexpr (kFlip) x = _mm512_xor_si512(x, flip);
        _mm512_mask_storeu_epi8(patch, k, x);
        continue;
      }
      for (int32_t kx = 0; kx < w.kernel_w; ++kx) {
        const int32_t ix = x0 + kx * w.dilation_w;
        uint8_t* dst = patch + static_cast<size_t>(kx) * c;
        if (ix < 0 || ix >= w.in_w) {
          std::memset(dst, pad, c);
          continue;
        }
        const uint8_t* src = row + static_cast<size_t>(ix) * c;
        for (size_t i = 0; i < c; i += 64) {
          const size_t n = std::min<size_t>(64, c - i);
          const __mmask64 k = n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
          __m512i x = _mm512_maskz_loadu_epi8(k, src + i);
          if constexpr (kFlip) x = _mm512_xor_si512(x, flip);
          _mm512_mask_storeu_epi8(dst + i, k, x);
        }
      }
    }
  }

  // The tile's channel blocks, over `input` (pixels x stride bytes).
  template <bool kSigned, bool kRowSum>
  LOOKOUT_VNNI void Blocks(size_t first, size_t pixels, const uint8_t* input, size_t stride,
                           const int32_t* corr, size_t c_begin = 0, size_t c_end = SIZE_MAX) const {
    TileArgs t;
    t.input = input;
    t.input_stride = stride;
    t.groups = groups_;
    t.tail = tail_;
    t.corr = corr;
    t.row_coeff = row_coeff_;
    t.output_stride = oc_;
    t.zero_point = zero_point_;
    t.hi = hi_;
    t.act_min = act_min_;
    t.signed_out = signed_;
    const size_t all_groups = (ic_ + 3) / 4;
    uint8_t* output = out_->data + first * oc_;
    constexpr size_t kBlock = kVector * kVr;
    for (size_t c = c_begin; c < std::min(oc_, c_end); c += kBlock) {
      const size_t channels = std::min(kBlock, oc_ - c);
      const size_t vectors = (channels + kVector - 1) / kVector;
      t.weights = weights_.get() + (c / kVector) * all_groups * kGroupBytes;
      t.bias = bias_.data() + c;
      t.scale = scale_.data() + c;
      t.output = output + c;
      t.channels = channels;
      kTiles<kSigned, kRowSum>[vectors - 1][pixels - 1](t);
    }
  }

  // A tile of pointwise pixels, read in place: all channels, or the
  // channel block `block` (RunTileBlock, for layers with few pixels).
  template <bool kSigned>
  LOOKOUT_VNNI static void RunTiles(void* context, size_t tile) {
    RunTileChannels<kSigned>(*static_cast<const PointwiseKernel*>(context), tile, 0, SIZE_MAX);
  }
  template <bool kSigned>
  LOOKOUT_VNNI static void RunTileBlock(void* context, size_t tile, size_t block) {
    constexpr size_t kBlock = kVector * kVr;
    RunTileChannels<kSigned>(*static_cast<const PointwiseKernel*>(context), tile, block * kBlock,
                             (block + 1) * kBlock);
  }
  template <bool kSigned>
  LOOKOUT_VNNI static void RunTileChannels(const PointwiseKernel& k, size_t tile, size_t c_begin, size_t c_end) {
    const size_t first = tile * kMr;
    const size_t pixels = std::min<size_t>(kMr, k.pixels_ - first);
    const uint8_t* input = k.in_->data + first * k.ic_;
    int32_t corr[kMr];
    for (size_t p = 0; p < pixels; ++p) {
      corr[p] = static_cast<int32_t>(static_cast<uint32_t>(k.row_coeff_) *
                                     static_cast<uint32_t>(RowSum<kSigned>(input + p * k.ic_, k.ic_)));
    }
    k.Blocks<kSigned, false>(first, pixels, input, k.ic_, corr, c_begin, c_end);
  }

  // A tile of gathered pixels: patches on the stack, walked from the tile's
  // first pixel without divisions; unsigned activations (kFlip: int8 + 128).
  template <bool kFlip>
  LOOKOUT_VNNI static void RunGathered(void* context, size_t tile) {
    const auto& k = *static_cast<const PointwiseKernel*>(context);
    const size_t first = tile * kMr;
    const size_t pixels = std::min<size_t>(kMr, k.pixels_ - first);
    alignas(64) uint8_t patches[kMr * kMaxPatch + 16];
    const Window& w = k.window_;
    size_t image = first / w.batch_pixels;
    const size_t in_image = first % w.batch_pixels;
    int32_t oy = static_cast<int32_t>(in_image / static_cast<size_t>(w.out_w));
    int32_t ox = static_cast<int32_t>(in_image % static_cast<size_t>(w.out_w));
    const size_t c = static_cast<size_t>(w.channels);
    const size_t row_bytes = static_cast<size_t>(w.kernel_w) * c;
    const size_t line = static_cast<size_t>(w.in_w) * c;  // bytes per input row
    const size_t image_bytes = static_cast<size_t>(w.in_h) * line;
    const uint8_t* const data = k.in_->data;
    const uint8_t* const end = data + k.in_->elements;
    // Rows of at most 16 contiguous bytes (MobileNet's first layer: 9) are
    // copied with whole 16-byte loads and stores, each spilling into the
    // next row's place before that row is written; the pad bytes are
    // cleared after the last row.
    const bool short_rows = w.dilation_w == 1 && row_bytes <= 16;
    const int32_t last_dy = (w.kernel_h - 1) * w.dilation_h;
    const int32_t last_dx = w.kernel_w - 1;
    const size_t row_step = static_cast<size_t>(w.dilation_h) * line;
    const __m128i flip = _mm_set1_epi8(static_cast<char>(kFlip ? 0x80 : 0));
    for (size_t p = 0; p < pixels; ++p) {
      uint8_t* patch = patches + p * k.patch_;
      const int32_t iy = oy * w.stride_h - w.pad_top, ix = ox * w.stride_w - w.pad_left;
      const bool inside = short_rows && iy >= 0 && iy + last_dy < w.in_h && ix >= 0 && ix + last_dx < w.in_w;
      const size_t offset = inside ? image * image_bytes + static_cast<size_t>(iy) * line + static_cast<size_t>(ix) * c : 0;
      if (inside && offset + static_cast<size_t>(last_dy) * line + 16 <= static_cast<size_t>(end - data)) {
        const uint8_t* src = data + offset;
        for (int32_t ky = 0; ky < w.kernel_h; ++ky, src += row_step, patch += row_bytes) {
          __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
          if constexpr (kFlip) x = _mm_xor_si128(x, flip);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(patch), x);
        }
        std::memset(patch, 0, 4);
      } else {
        k.Gather<kFlip>(image, oy, ox, patch);
      }
      if (++ox == w.out_w) {
        ox = 0;
        if (++oy == k.out_h_) {
          oy = 0;
          ++image;
        }
      }
    }
    static constexpr int32_t kNoCorr[kMr] = {};
    if (k.row_coeff_ != 0) {
      k.Blocks<false, true>(first, pixels, patches, k.patch_, kNoCorr);
    } else {
      k.Blocks<false, false>(first, pixels, patches, k.patch_, kNoCorr);
    }
  }

  const Tensor* in_;
  const Tensor* out_;
  pthreadpool_t pool_;
  size_t ic_ = 0, oc_ = 0, pixels_ = 0, groups_ = 0, tail_ = 0;
  size_t patch_ = 0;  // bytes per pixel of the GEMM's input
  bool signed_ = false;
  bool gather_ = false;
  bool flip_ = false;  // gathered int8: activations + 128, weights as they are
  int32_t out_h_ = 0;
  Window window_;
  int32_t row_coeff_ = 0;
  std::unique_ptr<uint8_t, AlignedFree> weights_;
  std::vector<int32_t> bias_;
  std::vector<float> scale_;
  int32_t zero_point_ = 0;
  int32_t act_min_ = 0;
  float hi_ = 0.0f;
};

// The requantization scales XNNPACK would use, or empty when XNNPACK would
// refuse the node (or scale >= 1, which we leave to XNNPACK).
std::vector<float> Scales(const Tensor& in, const Tensor& filter, const Tensor& out, size_t channels) {
  std::vector<float> scales(channels);
  const bool per_channel = filter.quantization.scale.size() > 1;
  if (per_channel && filter.quantization.scale.size() != channels) return {};
  for (size_t c = 0; c < channels; ++c) {
    const float filter_scale = per_channel ? filter.quantization.scale[c] : filter.scale;
    if (!std::isnormal(filter_scale) || filter_scale <= 0.0f) return {};
    const float product = in.scale * filter_scale;
    scales[c] = product / out.scale;
    if (!(scales[c] > 0.0f) || !(scales[c] < 1.0f) || !std::isnormal(scales[c])) return {};
  }
  return scales;
}

std::unique_ptr<OpKernel> Make(const Tensor& in, const Tensor& filter, const Tensor* bias,
                               const Tensor& out, int activation, const Window* window,
                               pthreadpool_t pool) {
  if (in.type != filter.type || in.type != out.type) return nullptr;
  if (in.type != DataType::kUInt8 && in.type != DataType::kInt8) return nullptr;
  if (!filter.is_constant || filter.data == nullptr) return nullptr;
  if (!std::isnormal(in.scale) || !std::isnormal(out.scale) || in.scale <= 0 || out.scale <= 0) return nullptr;
  const size_t oc = static_cast<size_t>(filter.dim(0));
  if (oc == 0 || filter.elements % oc != 0 || filter.elements == 0) return nullptr;
  const size_t k = filter.elements / oc;
  if (window == nullptr) {
    if (in.elements % k != 0 || in.elements == 0 || out.elements != in.elements / k * oc) return nullptr;
  } else if (k > kMaxPatch) {
    return nullptr;
  }
  if (in.type == DataType::kUInt8) {
    if (filter.quantization.scale.size() > 1) return nullptr;
    if (filter.zero_point < 0 || filter.zero_point > 255) return nullptr;
  } else {
    for (int64_t zp : filter.quantization.zero_point) {
      if (zp != 0) return nullptr;
    }
  }
  if (bias != nullptr) {
    if (!bias->is_constant || bias->type != DataType::kInt32 || bias->elements != oc) return nullptr;
  }
  int32_t lo, hi;
  reference::ActivationRangeQuantized(activation, out.scale, out.zero_point, QMin(out.type),
                                      QMax(out.type), &lo, &hi);
  if (lo >= hi) return nullptr;
  const std::vector<float> scales = Scales(in, filter, out, oc);
  if (scales.empty()) return nullptr;
  return std::make_unique<PointwiseKernel>(in, filter, bias, out, scales, lo, hi, window, pool);
}

std::unique_ptr<OpKernel> Conv2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_Conv2DOptions();
  if (o == nullptr) return nullptr;
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr) return nullptr;
  if (in->rank() != 4 || filter->rank() != 4 || out->rank() != 4) return nullptr;
  if (filter->dim(3) != in->dim(3) || filter->dim(0) != out->dim(3) || in->dim(0) != out->dim(0)) return nullptr;
  const int activation = static_cast<int>(o->fused_activation_function());
  const bool pointwise = filter->dim(1) == 1 && filter->dim(2) == 1 && o->stride_h() == 1 &&
                         o->stride_w() == 1 && in->dim(1) == out->dim(1) && in->dim(2) == out->dim(2);
  if (pointwise) return Make(*in, *filter, ctx.input(2), *out, activation, nullptr, pool);
  if (o->stride_h() <= 0 || o->stride_w() <= 0 || o->dilation_h_factor() <= 0 || o->dilation_w_factor() <= 0) {
    return nullptr;
  }
  Window w;
  w.in_h = in->dim(1);
  w.in_w = in->dim(2);
  w.channels = in->dim(3);
  w.out_w = out->dim(2);
  w.batch_pixels = static_cast<size_t>(out->dim(1)) * static_cast<size_t>(out->dim(2));
  w.kernel_h = filter->dim(1);
  w.kernel_w = filter->dim(2);
  w.stride_h = o->stride_h();
  w.stride_w = o->stride_w();
  w.dilation_h = o->dilation_h_factor();
  w.dilation_w = o->dilation_w_factor();
  if (static_cast<int>(o->padding()) == 0) {  // SAME
    w.pad_top = ComputePadding(w.stride_h, w.dilation_h, w.in_h, w.kernel_h, out->dim(1));
    w.pad_left = ComputePadding(w.stride_w, w.dilation_w, w.in_w, w.kernel_w, out->dim(2));
  }
  if (w.batch_pixels == 0 || w.channels <= 0) return nullptr;
  return Make(*in, *filter, ctx.input(2), *out, activation, &w, pool);
}

std::unique_ptr<OpKernel> FullyConnected(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_FullyConnectedOptions();
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr || filter->rank() != 2) return nullptr;
  const int activation = o != nullptr ? static_cast<int>(o->fused_activation_function()) : 0;
  return Make(*in, *filter, ctx.input(2), *out, activation, nullptr, pool);
}

}  // namespace

std::unique_ptr<OpKernel> MakeX86PointwiseKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (!env.cpu->avx512_core() || !env.cpu->avx512vnni || !env.own.pointwise) return nullptr;
  pthreadpool_t pool = env.pool;
  switch (ctx.node().op_code) {
    case BuiltinOperator::kConv2D: return Conv2D(ctx, pool);
    case BuiltinOperator::kFullyConnected: return FullyConnected(ctx, pool);
    default: return nullptr;
  }
}

#pragma GCC diagnostic pop

#endif

}  // namespace lookout::runtime::internal
