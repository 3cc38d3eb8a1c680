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

namespace {

// Whether `list` (comma-separated) holds `name`.
bool ListHas(const char* list, const char* name) {
  const size_t n = std::strlen(name);
  for (const char* p = list; *p != '\0';) {
    const char* end = std::strchr(p, ',');
    const size_t len = end != nullptr ? static_cast<size_t>(end - p) : std::strlen(p);
    if (len == n && std::strncmp(p, name, n) == 0) return true;
    if (end == nullptr) break;
    p = end + 1;
  }
  return false;
}

}  // namespace

bool OwnKernelsDisabled() {
  const char* value = std::getenv("LOOKOUT_NO_OWN_KERNELS");
  if (value == nullptr || value[0] == '\0' || std::strcmp(value, "0") == 0) return false;
  return !ListHas(value, "pointwise") && !ListHas(value, "depthwise");
}

bool OwnKernelDisabled(const char* name) {
  const char* value = std::getenv("LOOKOUT_NO_OWN_KERNELS");
  return OwnKernelsDisabled() || (value != nullptr && ListHas(value, name));
}

#if LOOKOUT_POINTWISE_X86
// GCC 12's AVX-512 headers build _mm512_undefined_*() from a self-initialized
// variable, which -Wuninitialized reports at every inlined use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace {

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kMr = 8;  // pixels per tile
constexpr int kVr = 3;  // 16-channel vectors per tile
constexpr size_t kVector = 16;
constexpr size_t kGroupBytes = 64;  // 16 channels x 4 input channels

bool CpuHasVnni() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return ok;
}

// What one tile call reads and writes.
struct TileArgs {
  const uint8_t* input;    // the tile's first pixel
  size_t input_stride;     // bytes from one pixel to the next (IC)
  size_t groups;           // whole groups of 4 input channels
  size_t tail;             // input channels after them, 0..3
  const uint8_t* weights;  // the block's packed weights
  const int32_t* corr;     // per pixel: c * row sum
  const int32_t* bias;     // per channel, from the block's first
  const float* scale;      // per channel, from the block's first
  uint8_t* output;         // the tile's first pixel, the block's first channel
  size_t output_stride;    // OC
  size_t channels;         // valid channels of the block, 1..16 * vectors
  int32_t zero_point;
  float lo, hi;            // activation range less the output zero point
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

// Requantizes one vector of 16 accumulators and stores its valid bytes.
LOOKOUT_VNNI inline __attribute__((always_inline)) void Store(__m512i acc, __m512 scale, __m512 lo,
                                                              __m512 hi, __m512i zero_point,
                                                              __mmask16 mask, uint8_t* out) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zero_point);
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(q));
}

