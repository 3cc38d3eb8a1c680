// Nodes that Debian 12's XNNPACK (2022 operator API) runs: 8-bit CONV_2D,
// DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, AVERAGE_POOL_2D and MEAN
// over H and W. Each becomes one XNNPACK operator, created (weights packed)
// once at AllocateTensors() and set up once the arena is placed, so Invoke()
// only runs it.
//
// XNNPACK requantizes in fp32 (scale × accumulator, round to nearest even)
// where TFLite's reference kernels use a fixed-point multiplier: outputs may
// differ from the reference path by an LSB, exactly as TFLite's own XNNPACK
// delegate does.
#include <xnnpack.h>

#include <functional>
#include <memory>
#include <vector>

#include "kernels/kernel_util.h"
#include "kernels/depthwise.h"
#include "kernels/pointwise.h"
#include "kernels/reference/quantization.h"
#include "src/graph.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

class XnnpackKernel : public OpKernel {
 public:
  XnnpackKernel(xnn_operator_t op, pthreadpool_t pool, std::function<xnn_status(xnn_operator_t, pthreadpool_t)> setup)
      : op_(op), pool_(pool), setup_(std::move(setup)) {}
  ~XnnpackKernel() override { xnn_delete_operator(op_); }

  Status Prepare(KernelContext&) override { return {}; }
  Status Setup() override {
    if (setup_(op_, pool_) != xnn_status_success) return Status::Error("XNNPACK setup failed");
    return {};
  }
  void Eval() override { xnn_run_operator(op_, pool_); }
  const char* backend() const override { return "xnnpack"; }

 private:
  xnn_operator_t op_;
  pthreadpool_t pool_;
  std::function<xnn_status(xnn_operator_t, pthreadpool_t)> setup_;
};

using Setup = std::function<xnn_status(xnn_operator_t, pthreadpool_t)>;

std::unique_ptr<OpKernel> Wrap(xnn_status status, xnn_operator_t op, pthreadpool_t pool, Setup setup) {
  if (status != xnn_status_success || op == nullptr) {
    if (op != nullptr) xnn_delete_operator(op);
    return nullptr;
  }
  return std::make_unique<XnnpackKernel>(op, pool, std::move(setup));
}

void ActivationRange(int activation, const Tensor& out, int32_t* lo, int32_t* hi) {
  reference::ActivationRangeQuantized(activation, out.scale, out.zero_point, QMin(out.type),
                                      QMax(out.type), lo, hi);
}

// Leading and trailing padding of one spatial dimension, TFLite's way.
void Padding(int padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation, int32_t out,
             uint32_t* before, uint32_t* after) {
  if (padding != 0) {  // VALID
    *before = *after = 0;
    return;
  }
  const int64_t effective = static_cast<int64_t>(dilation) * (filter - 1) + 1;
  const int64_t total = std::max<int64_t>(0, static_cast<int64_t>(out - 1) * stride + effective - in);
  *before = static_cast<uint32_t>(ComputePadding(stride, dilation, in, filter, out));
  *after = static_cast<uint32_t>(total - *before);
}

struct ConvShape {
  uint32_t pad_top, pad_right, pad_bottom, pad_left;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  uint32_t groups;
  size_t group_in, group_out, in_stride, out_stride;
  uint32_t flags;
};

