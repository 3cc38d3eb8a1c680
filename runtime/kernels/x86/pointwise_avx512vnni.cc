// Lookout's pointwise convolution: CONV_2D with a 1x1 filter and stride 1,
// and FULLY_CONNECTED, as one 8-bit GEMM [pixels x IC] x [IC x OC] on
// AVX-512 VNNI (vpdpbusd: u8 x s8 products, four at a time, summed into
// int32 lanes). Other CONV_2D windows whose patch (KH x KW x IC) is at most
// kMaxPatch bytes (MobileNet's 3x3 stride-2 first layer) run the same GEMM
// over patches each tile gathers on the stack (see Window).
//
// The tiles, their arithmetic and weight layout: kernels/x86/gemm.h; the
// packing: kernels/x86/gemm_packing.h. Here: which nodes the GEMM takes, the
// gathering of windows, and the split of tiles over the thread pool (tiles
// of kGemmMr pixels, each over all output channels; layers with few pixels
// also split the channels).
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
#include "kernels/x86/gemm.h"
#include "kernels/x86/gemm_packing.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

#include <immintrin.h>

namespace lookout::runtime::internal {

// GCC 12's AVX-512 headers build _mm512_undefined_*() from a self-initialized
// variable, which -Wuninitialized reports at every inlined use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning: clang rejects the unknown group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace {

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kMr = x86::kGemmMr;
constexpr int kVr = x86::kGemmVr;
constexpr size_t kVector = x86::kGemmVector;
constexpr size_t kGroupBytes = x86::kGemmGroupBytes;

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
    // flip_ (int8 gathered): the gather stores a + 128 as u8 and the weights
    // stay s8, so sum (a - za) w = dot - (za + 128) sum w, no row sums.
    packed_ = x86::PackVnniGemm(filter, bias, scales, in.zero_point, flip_);
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
    x86::GemmArgs t;
    t.input = input;
    t.input_stride = stride;
    t.groups = groups_;
    t.tail = tail_;
    t.corr = corr;
    t.row_coeff = packed_.row_coeff;
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
      t.weights = packed_.weights.get() + (c / kVector) * all_groups * kGroupBytes;
      t.bias = packed_.bias.data() + c;
      t.scale = packed_.scale.data() + c;
      t.output = output + c;
      t.channels = channels;
      x86::VnniGemm(kSigned, kRowSum, static_cast<int>(vectors), static_cast<int>(pixels))(t);
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
      corr[p] = static_cast<int32_t>(static_cast<uint32_t>(k.packed_.row_coeff) *
                                     static_cast<uint32_t>(x86::VnniRowSum(kSigned, input + p * k.ic_, k.ic_)));
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
    if (k.packed_.row_coeff != 0) {
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
  x86::PackedGemm packed_;
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

}  // namespace lookout::runtime::internal
