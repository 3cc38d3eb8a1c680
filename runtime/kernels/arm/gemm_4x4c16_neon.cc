// 8-bit GEMM tiles of up to 4 pixels x 4 channels on ARMv8.0 NEON (no dot
// products: the Cortex-A72 of a Raspberry Pi 4). Each accumulator belongs
// to one (pixel, channel): 16 bytes of the pixel times 16 bytes of the
// channel's weights, multiplied lane by lane into int16 (vmull), pairs of
// which are added into int32 lanes (vpadal); the four lanes are reduced
// when the tile ends. Where two products fit one int16 lane (|a*|, |w*| <=
// 128 and w* != -128), the high half's products are added to the low half's
// before the pairwise add (vmlal): 16 products per 3 instructions. Built
// with GCC's pre-allocation scheduling off (runtime/CMakeLists.txt): it
// would hoist all 16 products of a step ahead of their adds and spill.
#include <arm_neon.h>

#include <cstring>

#include "kernels/arm/gemm.h"
#include "kernels/arm/requant_neon.h"

namespace lookout::runtime::internal::arm {
namespace {

// acc += the 16 products of a and w, summed in pairs.
template <MullMode kMode>
LOOKOUT_ARM_INLINE int32x4_t Products(int32x4_t acc, uint8x16_t a, uint8x16_t w) {
  if constexpr (kMode == MullMode::kS8Paired || kMode == MullMode::kU8Paired ||
                kMode == MullMode::kU8PairedFlipped) {
    const int8x16_t sa = vreinterpretq_s8_u8(a), sw = vreinterpretq_s8_u8(w);
    int16x8_t p = vmull_s8(vget_low_s8(sa), vget_low_s8(sw));
    p = vmlal_high_s8(p, sa, sw);
    return vpadalq_s16(acc, p);
  } else if constexpr (kMode == MullMode::kS8) {
    const int8x16_t sa = vreinterpretq_s8_u8(a), sw = vreinterpretq_s8_u8(w);
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(sa), vget_low_s8(sw)));
    return vpadalq_s16(acc, vmull_high_s8(sa, sw));
  } else {
    // Unsigned products fit uint16; their sums wrap in 32 bits exactly as
    // the signed ones would.
    uint32x4_t u = vreinterpretq_u32_s32(acc);
    u = vpadalq_u16(u, vmull_u8(vget_low_u8(a), vget_low_u8(w)));
    u = vpadalq_u16(u, vmull_high_u8(a, w));
    return vreinterpretq_s32_u32(u);
  }
}

// acc += the 8 products of a and w (the low halves), summed in pairs.
template <MullMode kMode>
LOOKOUT_ARM_INLINE int32x4_t HalfProducts(int32x4_t acc, uint8x8_t a, uint8x8_t w) {
  if constexpr (kMode == MullMode::kU8) {
    return vreinterpretq_s32_u32(vpadalq_u16(vreinterpretq_u32_s32(acc), vmull_u8(a, w)));
  } else {
    return vpadalq_s16(acc, vmull_s8(vreinterpret_s8_u8(a), vreinterpret_s8_u8(w)));
  }
}

