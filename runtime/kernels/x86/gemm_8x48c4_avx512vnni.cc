// The tiles of kernels/x86/gemm.h: AVX-512 VNNI (vpdpbusd), kGemmMr pixels
// x kGemmVr vectors of 16 channels at most, accumulators in zmm registers.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "kernels/x86/gemm.h"

// GCC 12's AVX-512 headers build _mm512_undefined_*() from a self-initialized
// variable, which -Wuninitialized reports at every inlined use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning: clang rejects the unknown group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace lookout::runtime::internal::x86 {
namespace {

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kMr = kGemmMr;
constexpr int kVr = kGemmVr;
using TileArgs = GemmArgs;
using TileFn = GemmFn;

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
    w += kGemmGroupBytes * V;
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
  for (int v = 0; v < 4; ++v) scales[v] = _mm512_loadu_ps(t.scale + kGemmVector * static_cast<size_t>(v % V));
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

}  // namespace

GemmFn VnniGemm(bool is_signed, bool row_sum, int vectors, int pixels) {
  const size_t v = static_cast<size_t>(vectors - 1), m = static_cast<size_t>(pixels - 1);
  if (row_sum) return kTiles<false, true>[v][m];
  return is_signed ? kTiles<true>[v][m] : kTiles<false>[v][m];
}

int32_t VnniRowSum(bool is_signed, const uint8_t* p, size_t n) {
  return is_signed ? RowSum<true>(p, n) : RowSum<false>(p, n);
}

}  // namespace lookout::runtime::internal::x86

#pragma GCC diagnostic pop