std::unique_ptr<OpKernel> MakeConv(const Tensor& in, const Tensor& filter, const Tensor* bias,
                                   const Tensor& out, const ConvShape& s, int activation,
                                   pthreadpool_t pool) {
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  const int32_t* bias_data = bias != nullptr ? bias->data_as<int32_t>() : nullptr;
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t h = static_cast<size_t>(in.dim(1)), w = static_cast<size_t>(in.dim(2));
  xnn_operator_t op = nullptr;
  if (in.type == DataType::kUInt8) {
    const xnn_status st = xnn_create_convolution2d_nhwc_qu8(
        s.pad_top, s.pad_right, s.pad_bottom, s.pad_left, s.kernel_h, s.kernel_w, s.stride_h,
        s.stride_w, s.dilation_h, s.dilation_w, s.groups, s.group_in, s.group_out, s.in_stride,
        s.out_stride, static_cast<uint8_t>(in.zero_point), in.scale,
        static_cast<uint8_t>(filter.zero_point), filter.scale, filter.data_as<uint8_t>(), bias_data,
        static_cast<uint8_t>(out.zero_point), out.scale, static_cast<uint8_t>(lo),
        static_cast<uint8_t>(hi), s.flags, &op);
    const Tensor* pin = &in;
    const Tensor* pout = &out;
    return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
      return xnn_setup_convolution2d_nhwc_qu8(o, batch, h, w, pin->data_as<uint8_t>(),
                                              pout->data_as<uint8_t>(), p);
    });
  }
  xnn_status st;
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  if (filter.quantization.scale.size() > 1) {
    st = xnn_create_convolution2d_nhwc_qc8(
        s.pad_top, s.pad_right, s.pad_bottom, s.pad_left, s.kernel_h, s.kernel_w, s.stride_h,
        s.stride_w, s.dilation_h, s.dilation_w, s.groups, s.group_in, s.group_out, s.in_stride,
        s.out_stride, static_cast<int8_t>(in.zero_point), in.scale, filter.quantization.scale.data(),
        filter.data_as<int8_t>(), bias_data, static_cast<int8_t>(out.zero_point), out.scale,
        static_cast<int8_t>(lo), static_cast<int8_t>(hi), s.flags, &op);
    return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
      return xnn_setup_convolution2d_nhwc_qc8(o, batch, h, w, pin->data_as<int8_t>(),
                                              pout->data_as<int8_t>(), p);
    });
  }
  st = xnn_create_convolution2d_nhwc_qs8(
      s.pad_top, s.pad_right, s.pad_bottom, s.pad_left, s.kernel_h, s.kernel_w, s.stride_h,
      s.stride_w, s.dilation_h, s.dilation_w, s.groups, s.group_in, s.group_out, s.in_stride,
      s.out_stride, static_cast<int8_t>(in.zero_point), in.scale, filter.scale,
      filter.data_as<int8_t>(), bias_data, static_cast<int8_t>(out.zero_point), out.scale,
      static_cast<int8_t>(lo), static_cast<int8_t>(hi), s.flags, &op);
  return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
    return xnn_setup_convolution2d_nhwc_qs8(o, batch, h, w, pin->data_as<int8_t>(),
                                            pout->data_as<int8_t>(), p);
  });
}

std::unique_ptr<OpKernel> Conv2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_Conv2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  ConvShape s{};
  const int padding = static_cast<int>(o->padding());
  Padding(padding, in.dim(1), filter.dim(1), o->stride_h(), o->dilation_h_factor(), out.dim(1),
          &s.pad_top, &s.pad_bottom);
  Padding(padding, in.dim(2), filter.dim(2), o->stride_w(), o->dilation_w_factor(), out.dim(2),
          &s.pad_left, &s.pad_right);
  s.kernel_h = static_cast<uint32_t>(filter.dim(1));
  s.kernel_w = static_cast<uint32_t>(filter.dim(2));
  s.stride_h = static_cast<uint32_t>(o->stride_h());
  s.stride_w = static_cast<uint32_t>(o->stride_w());
  s.dilation_h = static_cast<uint32_t>(o->dilation_h_factor());
  s.dilation_w = static_cast<uint32_t>(o->dilation_w_factor());
  s.groups = 1;
  s.group_in = s.in_stride = static_cast<size_t>(in.dim(3));
  s.group_out = s.out_stride = static_cast<size_t>(out.dim(3));
  return MakeConv(in, filter, ctx.input(2), out, s, static_cast<int>(o->fused_activation_function()), pool);
}

