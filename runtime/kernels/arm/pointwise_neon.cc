// Lookout's CONV_2D and FULLY_CONNECTED on 64-bit Arm: the node bound to the
// GEMM microkernels of runtime/kernels/arm/gemm.h. Weights are packed once
// (kernels/arm/gemm_packing.h); each Invoke() runs tiles of up to 4 pixels
// over all channel blocks (or, for nodes with few pixels, tiles x blocks) on
// the thread pool.
//
// Arithmetic. With a = a* + oa and w = w* + ow (the bytes the kernel
// multiplies and their offsets, 0 or 128),
//   sum_k (a - za)(w - zw) = sum a* w* + (ow - zw) sum a* + (oa - za) sum w*
//                            + K (oa - za)(ow - zw),
// the per-channel terms folded into the bias at creation and the per-pixel
// one (uint8 only: int8 weights have zw = 0 and oa = ow = 0) computed from
// each pixel's row sum. Then XNNPACK's fp32 requantization: the outputs are
// byte for byte those of the x86 kernels and of XNNPACK's fp32 operators.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "kernels/arm/gemm.h"
#include "kernels/arm/gemm_packing.h"
#include "kernels/kernel_util.h"
#include "kernels/pointwise.h"
#include "kernels/reference/quantization.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

#if defined(__aarch64__)
namespace {

using arm::GemmArgs;
using arm::GemmFn;
using arm::kGemmKStep;
using arm::kGemmMr;
using arm::MullMode;

constexpr size_t kMaxPatch = 1024;  // bytes of one gathered patch, at most
// Below this depth (K) the tiles' per-block work (reducing lanes,
// requantizing, storing 4 or 16 channels) outweighs their products, and
// XNNPACK's kernels, which keep 16 channels per pixel in registers without
// a reduction, do less per output. Counted under qemu (scripts/arm64_icount.sh),
// leaving K < 48 to XNNPACK takes mobilenet_v1_0.25_128_quant's Invoke from
// 8.32 M to 6.92 M instructions on a Cortex-A72 and from 5.63 M to 4.47 M on
// an A76 (Debian 12), mobilenet_v2_1.0_224_quant's from 123.6 M to 111.5 M (A72).
constexpr size_t kMinDepth = 48;
// For int8 the bar is higher: XNNPACK's int8 GEMMs need no zero-point
// correction and do fewer instructions than its uint8 ones, while our tiles
// do the same work for both. tf2_mobilenet_v2_1.0_224_ptq on a Cortex-A72
// (Debian 12), by the smallest K left to our tiles: 48: 112.13 M,
// 65: 111.72 M, 100: 111.35 M, 160: 111.31 M, 200: 111.47 M, 400: 111.97 M
// (mobilenet_v2_1.0_224_quant, uint8: 48: 110.84 M, 65: 111.58 M, 100: 114.55 M).
constexpr size_t kMinDepthInt8 = 160;

// Whether the XNNPACK this was built against has dot-product GEMMs for the
// type: Debian 12's (2022) for uint8 and int8, Debian 13's (2024) for int8
// only. On a dot-product CPU those do fewer instructions than our 4x16
// tiles (Cortex-A76, tf2_mobilenet_v2_1.0_224_ptq: 53.6 M vs 54.4 M per
// Invoke on Debian 12, 49.4 M vs 51.7 M on Debian 13;
// mobilenet_v2_1.0_224_quant on Debian 12: 58.9 M vs 61.0 M), so our tiles
// run only where XNNPACK would fall back to widening multiplies.
bool XnnpackHasDotGemm(DataType type) {
#if LOOKOUT_XNNPACK_API >= 2024
  return type == DataType::kInt8;
#else
  (void)type;
  return true;
#endif
}
// uint8 tiles whose rows are at most this long are flipped (a - 128) once
// per tile for the paired-product blocks, not once per block.
constexpr size_t kMaxFlippedRow = 2048;

// A convolution window other than 1x1 / stride 1, whose patches (TFLite's
// [ky][kx][ic] order, the input zero point outside the image) each tile
// gathers on the stack.
struct Window {
  size_t batch_pixels = 0;  // OH * OW
  int32_t in_h = 0, in_w = 0, channels = 0, out_w = 0;
  int32_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1;
  int32_t dilation_h = 1, dilation_w = 1, pad_top = 0, pad_left = 0;
};

// Sum of the n bytes at p, unsigned. The last partial 16 bytes are read
// whole (up to 15 bytes past p + n must be readable) and masked.
uint32_t RowSum(const uint8_t* p, size_t n) {
  static constexpr uint8_t kIndex[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  uint32x4_t acc = vdupq_n_u32(0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) acc = vpadalq_u16(acc, vpaddlq_u8(vld1q_u8(p + i)));
  if (i < n) {
    const uint8x16_t keep = vcltq_u8(vld1q_u8(kIndex), vdupq_n_u8(static_cast<uint8_t>(n - i)));
    acc = vpadalq_u16(acc, vpaddlq_u8(vandq_u8(vld1q_u8(p + i), keep)));
  }
  return vaddvq_u32(acc);
}

int32_t Wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

class PointwiseArmKernel : public OpKernel {
 public:
  PointwiseArmKernel(const Tensor& in, const Tensor& filter, const Tensor* bias, const Tensor& out,
                     const std::vector<float>& scales, int32_t lo, int32_t hi, const Window* window,
                     pthreadpool_t pool, bool dot)
      : in_(&in), out_(&out), pool_(pool), dot_(dot) {
    oc_ = static_cast<size_t>(filter.dim(0));
    k_ = filter.elements / oc_;
    pixels_ = out.elements / oc_;
    signed_ = in.type == DataType::kInt8;
    if (window != nullptr) {
      gather_ = true;
      window_ = *window;
      out_h_ = static_cast<int32_t>(window_.batch_pixels / static_cast<size_t>(window_.out_w));
    }
    packed_ = arm::PackNeonGemm(filter, bias, scales, in.zero_point, dot_);
    padded_k_ = packed_.padded_k;
    block_ = packed_.block;
    blocks_ = packed_.blocks;
    const int64_t zw = signed_ ? 0 : filter.zero_point;
    for (size_t b = 0; b < blocks_; ++b) {
      const bool paired = packed_.paired[b];
      if (runs_.empty() || runs_.back().paired != paired) runs_.push_back({b, b, paired, {}, {}});
      Run& run = runs_.back();
      run.end = b + 1;
      has_paired_ = has_paired_ || paired;
      for (int pixels = 1; pixels <= kGemmMr; ++pixels) {
        run.fns[pixels - 1] = dot_ ? arm::DotGemm(signed_, pixels)
                              : paired ? arm::MullGemm(signed_ ? MullMode::kS8Paired : MullMode::kU8Paired, pixels)
                                       : arm::MullGemm(signed_ ? MullMode::kS8 : MullMode::kU8, pixels);
        run.flipped_fns[pixels - 1] = paired && !signed_ ? arm::MullGemm(MullMode::kU8PairedFlipped, pixels) : nullptr;
      }
    }
    zero_point_ = out.zero_point;
    act_min_ = lo;
    act_max_ = hi;
    zw_ = static_cast<int32_t>(zw);
  }

  Status Prepare(KernelContext&) override { return {}; }

  Status Eval() override {
    const size_t tiles = (pixels_ + kGemmMr - 1) / kGemmMr;
    if (pool_ != nullptr && tiles < 8 && blocks_ > 1) {
      // Few pixels (FULLY_CONNECTED, the logits' 1x1 layer): split the
      // output channels too, so every thread has work.
      const size_t per_task = dot_ ? 1 : 4;
      pthreadpool_parallelize_2d(pool_, &RunTileBlocks, this, tiles, (blocks_ + per_task - 1) / per_task, 0);
    } else {
      pthreadpool_parallelize_1d(pool_, &RunTile, this, tiles, 0);
    }
    return {};
  }

  KernelFamily family() const override { return KernelFamily::kOwnArm; }

 private:
  static void RunTile(void* context, size_t tile) {
    static_cast<const PointwiseArmKernel*>(context)->Tile(tile, 0, SIZE_MAX);
  }
  static void RunTileBlocks(void* context, size_t tile, size_t task) {
    const auto& k = *static_cast<const PointwiseArmKernel*>(context);
    const size_t per_task = k.dot_ ? 1 : 4;
    k.Tile(tile, task * per_task, (task + 1) * per_task);
  }

  void Tile(size_t tile, size_t block_begin, size_t block_end) const {
    const size_t first = tile * kGemmMr;
    const int m = static_cast<int>(std::min<size_t>(kGemmMr, pixels_ - first));
    alignas(16) uint8_t patches[kGemmMr * kMaxPatch + kGemmKStep];
    GemmArgs t{};
    size_t row_bytes;  // bytes of one pixel's row, all of them summed
    if (gather_) {
      GatherTile(first, static_cast<size_t>(m), patches);
      t.input = patches;
      t.input_stride = padded_k_;
      t.steps = padded_k_ / kGemmKStep;
      row_bytes = padded_k_;
    } else {
      t.input = in_->data + first * k_;
      t.input_stride = k_;
      t.steps = k_ / kGemmKStep;
      t.tail_bytes = k_ % kGemmKStep;
      row_bytes = k_;
    }
    // Per-pixel terms: -zw sum a (a* = a), (128 - zw)(sum a - 128 K) (a* = a - 128).
    int32_t corr_plain[kGemmMr] = {}, corr_flipped[kGemmMr] = {};
    if (!signed_) {
      for (int p = 0; p < m; ++p) {
        const int64_t sum = RowSum(t.input + static_cast<size_t>(p) * t.input_stride, row_bytes);
        corr_plain[p] = Wrap(-static_cast<int64_t>(zw_) * sum);
        corr_flipped[p] = Wrap((128 - static_cast<int64_t>(zw_)) * (sum - 128 * static_cast<int64_t>(k_)));
      }
    }
    // The paired blocks of a uint8 node multiply a - 128: flip the rows
    // once (whole 16-byte steps; what lies past K meets zero weights).
    alignas(16) uint8_t flipped[kGemmMr * kMaxFlippedRow];
    const uint8_t* paired_input = t.input;
    size_t paired_stride = t.input_stride;
    bool flipped_rows = false;
    if (!signed_ && has_paired_ && padded_k_ <= kMaxFlippedRow) {
      const uint8x16_t flip = vdupq_n_u8(0x80);
      for (int p = 0; p < m; ++p) {
        const uint8_t* src = t.input + static_cast<size_t>(p) * t.input_stride;
        uint8_t* dst = flipped + static_cast<size_t>(p) * padded_k_;
        for (size_t k = 0; k < padded_k_; k += kGemmKStep) vst1q_u8(dst + k, veorq_u8(vld1q_u8(src + k), flip));
      }
      paired_input = flipped;
      paired_stride = padded_k_;
      flipped_rows = true;
    }
    const uint8_t* plain_input = t.input;
    const size_t plain_stride = t.input_stride;
    const size_t plain_steps = t.steps, plain_tail = t.tail_bytes;
    t.block_bytes = padded_k_ * block_;
    t.output_stride = oc_;
    t.zero_point = zero_point_;
    t.act_min = act_min_;
    t.act_max = act_max_;
    uint8_t* output = out_->data + first * oc_;
    for (const Run& run : runs_) {
      const size_t begin = std::max(run.begin, block_begin), end = std::min(run.end, block_end);
      if (begin >= end) continue;
      const size_t c = begin * block_;
      t.weights = packed_.weights.get() + begin * t.block_bytes;
      t.blocks = end - begin;
      t.bias = packed_.bias.data() + c;
      t.scale = packed_.scale.data() + c;
      t.output = output + c;
      t.channels = std::min(oc_, end * block_) - c;
      t.corr = run.paired ? corr_flipped : corr_plain;
      if (run.paired && flipped_rows) {
        t.input = paired_input;
        t.input_stride = paired_stride;
        t.steps = padded_k_ / kGemmKStep;
        t.tail_bytes = 0;
        run.flipped_fns[m - 1](t);
      } else {
        t.input = plain_input;
        t.input_stride = plain_stride;
        t.steps = plain_steps;
        t.tail_bytes = plain_tail;
        run.fns[m - 1](t);
      }
    }
  }

  // The patches of pixels first .. first + count - 1, padded_k_ bytes apart
  // (bytes past K are 0); `patches` has 16 bytes of room after the last.
  void GatherTile(size_t first, size_t count, uint8_t* patches) const {
    const Window& w = window_;
    const size_t c = static_cast<size_t>(w.channels);
    const uint8_t pad = static_cast<uint8_t>(in_->zero_point);
    const size_t row_bytes = static_cast<size_t>(w.kernel_w) * c;
    const size_t line = static_cast<size_t>(w.in_w) * c;
    const size_t image_bytes = static_cast<size_t>(w.in_h) * line;
    const uint8_t* const data = in_->data;
    // Rows of at most 16 contiguous bytes (MobileNet's first layer: 9) are
    // copied as whole 16-byte vectors, each spilling into the next row's
    // place before that row is written; the padding is cleared afterwards.
    const bool short_rows = w.dilation_w == 1 && row_bytes <= kGemmKStep;
    const int32_t last_dy = (w.kernel_h - 1) * w.dilation_h;
    size_t image = first / w.batch_pixels;
    const size_t in_image = first % w.batch_pixels;
    int32_t oy = static_cast<int32_t>(in_image / static_cast<size_t>(w.out_w));
    int32_t ox = static_cast<int32_t>(in_image % static_cast<size_t>(w.out_w));
    for (size_t p = 0; p < count; ++p) {
      uint8_t* patch = patches + p * padded_k_;
      const uint8_t* base = data + image * image_bytes;
      const int32_t x0 = ox * w.stride_w - w.pad_left;
      const int32_t y0 = oy * w.stride_h - w.pad_top;
      const bool row_inside = w.dilation_w == 1 && x0 >= 0 && x0 + w.kernel_w - 1 < w.in_w;
      if (short_rows && row_inside && y0 >= 0 && y0 + last_dy < w.in_h) {
        const uint8_t* src = base + static_cast<size_t>(y0) * line + static_cast<size_t>(x0) * c;
        const size_t step = static_cast<size_t>(w.dilation_h) * line;
        for (int32_t ky = 0; ky < w.kernel_h; ++ky, src += step) {
          vst1q_u8(patch + static_cast<size_t>(ky) * row_bytes, vld1q_u8(src));
        }
      } else {
        int32_t iy = y0;
        for (int32_t ky = 0; ky < w.kernel_h; ++ky, iy += w.dilation_h) {
          uint8_t* dst = patch + static_cast<size_t>(ky) * row_bytes;
          if (iy < 0 || iy >= w.in_h) {
            std::memset(dst, pad, row_bytes);
            continue;
          }
          const uint8_t* row = base + static_cast<size_t>(iy) * line;
          if (row_inside) {
            std::memcpy(dst, row + static_cast<size_t>(x0) * c, row_bytes);
            continue;
          }
          for (int32_t kx = 0; kx < w.kernel_w; ++kx) {
            const int32_t ix = x0 + kx * w.dilation_w;
            if (ix < 0 || ix >= w.in_w) {
              std::memset(dst + static_cast<size_t>(kx) * c, pad, c);
            } else {
              std::memcpy(dst + static_cast<size_t>(kx) * c, row + static_cast<size_t>(ix) * c, c);
            }
          }
        }
      }
      std::memset(patch + k_, 0, padded_k_ - k_);
      if (++ox == w.out_w) {
        ox = 0;
        if (++oy == out_h_) {
          oy = 0;
          ++image;
        }
      }
    }
  }

  const Tensor* in_;
  const Tensor* out_;
  pthreadpool_t pool_;
  bool dot_;
  size_t k_ = 0, padded_k_ = 0, oc_ = 0, pixels_ = 0, block_ = 0, blocks_ = 0;
  bool signed_ = false;
  bool gather_ = false;
  int32_t out_h_ = 0;
  Window window_;
  arm::PackedGemm packed_;
  // Consecutive blocks of one mode (mull kernels: paired products or not),
  // each computed by one call per tile.
  struct Run {
    size_t begin, end;  // blocks
    bool paired;
    GemmFn fns[kGemmMr];          // per tile height 1..kGemmMr
    GemmFn flipped_fns[kGemmMr];  // the same over inputs flipped by the caller
  };
  bool has_paired_ = false;
  std::vector<Run> runs_;
  int32_t zero_point_ = 0, act_min_ = 0, act_max_ = 0, zw_ = 0;
};

// The requantization scales XNNPACK's fp32 operators would use, or empty
// when XNNPACK would refuse the node (scale outside [2^-32, 256)).
std::vector<float> Scales(const Tensor& in, const Tensor& filter, const Tensor& out, size_t channels) {
  std::vector<float> scales(channels);
  const bool per_channel = filter.quantization.scale.size() > 1;
  if (per_channel && filter.quantization.scale.size() != channels) return {};
  for (size_t c = 0; c < channels; ++c) {
    const float filter_scale = per_channel ? filter.quantization.scale[c] : filter.scale;
    if (!std::isnormal(filter_scale) || filter_scale <= 0.0f) return {};
    const float product = in.scale * filter_scale;
    scales[c] = product / out.scale;
    if (!(scales[c] >= 0x1.0p-32f) || !(scales[c] < 256.0f)) return {};
  }
  return scales;
}

std::unique_ptr<OpKernel> Make(const Tensor& in, const Tensor& filter, const Tensor* bias, const Tensor& out,
                               int activation, const Window* window, const KernelEnvironment& env) {
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
  const bool defer = env.own.defer_to_xnnpack && env.xnnpack_allowed;
  if (k < (in.type == DataType::kInt8 ? kMinDepthInt8 : kMinDepth) && defer) return nullptr;
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
  reference::ActivationRangeQuantized(activation, out.scale, out.zero_point, QMin(out.type), QMax(out.type),
                                      &lo, &hi);
  if (lo > hi) return nullptr;
  const std::vector<float> scales = Scales(in, filter, out, oc);
  if (scales.empty()) return nullptr;
  const bool dot = env.cpu->arm_dot_product && env.own.dot_product;
  if (dot && defer && XnnpackHasDotGemm(in.type)) return nullptr;
  return std::make_unique<PointwiseArmKernel>(in, filter, bias, out, scales, lo, hi, window, env.pool, dot);
}

std::unique_ptr<OpKernel> Conv2D(KernelContext& ctx, const KernelEnvironment& env) {
  const auto* o = ctx.op()->builtin_options_as_Conv2DOptions();
  if (o == nullptr) return nullptr;
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr) return nullptr;
  if (in->rank() != 4 || filter->rank() != 4 || out->rank() != 4) return nullptr;
  if (filter->dim(3) != in->dim(3) || filter->dim(0) != out->dim(3) || in->dim(0) != out->dim(0)) return nullptr;
  const int activation = static_cast<int>(o->fused_activation_function());
  const bool pointwise = filter->dim(1) == 1 && filter->dim(2) == 1 && o->stride_h() == 1 && o->stride_w() == 1 &&
                         in->dim(1) == out->dim(1) && in->dim(2) == out->dim(2);
  if (pointwise) return Make(*in, *filter, ctx.input(2), *out, activation, nullptr, env);
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
  if (w.batch_pixels == 0 || w.channels <= 0 || w.out_w <= 0) return nullptr;
  return Make(*in, *filter, ctx.input(2), *out, activation, &w, env);
}

std::unique_ptr<OpKernel> FullyConnected(KernelContext& ctx, const KernelEnvironment& env) {
  const auto* o = ctx.op()->builtin_options_as_FullyConnectedOptions();
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || filter == nullptr || out == nullptr || filter->rank() != 2) return nullptr;
  const int activation = o != nullptr ? static_cast<int>(o->fused_activation_function()) : 0;
  return Make(*in, *filter, ctx.input(2), *out, activation, nullptr, env);
}

}  // namespace

std::unique_ptr<OpKernel> MakeArmPointwiseKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (!env.own.pointwise) return nullptr;
  switch (ctx.node().op_code) {
    case BuiltinOperator::kConv2D: return Conv2D(ctx, env);
    case BuiltinOperator::kFullyConnected: return FullyConnected(ctx, env);
    default: return nullptr;
  }
}

#endif  // __aarch64__

}  // namespace lookout::runtime::internal