// M pixels x V vectors of output channels (M <= 8, V <= 4). The
// accumulators are named variables, not an array: GCC keeps those in zmm
// registers, where it spills an array's elements around every vpdpbusd.
#define LOOKOUT_FOR_PIXELS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
template <int M, int V, bool kSigned>
LOOKOUT_VNNI void Tile(const TileArgs& t) {
  static_assert(M >= 1 && M <= 8 && V >= 1 && V <= 4);
  const __m512i zero = _mm512_setzero_si512();
  // Accumulators start at bias + c * row sum.
  const __m512i b0 = _mm512_loadu_si512(t.bias);
  const __m512i b1 = V > 1 ? _mm512_loadu_si512(t.bias + 16) : zero;
  const __m512i b2 = V > 2 ? _mm512_loadu_si512(t.bias + 32) : zero;
  const __m512i b3 = V > 3 ? _mm512_loadu_si512(t.bias + 48) : zero;
#define LOOKOUT_INIT(m)                                                   \
  const __m512i r##m = _mm512_set1_epi32(M > m ? t.corr[m] : 0);          \
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
#define LOOKOUT_STEP(m)                                                   \
  if constexpr (M > m) {                                                  \
    const __m512i x = _mm512_set1_epi32(Load4(in + m * stride));          \
    a##m##0 = Dot<kSigned>(a##m##0, w0, x);                               \
    if constexpr (V > 1) a##m##1 = Dot<kSigned>(a##m##1, w1, x);          \
    if constexpr (V > 2) a##m##2 = Dot<kSigned>(a##m##2, w2, x);          \
    if constexpr (V > 3) a##m##3 = Dot<kSigned>(a##m##3, w3, x);          \
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
  if (t.tail != 0) {
    LOOKOUT_LOAD_WEIGHTS()
    const size_t tail = t.tail;
#define Load4(p) LoadPart(p, tail)
    LOOKOUT_FOR_PIXELS(LOOKOUT_STEP)
#undef Load4
  }
#undef LOOKOUT_LOAD_WEIGHTS
#undef LOOKOUT_STEP

  const __m512 lo = _mm512_set1_ps(t.lo);
  const __m512 hi = _mm512_set1_ps(t.hi);
  const __m512i zero_point = _mm512_set1_epi32(t.zero_point);
  __mmask16 masks[4];
  __m512 scales[4];
  for (int v = 0; v < V; ++v) {
    const size_t first = kVector * static_cast<size_t>(v);
    masks[v] = first + kVector <= t.channels ? static_cast<__mmask16>(0xFFFF)
                                             : static_cast<__mmask16>((1u << (t.channels - first)) - 1u);
    scales[v] = _mm512_loadu_ps(t.scale + first);
  }
#define LOOKOUT_OUT(m)                                                                    \
  if constexpr (M > m) {                                                                  \
    uint8_t* out = t.output + m * t.output_stride;                                        \
    Store(a##m##0, scales[0], lo, hi, zero_point, masks[0], out);                         \
    if constexpr (V > 1) Store(a##m##1, scales[1], lo, hi, zero_point, masks[1], out + 16); \
    if constexpr (V > 2) Store(a##m##2, scales[2], lo, hi, zero_point, masks[2], out + 32); \
    if constexpr (V > 3) Store(a##m##3, scales[3], lo, hi, zero_point, masks[3], out + 48); \
  }
  LOOKOUT_FOR_PIXELS(LOOKOUT_OUT)
#undef LOOKOUT_OUT
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

template <bool kSigned, int V, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> TilesOfWidth(std::index_sequence<I...>) {
  return {&Tile<static_cast<int>(I) + 1, V, kSigned>...};
}

template <bool kSigned, size_t... J>
constexpr std::array<std::array<TileFn, kMr>, sizeof...(J)> TileTable(std::index_sequence<J...>) {
  return {TilesOfWidth<kSigned, static_cast<int>(J) + 1>(std::make_index_sequence<kMr>())...};
}

// [vectors - 1][pixels - 1].
template <bool kSigned>
constexpr auto kTiles = TileTable<kSigned>(std::make_index_sequence<kVr>());

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
    if (window != nullptr) {
      gather_ = true;
      window_ = *window;
    }
    groups_ = ic_ / 4;
    tail_ = ic_ % 4;
    const size_t all_groups = (ic_ + 3) / 4;
    const size_t vectors = (oc_ + kVector - 1) / kVector;
    signed_ = in.type == DataType::kInt8;

    const size_t bytes = vectors * all_groups * kGroupBytes;
    weights_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    std::memset(weights_.get(), 0, std::max<size_t>(bytes, 64));
    bias_.assign(vectors * kVector, 0);
    scale_.assign(vectors * kVector, 0.0f);

    const int32_t za = in.zero_point;
    const int32_t zw = signed_ ? 0 : filter.zero_point;
    row_coeff_ = signed_ ? -128 : 128 - zw;
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
        base[(k / 4) * in_block * kGroupBytes + k % 4] = static_cast<uint8_t>(byte ^ 0x80);
      }
      int64_t b = bias != nullptr ? static_cast<int64_t>(ReadBias(*bias, o)) : 0;
      b -= static_cast<int64_t>(za) * sum;
      bias_[o] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(b)));
      scale_[o] = scales[o];
    }
    zero_point_ = out.zero_point;
    lo_ = static_cast<float>(lo - out.zero_point);
    hi_ = static_cast<float>(hi - out.zero_point);
  }

  Status Prepare(KernelContext&) override { return {}; }

  void Eval() override {
    const size_t tiles = (pixels_ + kMr - 1) / kMr;
    if (gather_) {
      if (signed_) {
        pthreadpool_parallelize_1d(pool_, &RunTiles<true, true>, this, tiles, 0);
      } else {
        pthreadpool_parallelize_1d(pool_, &RunTiles<false, true>, this, tiles, 0);
      }
    } else if (signed_) {
      pthreadpool_parallelize_1d(pool_, &RunTiles<true, false>, this, tiles, 0);
    } else {
      pthreadpool_parallelize_1d(pool_, &RunTiles<false, false>, this, tiles, 0);
    }
  }

  const char* backend() const override { return "lookout"; }

 private:
  static int32_t ReadBias(const Tensor& bias, size_t i) {
    int32_t v;
    std::memcpy(&v, bias.data + i * sizeof(int32_t), sizeof(v));
    return v;
  }

  // Copies the input patch of output pixel `pixel` to `patch` (ic_ bytes).
  LOOKOUT_VNNI void Gather(size_t pixel, uint8_t* patch) const {
    const Window& w = window_;
    const size_t image = pixel / w.batch_pixels;
    const int32_t oy = static_cast<int32_t>((pixel % w.batch_pixels) / static_cast<size_t>(w.out_w));
    const int32_t ox = static_cast<int32_t>((pixel % w.batch_pixels) % static_cast<size_t>(w.out_w));
    const size_t c = static_cast<size_t>(w.channels);
    const uint8_t* base = in_->data + image * static_cast<size_t>(w.in_h) * static_cast<size_t>(w.in_w) * c;
    const uint8_t pad = static_cast<uint8_t>(in_->zero_point);
    const int32_t x0 = ox * w.stride_w - w.pad_left;
    const bool row_inside = x0 >= 0 && x0 + (w.kernel_w - 1) * w.dilation_w < w.in_w;
    for (int32_t ky = 0; ky < w.kernel_h; ++ky) {
      const int32_t iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      const size_t row_bytes = static_cast<size_t>(w.kernel_w) * c;
      if (iy < 0 || iy >= w.in_h) {
        std::memset(patch, pad, row_bytes);
      } else if (row_inside && w.dilation_w == 1) {
        const uint8_t* src = base + (static_cast<size_t>(iy) * static_cast<size_t>(w.in_w) + static_cast<size_t>(x0)) * c;
        if (row_bytes <= 64) {  // one masked copy (MobileNet's first layer: 9 bytes)
          const __mmask64 k = row_bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << row_bytes) - 1;
          _mm512_mask_storeu_epi8(patch, k, _mm512_maskz_loadu_epi8(k, src));
        } else {
          std::memcpy(patch, src, row_bytes);
        }
      } else {
        for (int32_t kx = 0; kx < w.kernel_w; ++kx) {
          const int32_t ix = x0 + kx * w.dilation_w;
          uint8_t* dst = patch + static_cast<size_t>(kx) * c;
          if (ix < 0 || ix >= w.in_w) {
            std::memset(dst, pad, c);
          } else {
            std::memcpy(dst, base + (static_cast<size_t>(iy) * static_cast<size_t>(w.in_w) + static_cast<size_t>(ix)) * c, c);
          }
        }
      }
      patch += row_bytes;
    }
  }

  template <bool kSigned, bool kGather>
  LOOKOUT_VNNI static void RunTiles(void* context, size_t tile) {
    const auto& k = *static_cast<const PointwiseKernel*>(context);
    const size_t first = tile * kMr;
    const size_t pixels = std::min<size_t>(kMr, k.pixels_ - first);
    const uint8_t* input = k.in_->data + first * k.ic_;
    alignas(64) uint8_t patches[kGather ? kMr * kMaxPatch : 1];
    if constexpr (kGather) {
      for (size_t p = 0; p < pixels; ++p) k.Gather(first + p, patches + p * k.ic_);
      input = patches;
    }
    int32_t corr[kMr];
    for (size_t p = 0; p < pixels; ++p) {
      corr[p] = static_cast<int32_t>(static_cast<uint32_t>(k.row_coeff_) *
                                     static_cast<uint32_t>(RowSum<kSigned>(input + p * k.ic_, k.ic_)));
    }
    TileArgs t;
    t.input = input;
    t.input_stride = k.ic_;
    t.groups = k.groups_;
    t.tail = k.tail_;
    t.corr = corr;
    t.output_stride = k.oc_;
    t.zero_point = k.zero_point_;
    t.lo = k.lo_;
    t.hi = k.hi_;
    const size_t all_groups = k.groups_ + (k.tail_ != 0 ? 1 : 0);
    uint8_t* output = k.out_->data + first * k.oc_;
    constexpr size_t kBlock = kVector * kVr;
    for (size_t c = 0; c < k.oc_; c += kBlock) {
      const size_t channels = std::min(kBlock, k.oc_ - c);
      const size_t vectors = (channels + kVector - 1) / kVector;
      t.weights = k.weights_.get() + (c / kVector) * all_groups * kGroupBytes;
      t.bias = k.bias_.data() + c;
      t.scale = k.scale_.data() + c;
      t.output = output + c;
      t.channels = channels;
      kTiles<kSigned>[vectors - 1][pixels - 1](t);
    }
  }

  const Tensor* in_;
  const Tensor* out_;
  pthreadpool_t pool_;
  size_t ic_ = 0, oc_ = 0, pixels_ = 0, groups_ = 0, tail_ = 0;
  bool signed_ = false;
  bool gather_ = false;
  Window window_;
  int32_t row_coeff_ = 0;
  std::unique_ptr<uint8_t, AlignedFree> weights_;
  std::vector<int32_t> bias_;
  std::vector<float> scale_;
  int32_t zero_point_ = 0;
  float lo_ = 0.0f, hi_ = 0.0f;
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

std::unique_ptr<OpKernel> MakePointwiseKernel(KernelContext& ctx, pthreadpool_t pool) {
  if (!CpuHasVnni() || OwnKernelDisabled("pointwise")) return nullptr;
  switch (ctx.node().op_code) {
    case 3: return Conv2D(ctx, pool);
    case 9: return FullyConnected(ctx, pool);
    default: return nullptr;
  }
}

#pragma GCC diagnostic pop

#else  // !LOOKOUT_POINTWISE_X86

std::unique_ptr<OpKernel> MakePointwiseKernel(KernelContext&, pthreadpool_t) { return nullptr; }

#endif

}  // namespace lookout::runtime::internal
