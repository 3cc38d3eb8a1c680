// Nodes that Debian's XNNPACK runs (through kernels/xnnpack/api.h, either of its
// operator APIs): 8-bit CONV_2D,
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
#include "kernels/xnnpack/ops.h"
#include "kernels/xnnpack/api.h"
#include "kernels/reference/quantization.h"
#include "src/graph.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

using SetupFn = std::function<xnn_status(xnn_operator_t, xnn::Workspace&, pthreadpool_t)>;

class XnnpackKernel : public OpKernel {
 public:
  XnnpackKernel(xnn_operator_t op, pthreadpool_t pool, SetupFn setup)
      : op_(op), pool_(pool), setup_(std::move(setup)) {}
  ~XnnpackKernel() override { xnn_delete_operator(op_); }

  Status Prepare(KernelContext&) override { return {}; }
  Status Setup() override {
    if (const xnn_status status = setup_(op_, workspace_, pool_); status != xnn_status_success) {
      return Status::Errorf("XNNPACK setup failed (xnn_status %d)", static_cast<int>(status));
    }
    return {};
  }
  Status Eval() override {
    if (const xnn_status status = xnn_run_operator(op_, pool_); status != xnn_status_success) {
      return Status::Errorf("XNNPACK's xnn_run_operator failed (xnn_status %d)", static_cast<int>(status));
    }
    return {};
  }
  KernelFamily family() const override { return KernelFamily::kXnnpack; }

 private:
  xnn_operator_t op_;
  pthreadpool_t pool_;
  xnn::Workspace workspace_;
  SetupFn setup_;
};

std::unique_ptr<OpKernel> Wrap(xnn_status status, xnn_operator_t op, pthreadpool_t pool, SetupFn setup) {
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

xnn::QType QTypeOf(const Tensor& in, const Tensor* filter) {
  if (in.type == DataType::kUInt8) return xnn::QType::kQU8;
  return filter != nullptr && filter->quantization.scale.size() > 1 ? xnn::QType::kQC8 : xnn::QType::kQS8;
}

xnn::Quantization QuantOf(const Tensor& t) { return {t.zero_point, t.scale}; }

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

std::unique_ptr<OpKernel> MakeConv(const Tensor& in, const Tensor& filter, const Tensor* bias,
                                   const Tensor& out, xnn::ConvParams p, int activation,
                                   pthreadpool_t pool) {
  ActivationRange(activation, out, &p.output_min, &p.output_max);
  p.input_zero_point = in.zero_point;
  p.input_scale = in.scale;
  p.filter_zero_point = filter.zero_point;
  p.filter_scales = filter.quantization.scale.data();
  p.filter = filter.data;
  p.bias = bias != nullptr ? bias->data_as<int32_t>() : nullptr;
  p.output_zero_point = out.zero_point;
  p.output_scale = out.scale;
  const xnn::QType type = QTypeOf(in, &filter);
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t h = static_cast<size_t>(in.dim(1)), w = static_cast<size_t>(in.dim(2));
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn::CreateConvolution(type, p, &op);
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t o, xnn::Workspace& ws, pthreadpool_t tp) {
    return xnn::SetupConvolution(type, o, ws, batch, h, w, pin->data, pout->data, tp);
  });
}

xnn::ConvParams ConvGeometry(int padding, const Tensor& in, const Tensor& filter, const Tensor& out,
                             int stride_h, int stride_w, int dilation_h, int dilation_w) {
  xnn::ConvParams p{};
  Padding(padding, in.dim(1), filter.dim(1), stride_h, dilation_h, out.dim(1), &p.pad_top, &p.pad_bottom);
  Padding(padding, in.dim(2), filter.dim(2), stride_w, dilation_w, out.dim(2), &p.pad_left, &p.pad_right);
  p.kernel_h = static_cast<uint32_t>(filter.dim(1));
  p.kernel_w = static_cast<uint32_t>(filter.dim(2));
  p.stride_h = static_cast<uint32_t>(stride_h);
  p.stride_w = static_cast<uint32_t>(stride_w);
  p.dilation_h = static_cast<uint32_t>(dilation_h);
  p.dilation_w = static_cast<uint32_t>(dilation_w);
  return p;
}