template <int M, MullMode kMode>
void Tile(const GemmArgs& t) {
  constexpr bool kFlip = kMode == MullMode::kU8Paired;
  constexpr bool kSigned = kMode == MullMode::kS8Paired || kMode == MullMode::kS8;
  const uint8x16_t flip = vdupq_n_u8(kFlip ? 0x80 : 0);
  const int32x4_t zero = vdupq_n_s32(0);
  const Requant q = MakeRequant(t.zero_point, t.act_min, t.act_max);
  const int32x4_t corr0 = vdupq_n_s32(t.corr[0]), corr1 = vdupq_n_s32(M > 1 ? t.corr[1] : 0),
                  corr2 = vdupq_n_s32(M > 2 ? t.corr[2] : 0), corr3 = vdupq_n_s32(M > 3 ? t.corr[3] : 0);
  const uint8_t* const in = t.input;
  const size_t stride = t.input_stride;
  const size_t tail_at = t.steps * kGemmKStep;
  for (size_t block = 0; block < t.blocks; ++block) {
    int32x4_t c00 = zero, c01 = zero, c02 = zero, c03 = zero;
    int32x4_t c10 = zero, c11 = zero, c12 = zero, c13 = zero;
    int32x4_t c20 = zero, c21 = zero, c22 = zero, c23 = zero;
    int32x4_t c30 = zero, c31 = zero, c32 = zero, c33 = zero;
    const uint8_t* w = t.weights + block * t.block_bytes;
#define LOOKOUT_LOAD_PIXEL(m, at)                              \
  uint8x16_t a##m = vld1q_u8(in + (M > m ? m : 0) * stride + (at)); \
  if constexpr (kFlip) a##m = veorq_u8(a##m, flip);
#define LOOKOUT_ROW(m)                                         \
  if constexpr (M > m) {                                       \
    c##m##0 = Products<kMode>(c##m##0, a##m, w0);              \
    c##m##1 = Products<kMode>(c##m##1, a##m, w1);              \
    c##m##2 = Products<kMode>(c##m##2, a##m, w2);              \
    c##m##3 = Products<kMode>(c##m##3, a##m, w3);              \
  }
#pragma GCC unroll 2
    for (size_t k = 0; k < tail_at; k += kGemmKStep) {
      const uint8x16_t w0 = vld1q_u8(w), w1 = vld1q_u8(w + 16), w2 = vld1q_u8(w + 32), w3 = vld1q_u8(w + 48);
      w += 64;
      LOOKOUT_LOAD_PIXEL(0, k) LOOKOUT_ROW(0)
      LOOKOUT_LOAD_PIXEL(1, k) LOOKOUT_ROW(1)
      LOOKOUT_LOAD_PIXEL(2, k) LOOKOUT_ROW(2)
      LOOKOUT_LOAD_PIXEL(3, k) LOOKOUT_ROW(3)
    }
    if (t.tail_bytes > 8) {
      const uint8x16_t w0 = vld1q_u8(w), w1 = vld1q_u8(w + 16), w2 = vld1q_u8(w + 32), w3 = vld1q_u8(w + 48);
      LOOKOUT_LOAD_PIXEL(0, tail_at) LOOKOUT_ROW(0)
      LOOKOUT_LOAD_PIXEL(1, tail_at) LOOKOUT_ROW(1)
      LOOKOUT_LOAD_PIXEL(2, tail_at) LOOKOUT_ROW(2)
      LOOKOUT_LOAD_PIXEL(3, tail_at) LOOKOUT_ROW(3)
    } else if (t.tail_bytes != 0) {
      // 8 bytes: single products (no pairs to add), from the low halves.
      const uint8x8_t flip8 = vget_low_u8(flip);
      const uint8x8_t w0 = vld1_u8(w), w1 = vld1_u8(w + 16), w2 = vld1_u8(w + 32), w3 = vld1_u8(w + 48);
#define LOOKOUT_HALF(m)                                                   \
  if constexpr (M > m) {                                                  \
    uint8x8_t h = vld1_u8(in + m * stride + tail_at);                     \
    if constexpr (kFlip) h = veor_u8(h, flip8);                           \
    c##m##0 = HalfProducts<kMode>(c##m##0, h, w0);                        \
    c##m##1 = HalfProducts<kMode>(c##m##1, h, w1);                        \
    c##m##2 = HalfProducts<kMode>(c##m##2, h, w2);                        \
    c##m##3 = HalfProducts<kMode>(c##m##3, h, w3);                        \
  }
      LOOKOUT_HALF(0) LOOKOUT_HALF(1) LOOKOUT_HALF(2) LOOKOUT_HALF(3)
#undef LOOKOUT_HALF
    }
#undef LOOKOUT_ROW
#undef LOOKOUT_LOAD_PIXEL

    // Per pixel, the 4 channels' lane sums, + bias + the pixel's correction.
    const size_t first = block * kMullBlock;
    const int32x4_t bias = vld1q_s32(t.bias + first);
#define LOOKOUT_REDUCE(m)                                                                      \
  const int32x4_t r##m = vaddq_s32(                                                            \
      vaddq_s32(vpaddq_s32(vpaddq_s32(c##m##0, c##m##1), vpaddq_s32(c##m##2, c##m##3)), bias), corr##m);
    LOOKOUT_REDUCE(0) LOOKOUT_REDUCE(1) LOOKOUT_REDUCE(2) LOOKOUT_REDUCE(3)
#undef LOOKOUT_REDUCE
    const float32x4_t scale = vld1q_f32(t.scale + first);
    const uint8x16_t bytes = Pack16<kSigned>(ScaleRound(r0, scale), ScaleRound(r1, scale), ScaleRound(r2, scale),
                                             ScaleRound(r3, scale), q);
    // Bytes 4m..4m+3 are pixel m's channels.
    uint8_t* out = t.output + first;
    const size_t n = t.channels - first;
    if (n >= 4) {
      const uint32x4_t words = vreinterpretq_u32_u8(bytes);
#define LOOKOUT_STORE(m)                                                                        \
  if constexpr (M > m) {                                                                        \
    vst1q_lane_u32(reinterpret_cast<uint32_t*>(out + m * t.output_stride), words, m);           \
  }
      LOOKOUT_STORE(0) LOOKOUT_STORE(1) LOOKOUT_STORE(2) LOOKOUT_STORE(3)
#undef LOOKOUT_STORE
    } else {
      alignas(16) uint8_t tmp[16];
      vst1q_u8(tmp, bytes);
      for (int m = 0; m < M; ++m) std::memcpy(out + static_cast<size_t>(m) * t.output_stride, tmp + 4 * m, n);
    }
  }
}

template <MullMode kMode>
constexpr GemmFn kTiles[kGemmMr] = {&Tile<1, kMode>, &Tile<2, kMode>, &Tile<3, kMode>, &Tile<4, kMode>};

}  // namespace

GemmFn MullGemm(MullMode mode, int pixels) {
  switch (mode) {
    case MullMode::kS8Paired: return kTiles<MullMode::kS8Paired>[pixels - 1];
    case MullMode::kU8Paired: return kTiles<MullMode::kU8Paired>[pixels - 1];
    case MullMode::kU8PairedFlipped: return kTiles<MullMode::kU8PairedFlipped>[pixels - 1];
    case MullMode::kS8: return kTiles<MullMode::kS8>[pixels - 1];
    case MullMode::kU8: return kTiles<MullMode::kU8>[pixels - 1];
  }
  return nullptr;
}

}  // namespace lookout::runtime::internal::arm
