// 8-bit GEMM tiles of up to 4 pixels x 16 channels with ARMv8.2 dot products
// (udot / sdot by element: 4 channels x 4 k per instruction). Built with
// -march=armv8.2-a+dotprod (runtime/CMakeLists.txt); called only where the
// CPU reports asimddp (the Cortex-A76 of a Raspberry Pi 5).
//
// Each 16-byte load of a pixel holds 4 groups of 4 k; group g's weights are
// 4 vectors (channels 0-3, 4-7, 8-11, 12-15), and the by-element dot of
// vector v with lane g of the pixel adds those 4 k to 4 channels.
#include <arm_neon.h>

#include "kernels/arm/gemm.h"
#include "kernels/arm/requant_neon.h"

namespace lookout::runtime::internal::arm {
namespace {

template <bool kSigned>
struct Dot;

template <>
struct Dot<false> {
  using Bytes = uint8x16_t;
  static LOOKOUT_ARM_INLINE Bytes Load(const uint8_t* p) { return vld1q_u8(p); }
  template <int kLane>
  static LOOKOUT_ARM_INLINE int32x4_t Acc(int32x4_t acc, Bytes w, Bytes a) {
    return vreinterpretq_s32_u32(vdotq_laneq_u32(vreinterpretq_u32_s32(acc), w, a, kLane));
  }
};

template <>
struct Dot<true> {
  using Bytes = int8x16_t;
  static LOOKOUT_ARM_INLINE Bytes Load(const uint8_t* p) { return vld1q_s8(reinterpret_cast<const int8_t*>(p)); }
  template <int kLane>
  static LOOKOUT_ARM_INLINE int32x4_t Acc(int32x4_t acc, Bytes w, Bytes a) {
    return vdotq_laneq_s32(acc, w, a, kLane);
  }
};

// The accumulators are named variables (c<pixel><vector>): GCC keeps them in
// registers across the loop.
template <int M, bool kSigned>
void Tile(const GemmArgs& t) {
  using D = Dot<kSigned>;
  using Bytes = typename D::Bytes;
  const Requant q = MakeRequant(t.zero_point, t.act_min, t.act_max);
  const uint8_t* const in = t.input;
  const size_t stride = t.input_stride;
  const size_t tail_at = t.steps * kGemmKStep;
  for (size_t block = 0; block < t.blocks; ++block) {
    const size_t first = block * kDotBlock;
    const int32_t* bias = t.bias + first;
    const int32x4_t b0 = vld1q_s32(bias), b1 = vld1q_s32(bias + 4), b2 = vld1q_s32(bias + 8),
                    b3 = vld1q_s32(bias + 12);
#define LOOKOUT_INIT(m)                                                     \
  const int32x4_t r##m = vdupq_n_s32(M > m ? t.corr[m] : 0);                \
  int32x4_t c##m##0 = vaddq_s32(b0, r##m), c##m##1 = vaddq_s32(b1, r##m),    \
            c##m##2 = vaddq_s32(b2, r##m), c##m##3 = vaddq_s32(b3, r##m);
    LOOKOUT_INIT(0) LOOKOUT_INIT(1) LOOKOUT_INIT(2) LOOKOUT_INIT(3)
#undef LOOKOUT_INIT

    const uint8_t* w = t.weights + block * t.block_bytes;
    // One group: 4 k of each pixel (lane g of a0..a3) into its 16 channels.
#define LOOKOUT_GROUP(g)                                                                  \
  {                                                                                       \
    const Bytes w0 = D::Load(w), w1 = D::Load(w + 16), w2 = D::Load(w + 32), w3 = D::Load(w + 48); \
    w += 64;                                                                              \
    c00 = D::template Acc<g>(c00, w0, a0);                                                \
    c01 = D::template Acc<g>(c01, w1, a0);                                                \
    c02 = D::template Acc<g>(c02, w2, a0);                                                \
    c03 = D::template Acc<g>(c03, w3, a0);                                                \
    if constexpr (M > 1) {                                                                \
      c10 = D::template Acc<g>(c10, w0, a1);                                              \
      c11 = D::template Acc<g>(c11, w1, a1);                                              \
      c12 = D::template Acc<g>(c12, w2, a1);                                              \
      c13 = D::template Acc<g>(c13, w3, a1);                                              \
    }                                                                                     \
    if constexpr (M > 2) {                                                                \
      c20 = D::template Acc<g>(c20, w0, a2);                                              \
      c21 = D::template Acc<g>(c21, w1, a2);                                              \
      c22 = D::template Acc<g>(c22, w2, a2);                                              \
      c23 = D::template Acc<g>(c23, w3, a2);                                              \
    }                                                                                     \
    if constexpr (M > 3) {                                                                \
      c30 = D::template Acc<g>(c30, w0, a3);                                              \
      c31 = D::template Acc<g>(c31, w1, a3);                                              \
      c32 = D::template Acc<g>(c32, w2, a3);                                              \
      c33 = D::template Acc<g>(c33, w3, a3);                                              \
    }                                                                                     \
  }
#define LOOKOUT_LOAD(at)                                        \
  const Bytes a0 = D::Load(in + (at));                          \
  const Bytes a1 = M > 1 ? D::Load(in + stride + (at)) : a0;    \
  const Bytes a2 = M > 2 ? D::Load(in + 2 * stride + (at)) : a0; \
  const Bytes a3 = M > 3 ? D::Load(in + 3 * stride + (at)) : a0;
    for (size_t k = 0; k < tail_at; k += kGemmKStep) {
      LOOKOUT_LOAD(k)
      LOOKOUT_GROUP(0) LOOKOUT_GROUP(1) LOOKOUT_GROUP(2) LOOKOUT_GROUP(3)
    }
    if (t.tail_bytes != 0) {
      // Only the groups holding K's last bytes; what follows them in the
      // 16 bytes read meets zero weights.
      LOOKOUT_LOAD(tail_at)
      LOOKOUT_GROUP(0)
      if (t.tail_bytes > 4) LOOKOUT_GROUP(1)
      if (t.tail_bytes > 8) LOOKOUT_GROUP(2)
      if (t.tail_bytes > 12) LOOKOUT_GROUP(3)
    }
#undef LOOKOUT_LOAD
#undef LOOKOUT_GROUP

    const float* scale = t.scale + first;
    const float32x4_t s0 = vld1q_f32(scale), s1 = vld1q_f32(scale + 4), s2 = vld1q_f32(scale + 8),
                      s3 = vld1q_f32(scale + 12);
    const size_t n = t.channels - first;  // valid channels from this block's first
    uint8_t* out = t.output + first;
#define LOOKOUT_OUT(m)                                                                              \
  if constexpr (M > m) {                                                                            \
    const uint8x16_t bytes = Pack16<kSigned>(ScaleRound(c##m##0, s0), ScaleRound(c##m##1, s1),      \
                                             ScaleRound(c##m##2, s2), ScaleRound(c##m##3, s3), q);  \
    StorePartial(out + m * t.output_stride, bytes, n);                                              \
  }
    LOOKOUT_OUT(0) LOOKOUT_OUT(1) LOOKOUT_OUT(2) LOOKOUT_OUT(3)
#undef LOOKOUT_OUT
  }
}

constexpr GemmFn kUnsigned[kGemmMr] = {&Tile<1, false>, &Tile<2, false>, &Tile<3, false>, &Tile<4, false>};
constexpr GemmFn kSignedTiles[kGemmMr] = {&Tile<1, true>, &Tile<2, true>, &Tile<3, true>, &Tile<4, true>};

}  // namespace

GemmFn DotGemm(bool is_signed, int pixels) {
  return is_signed ? kSignedTiles[pixels - 1] : kUnsigned[pixels - 1];
}

}  // namespace lookout::runtime::internal::arm