std::unique_ptr<OpKernel> Conv2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_Conv2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  xnn::ConvParams p = ConvGeometry(static_cast<int>(o->padding()), in, filter, out, o->stride_h(),
                                   o->stride_w(), o->dilation_h_factor(), o->dilation_w_factor());
  p.groups = 1;
  p.group_in = p.in_stride = static_cast<size_t>(in.dim(3));
  p.group_out = p.out_stride = static_cast<size_t>(out.dim(3));
  return MakeConv(in, filter, ctx.input(2), out, p, static_cast<int>(o->fused_activation_function()), pool);
}

std::unique_ptr<OpKernel> DepthwiseConv2D(KernelContext& ctx, pthreadpool_t pool) {
  const auto* o = ctx.op()->builtin_options_as_DepthwiseConv2DOptions();
  const Tensor& in = *ctx.input(0);
  const Tensor& filter = *ctx.input(1);
  const Tensor& out = *ctx.output(0);
  xnn::ConvParams p = ConvGeometry(static_cast<int>(o->padding()), in, filter, out, o->stride_h(),
                                   o->stride_w(), o->dilation_h_factor(), o->dilation_w_factor());
  p.groups = static_cast<uint32_t>(in.dim(3));
  p.group_in = 1;
  p.group_out = static_cast<size_t>(out.dim(3) / in.dim(3));
  p.in_stride = static_cast<size_t>(in.dim(3));
  p.out_stride = static_cast<size_t>(out.dim(3));
  p.flags = XNN_FLAG_DEPTHWISE_CONVOLUTION;
  return MakeConv(in, filter, ctx.input(2), out, p, static_cast<int>(o->fused_activation_function()), pool);
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
  const xnn::QType type = QTypeOf(in, &filter);
  if (type == xnn::QType::kQC8) {
    // Per-channel FULLY_CONNECTED as a 1x1 convolution over a batch of 1x1
    // images: the same product with per-channel scales, in both APIs.
    xnn::ConvParams p{};
    p.kernel_h = p.kernel_w = p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
    p.groups = 1;
    p.group_in = p.in_stride = depth;
    p.group_out = p.out_stride = units;
    ActivationRange(activation, out, &p.output_min, &p.output_max);
    p.input_zero_point = in.zero_point;
    p.input_scale = in.scale;
    p.filter_scales = filter.quantization.scale.data();
    p.filter = filter.data;
    p.bias = bias != nullptr ? bias->data_as<int32_t>() : nullptr;
    p.output_zero_point = out.zero_point;
    p.output_scale = out.scale;
    xnn_operator_t op = nullptr;
    const xnn_status st = xnn::CreateConvolution(type, p, &op);
    const Tensor* pin = &in;
    const Tensor* pout = &out;
    return Wrap(st, op, pool, [=](xnn_operator_t o2, xnn::Workspace& ws, pthreadpool_t tp) {
      return xnn::SetupConvolution(type, o2, ws, batch, 1, 1, pin->data, pout->data, tp);
    });
  }
  xnn::FullyConnectedParams p{};
  p.input_channels = depth;
  p.output_channels = units;
  p.input_zero_point = in.zero_point;
  p.input_scale = in.scale;
  p.filter_zero_point = filter.zero_point;
  p.filter_scale = filter.scale;
  p.filter = filter.data;
  p.bias = bias != nullptr ? bias->data_as<int32_t>() : nullptr;
  p.output_zero_point = out.zero_point;
  p.output_scale = out.scale;
  ActivationRange(activation, out, &p.output_min, &p.output_max);
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn::CreateFullyConnected(type, p, &op);
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t o2, xnn::Workspace&, pthreadpool_t tp) {
    return xnn::SetupFullyConnected(type, o2, batch, pin->data, pout->data, tp);
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
  const xnn::BinaryOp kind = kAdd ? xnn::BinaryOp::kAdd : xnn::BinaryOp::kMultiply;
  const xnn::QType type = QTypeOf(a, nullptr);
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn::CreateBinary(kind, type, QuantOf(a), QuantOf(b), QuantOf(out), lo, hi, &op);
  std::vector<size_t> sa(a.shape.begin(), a.shape.end()), sb(b.shape.begin(), b.shape.end());
  const Tensor* pa = &a;
  const Tensor* pb = &b;
  const Tensor* po = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t o, xnn::Workspace&, pthreadpool_t tp) {
    return xnn::SetupBinary(kind, type, o, sa.size(), sa.data(), sb.size(), sb.data(), pa->data,
                            pb->data, po->data, tp);
  });
}