std::unique_ptr<OpKernel> DepthwiseConv2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  ConvShape s{};
  const int padding = static_cast<int>(o->padding());
  Padding(padding, in.dim(1), filter.dim(1), o->stride_h(), o->dilation_h_factor(), out.dim(1),
          &s.pad_top, &s.pad_bottom);
  Padding(padding, in.dim(2), filter.dim(2), o->stride_w(), o->dilation_w_factor(), out.dim(2),
          &s.pad_left, &s.pad_right);
  s.kernel_h = static_cast<uint32_t>(filter.dim(1));
  s.kernel_w = static_cast<uint32_t>(filter.dim(2));
  s.stride_h = static_cast<uint32_t>(o->stride_h());
  s.stride_w = static_cast<uint32_t>(o->stride_w());
  s.dilation_h = static_cast<uint32_t>(o->dilation_h_factor());
  s.dilation_w = static_cast<uint32_t>(o->dilation_w_factor());
  s.groups = static_cast<uint32_t>(in.dim(3));
  s.group_in = 1;
  s.group_out = static_cast<size_t>(out.dim(3) / in.dim(3));
  s.in_stride = static_cast<size_t>(in.dim(3));
  s.out_stride = static_cast<size_t>(out.dim(3));
  s.flags = XNN_FLAG_DEPTHWISE_CONVOLUTION;
  return MakeConv(in, filter, ctx.input(2), out, s, static_cast<int>(o->fused_activation_function()), pool);
}

std::unique_ptr<OpKernel> FullyConnected(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_FullyConnectedOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor* bias = ctx.input(2);
  const Tensor& out = *ctx.output(0);
  const int activation = o != nullptr ? static_cast<int>(o->fused_activation_function()) : 0;
  const size_t units = static_cast<size_t>(filter.dim(0));
  const size_t depth = static_cast<size_t>(filter.dim(1));
  const size_t batch = in.elements / depth;
  if (in.type == DataType::kInt8 && filter.quantization.scale.size() > 1) {
    // No per-channel FULLY_CONNECTED in this XNNPACK: a 1x1 convolution over
    // a batch of 1x1 images is the same product with per-channel scales.
    int32_t lo, hi;
    ActivationRange(activation, out, &lo, &hi);
    xnn_operator_t op = nullptr;
    const xnn_status st = xnn_create_convolution2d_nhwc_qc8(
        0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, depth, units, depth, units,
        static_cast<int8_t>(in.zero_point), in.scale, filter.quantization.scale.data(),
        filter.data_as<int8_t>(), bias != nullptr ? bias->data_as<int32_t>() : nullptr,
        static_cast<int8_t>(out.zero_point), out.scale, static_cast<int8_t>(lo),
        static_cast<int8_t>(hi), 0, &op);
    const Tensor* pin = &in;
    const Tensor* pout = &out;
    return Wrap(st, op, pool, [=](xnn_operator_t op2, pthreadpool_t p) {
      return xnn_setup_convolution2d_nhwc_qc8(op2, batch, 1, 1, pin->data_as<int8_t>(),
                                              pout->data_as<int8_t>(), p);
    });
  }
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  const int32_t* bias_data = bias != nullptr ? bias->data_as<int32_t>() : nullptr;
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  xnn_operator_t op = nullptr;
  if (in.type == DataType::kUInt8) {
    const xnn_status st = xnn_create_fully_connected_nc_qu8(
        depth, units, depth, units, static_cast<uint8_t>(in.zero_point), in.scale,
        static_cast<uint8_t>(filter.zero_point), filter.scale, filter.data_as<uint8_t>(), bias_data,
        static_cast<uint8_t>(out.zero_point), out.scale, static_cast<uint8_t>(lo),
        static_cast<uint8_t>(hi), 0, &op);
    return Wrap(st, op, pool, [=](xnn_operator_t op2, pthreadpool_t p) {
      return xnn_setup_fully_connected_nc_qu8(op2, batch, pin->data_as<uint8_t>(),
                                              pout->data_as<uint8_t>(), p);
    });
  }
  const xnn_status st = xnn_create_fully_connected_nc_qs8(
      depth, units, depth, units, static_cast<int8_t>(in.zero_point), in.scale, filter.scale,
      filter.data_as<int8_t>(), bias_data, static_cast<int8_t>(out.zero_point), out.scale,
      static_cast<int8_t>(lo), static_cast<int8_t>(hi), 0, &op);
  return Wrap(st, op, pool, [=](xnn_operator_t op2, pthreadpool_t p) {
    return xnn_setup_fully_connected_nc_qs8(op2, batch, pin->data_as<int8_t>(),
                                            pout->data_as<int8_t>(), p);
  });
}

template <bool kAdd>
std::unique_ptr<OpKernel> Binary(KernelContext& ctx, pthreadpool_t pool) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  if (a.is_constant || b.is_constant) return nullptr;
  int activation = 0;
  if constexpr (kAdd) {
    if (const auto* o = ctx.op()->builtin_options_as_AddOptions()) activation = static_cast<int>(o->fused_activation_function());
  } else {
    if (const auto* o = ctx.op()->builtin_options_as_MulOptions()) activation = static_cast<int>(o->fused_activation_function());
  }
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  std::vector<size_t> sa(a.shape.begin(), a.shape.end()), sb(b.shape.begin(), b.shape.end());
  const Tensor* pa = &a;
  const Tensor* pb = &b;
  const Tensor* po = &out;
  xnn_operator_t op = nullptr;
  xnn_status st;
  if (a.type == DataType::kUInt8) {
    const auto create = kAdd ? xnn_create_add_nd_qu8 : xnn_create_multiply_nd_qu8;
    const auto setup = kAdd ? xnn_setup_add_nd_qu8 : xnn_setup_multiply_nd_qu8;
    st = create(static_cast<uint8_t>(a.zero_point), a.scale, static_cast<uint8_t>(b.zero_point),
                b.scale, static_cast<uint8_t>(out.zero_point), out.scale, static_cast<uint8_t>(lo),
                static_cast<uint8_t>(hi), 0, &op);
    return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
      return setup(o, sa.size(), sa.data(), sb.size(), sb.data(), pa->data_as<uint8_t>(),
                   pb->data_as<uint8_t>(), po->data_as<uint8_t>(), p);
    });
  }
  const auto create = kAdd ? xnn_create_add_nd_qs8 : xnn_create_multiply_nd_qs8;
  const auto setup = kAdd ? xnn_setup_add_nd_qs8 : xnn_setup_multiply_nd_qs8;
  st = create(static_cast<int8_t>(a.zero_point), a.scale, static_cast<int8_t>(b.zero_point), b.scale,
              static_cast<int8_t>(out.zero_point), out.scale, static_cast<int8_t>(lo),
              static_cast<int8_t>(hi), 0, &op);
  return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
    return setup(o, sa.size(), sa.data(), sb.size(), sb.data(), pa->data_as<int8_t>(),
                 pb->data_as<int8_t>(), po->data_as<int8_t>(), p);
  });
}

// Mean over H and W of an NHWC tensor: XNNPACK's global average pooling.
std::unique_ptr<OpKernel> GlobalAverage(const Tensor& in, const Tensor& out, int activation,
                                        pthreadpool_t pool) {
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t width = static_cast<size_t>(in.dim(1)) * static_cast<size_t>(in.dim(2));
  const size_t channels = static_cast<size_t>(in.dim(3));
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  xnn_operator_t op = nullptr;
  if (in.type == DataType::kUInt8) {
    const xnn_status st = xnn_create_global_average_pooling_nwc_qu8(
        channels, channels, channels, static_cast<uint8_t>(in.zero_point), in.scale,
        static_cast<uint8_t>(out.zero_point), out.scale, static_cast<uint8_t>(lo),
        static_cast<uint8_t>(hi), 0, &op);
    return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
      return xnn_setup_global_average_pooling_nwc_qu8(o, batch, width, pin->data_as<uint8_t>(),
                                                      pout->data_as<uint8_t>(), p);
    });
  }
  const xnn_status st = xnn_create_global_average_pooling_nwc_qs8(
      channels, channels, channels, static_cast<int8_t>(in.zero_point), in.scale,
      static_cast<int8_t>(out.zero_point), out.scale, static_cast<int8_t>(lo),
      static_cast<int8_t>(hi), 0, &op);
  return Wrap(st, op, pool, [=](xnn_operator_t o, pthreadpool_t p) {
    return xnn_setup_global_average_pooling_nwc_qs8(o, batch, width, pin->data_as<int8_t>(),
                                                    pout->data_as<int8_t>(), p);
  });
}