// Mean over H and W of an NHWC tensor.
std::unique_ptr<OpKernel> GlobalAverage(const Tensor& in, const Tensor& out, int activation,
                                        pthreadpool_t pool) {
  int32_t lo, hi;
  ActivationRange(activation, out, &lo, &hi);
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t width = static_cast<size_t>(in.dim(1)) * static_cast<size_t>(in.dim(2));
  const size_t channels = static_cast<size_t>(in.dim(3));
  const xnn::QType type = QTypeOf(in, nullptr);
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn::CreateGlobalAverage(type, channels, QuantOf(in), QuantOf(out), lo, hi, &op);
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t o, xnn::Workspace& ws, pthreadpool_t tp) {
    return xnn::SetupGlobalAverage(type, o, ws, batch, width, channels, pin->data, pout->data, tp);
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
  xnn::PoolParams p{};
  p.window_h = static_cast<uint32_t>(o->filter_height());
  p.window_w = static_cast<uint32_t>(o->filter_width());
  p.stride_h = static_cast<uint32_t>(o->stride_h());
  p.stride_w = static_cast<uint32_t>(o->stride_w());
  p.channels = static_cast<size_t>(in.dim(3));
  p.in = QuantOf(in);
  p.out = QuantOf(out);
  ActivationRange(activation, out, &p.output_min, &p.output_max);
  const size_t batch = static_cast<size_t>(in.dim(0));
  const size_t h = static_cast<size_t>(in.dim(1)), w = static_cast<size_t>(in.dim(2));
  const size_t channels = p.channels;
  xnn_operator_t op = nullptr;
  const xnn_status st = xnn::CreateAveragePoolQU8(p, &op);
  const Tensor* pin = &in;
  const Tensor* pout = &out;
  return Wrap(st, op, pool, [=](xnn_operator_t op2, xnn::Workspace& ws, pthreadpool_t tp) {
    return xnn::SetupAveragePoolQU8(op2, ws, batch, h, w, channels, pin->data_as<uint8_t>(),
                                    pout->data_as<uint8_t>(), tp);
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

std::unique_ptr<OpKernel> MakeXnnpackKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (!InitializeXnnpack()) return nullptr;
  pthreadpool_t pool = env.pool;
  switch (ctx.node().op_code) {
    case BuiltinOperator::kConv2D: return Conv2D(ctx, pool);
    case BuiltinOperator::kDepthwiseConv2D: return DepthwiseConv2D(ctx, pool);
    case BuiltinOperator::kFullyConnected: return FullyConnected(ctx, pool);
    case BuiltinOperator::kAdd: return Binary<true>(ctx, pool);
    case BuiltinOperator::kMul: return Binary<false>(ctx, pool);
    case BuiltinOperator::kAveragePool2D: return AveragePool2D(ctx, pool);
    case BuiltinOperator::kMean: return Mean(ctx, pool);
    default: return nullptr;
  }
}

}  // namespace lookout::runtime::internal