std::unique_ptr<OpKernel> AveragePool2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_Pool2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& out = *ctx.output(0);
  const int activation = static_cast<int>(o->fused_activation_function());
  // A window covering the whole image: a global average.
  if (out.dim(1) == 1 && out.dim(2) == 1 && o->filter_height() == in.dim(1) &&
      o->filter_width() == in.dim(2)) {
    return GlobalAverage(in, out, activation, pool);
  }
  // XNNPACK's windowed pooling is uint8 only; with padding its divisor may
  // count padded pixels, unlike TFLite's, so only unpadded windows go there.
  if (in.type != DataType::kUInt8) return nullptr;
  const int padding = static_cast<int>(o->padding());
  uint32_t top, bottom, left, right;
  Padding(padding, in.dim(1), o->filter_height(), o->stride_h(), 1, out.dim(1), &top, &bottom);
  Padding(padding, in.dim(2), o->filter_width(), o->stride_w(), 1, out.dim(2), &left, &right);
  if (top || bottom || left || right) return nullptr;
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  const size_t channels = static_cast<size_t>(in.dim(3));
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t h = static_cast<size_t>(in.dim(1)), w = static_cast<size_t>(in.dim(2));
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn_create_average_pooling2d_nhwc_qu8(
      0, 0, 0, 0, static_cast<uint32_t>(o->filter_height()), static_cast<uint32_t>(o->filter_width()),
      static_cast<uint32_t>(o->stride_h()), static_cast<uint32_t>(o->stride_w()), channels, channels,
      channels, static_cast<uint8_t>(in.zero_point), in.scale, static_cast<uint8_t>(out.zero_point),
      out.scale, static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), 0, &op);
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t op2, pthreadpool_t p) {
    return xnn_setup_average_pooling2d_nhwc_qu8(op2, batch, h, w, pin->data_as<uint8_t>(),
                                                pout->data_as<uint8_t>(), p);
  });
}

std::unique_ptr<OpKernel> Mean(KernelContext& ctx, pthreadpool_t pool) {
  // The reference Prepare admitted only axes {1, 2} of a 4-D input.
  return GlobalAverage(*ctx.input(0), *ctx.output(0), 0, pool);
}

}  // namespace

bool InitializeXnnpack() {
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
  return ok;
}

std::unique_ptr<OpKernel> MakeXnnpackKernel(KernelContext& ctx, pthreadpool_t pool) {
  // Lookout's own kernels first where they beat XNNPACK (same outputs).
  if (std::unique_ptr<OpKernel> own = MakePointwiseKernel(ctx, pool)) return own;
  if (std::unique_ptr<OpKernel> own = MakeDepthwiseKernel(ctx, pool)) return own;
  if (!InitializeXnnpack()) return nullptr;
  switch (ctx.node().op_code) {
    case 3: return Conv2D(ctx, pool);
    case 4: return DepthwiseConv2D(ctx, pool);
    case 9: return FullyConnected(ctx, pool);
    case 0: return Binary<true>(ctx, pool);
    case 18: return Binary<false>(ctx, pool);
    case 1: return AveragePool2D(ctx, pool);
    case 40: return Mean(ctx, pool);
    default: return nullptr;
  }
}

}  // namespace lookout::runtime::internal
