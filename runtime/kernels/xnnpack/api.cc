#include "kernels/xnnpack/api.h"

#include <new>

namespace lookout::runtime::internal::xnn {

void* Workspace::Reserve(size_t bytes, size_t alignment) {
  if (bytes == 0) return nullptr;
  if (alignment == 0) alignment = 1;
  const size_t need = bytes + alignment - 1;
  if (need > size_) {
    storage_.reset(new (std::nothrow) uint8_t[need]);
    size_ = storage_ ? need : 0;
    if (!storage_) return nullptr;
  }
  const auto base = reinterpret_cast<uintptr_t>(storage_.get());
  return reinterpret_cast<void*>((base + alignment - 1) / alignment * alignment);
}

namespace {

#if LOOKOUT_XNNPACK_API >= 2024
// Caches are for repeated model loads (weights shared across instances) and
// JIT code; Lookout packs each operator's weights once and has no JIT.
#define LOOKOUT_XNN_CACHES nullptr, nullptr,

xnn_datatype Datatype(QType type) {
  return type == QType::kQU8 ? xnn_datatype_quint8 : xnn_datatype_qint8;
}

// 2024's binary and reduce operators have no output range: only the full
// range of the type can be asked of them.
bool FullRange(QType type, int32_t lo, int32_t hi) {
  return type == QType::kQU8 ? (lo <= 0 && hi >= 255) : (lo <= -128 && hi >= 127);
}
#else
#define LOOKOUT_XNN_CACHES
#endif

}  // namespace

xnn_status CreateConvolution(QType type, const ConvParams& p, xnn_operator_t* op) {
  switch (type) {
    case QType::kQU8:
      return xnn_create_convolution2d_nhwc_qu8(
          p.pad_top, p.pad_right, p.pad_bottom, p.pad_left, p.kernel_h, p.kernel_w, p.stride_h,
          p.stride_w, p.dilation_h, p.dilation_w, p.groups, p.group_in, p.group_out, p.in_stride,
          p.out_stride, static_cast<uint8_t>(p.input_zero_point), p.input_scale,
          static_cast<uint8_t>(p.filter_zero_point), p.filter_scales[0],
          static_cast<const uint8_t*>(p.filter), p.bias, static_cast<uint8_t>(p.output_zero_point),
          p.output_scale, static_cast<uint8_t>(p.output_min), static_cast<uint8_t>(p.output_max),
          p.flags, LOOKOUT_XNN_CACHES op);
    case QType::kQS8:
      return xnn_create_convolution2d_nhwc_qs8(
          p.pad_top, p.pad_right, p.pad_bottom, p.pad_left, p.kernel_h, p.kernel_w, p.stride_h,
          p.stride_w, p.dilation_h, p.dilation_w, p.groups, p.group_in, p.group_out, p.in_stride,
          p.out_stride, static_cast<int8_t>(p.input_zero_point), p.input_scale, p.filter_scales[0],
          static_cast<const int8_t*>(p.filter), p.bias, static_cast<int8_t>(p.output_zero_point),
          p.output_scale, static_cast<int8_t>(p.output_min), static_cast<int8_t>(p.output_max),
          p.flags, LOOKOUT_XNN_CACHES op);
    case QType::kQC8:
#if LOOKOUT_XNNPACK_API >= 2024
      return xnn_create_convolution2d_nhwc_qs8_qc8w(
#else
      return xnn_create_convolution2d_nhwc_qc8(
#endif
          p.pad_top, p.pad_right, p.pad_bottom, p.pad_left, p.kernel_h, p.kernel_w, p.stride_h,
          p.stride_w, p.dilation_h, p.dilation_w, p.groups, p.group_in, p.group_out, p.in_stride,
          p.out_stride, static_cast<int8_t>(p.input_zero_point), p.input_scale, p.filter_scales,
          static_cast<const int8_t*>(p.filter), p.bias, static_cast<int8_t>(p.output_zero_point),
          p.output_scale, static_cast<int8_t>(p.output_min), static_cast<int8_t>(p.output_max),
          p.flags, LOOKOUT_XNN_CACHES op);
  }
  return xnn_status_invalid_parameter;
}

xnn_status SetupConvolution(QType type, xnn_operator_t op, Workspace& workspace, size_t batch,
                            size_t height, size_t width, const void* input, void* output,
                            pthreadpool_t pool) {
#if LOOKOUT_XNNPACK_API >= 2024
  size_t ws_size = 0, ws_align = 1, out_h = 0, out_w = 0;
  xnn_status st;
  switch (type) {
    case QType::kQU8:
      st = xnn_reshape_convolution2d_nhwc_qu8(op, batch, height, width, &ws_size, &ws_align, &out_h,
                                              &out_w, pool);
      break;
    case QType::kQS8:
      st = xnn_reshape_convolution2d_nhwc_qs8(op, batch, height, width, &ws_size, &ws_align, &out_h,
                                              &out_w, pool);
      break;
    case QType::kQC8:
      st = xnn_reshape_convolution2d_nhwc_qs8_qc8w(op, batch, height, width, &ws_size, &ws_align,
                                                   &out_h, &out_w, pool);
      break;
    default:
      return xnn_status_invalid_parameter;
  }
  if (st != xnn_status_success) return st;
  void* ws = workspace.Reserve(ws_size, ws_align);
  if (ws_size != 0 && ws == nullptr) return xnn_status_out_of_memory;
  switch (type) {
    case QType::kQU8:
      return xnn_setup_convolution2d_nhwc_qu8(op, ws, static_cast<const uint8_t*>(input),
                                              static_cast<uint8_t*>(output));
    case QType::kQS8:
      return xnn_setup_convolution2d_nhwc_qs8(op, ws, static_cast<const int8_t*>(input),
                                              static_cast<int8_t*>(output));
    case QType::kQC8:
      return xnn_setup_convolution2d_nhwc_qs8_qc8w(op, ws, static_cast<const int8_t*>(input),
                                                   static_cast<int8_t*>(output));
  }
  return xnn_status_invalid_parameter;
#else
  (void)workspace;
  switch (type) {
    case QType::kQU8:
      return xnn_setup_convolution2d_nhwc_qu8(op, batch, height, width,
                                              static_cast<const uint8_t*>(input),
                                              static_cast<uint8_t*>(output), pool);
    case QType::kQS8:
      return xnn_setup_convolution2d_nhwc_qs8(op, batch, height, width,
                                              static_cast<const int8_t*>(input),
                                              static_cast<int8_t*>(output), pool);
    case QType::kQC8:
      return xnn_setup_convolution2d_nhwc_qc8(op, batch, height, width,
                                              static_cast<const int8_t*>(input),
                                              static_cast<int8_t*>(output), pool);
  }
  return xnn_status_invalid_parameter;
#endif
}

xnn_status CreateFullyConnected(QType type, const FullyConnectedParams& p, xnn_operator_t* op) {
  switch (type) {
    case QType::kQU8:
      return xnn_create_fully_connected_nc_qu8(
          p.input_channels, p.output_channels, p.input_channels, p.output_channels,
          static_cast<uint8_t>(p.input_zero_point), p.input_scale,
          static_cast<uint8_t>(p.filter_zero_point), p.filter_scale,
          static_cast<const uint8_t*>(p.filter), p.bias, static_cast<uint8_t>(p.output_zero_point),
          p.output_scale, static_cast<uint8_t>(p.output_min), static_cast<uint8_t>(p.output_max), 0,
          LOOKOUT_XNN_CACHES op);
    case QType::kQS8:
      return xnn_create_fully_connected_nc_qs8(
          p.input_channels, p.output_channels, p.input_channels, p.output_channels,
          static_cast<int8_t>(p.input_zero_point), p.input_scale, p.filter_scale,
          static_cast<const int8_t*>(p.filter), p.bias, static_cast<int8_t>(p.output_zero_point),
          p.output_scale, static_cast<int8_t>(p.output_min), static_cast<int8_t>(p.output_max), 0,
          LOOKOUT_XNN_CACHES op);
    case QType::kQC8:
      break;  // per-channel: a 1x1 CreateConvolution
  }
  return xnn_status_invalid_parameter;
}

xnn_status SetupFullyConnected(QType type, xnn_operator_t op, size_t batch, const void* input,
                               void* output, pthreadpool_t pool) {
#if LOOKOUT_XNNPACK_API >= 2024
  switch (type) {
    case QType::kQU8: {
      const xnn_status st = xnn_reshape_fully_connected_nc_qu8(op, batch, pool);
      if (st != xnn_status_success) return st;
      return xnn_setup_fully_connected_nc_qu8(op, static_cast<const uint8_t*>(input),
                                              static_cast<uint8_t*>(output));
    }
    case QType::kQS8: {
      const xnn_status st = xnn_reshape_fully_connected_nc_qs8(op, batch, pool);
      if (st != xnn_status_success) return st;
      return xnn_setup_fully_connected_nc_qs8(op, static_cast<const int8_t*>(input),
                                              static_cast<int8_t*>(output));
    }
    case QType::kQC8:
      break;
  }
#else
  switch (type) {
    case QType::kQU8:
      return xnn_setup_fully_connected_nc_qu8(op, batch, static_cast<const uint8_t*>(input),
                                              static_cast<uint8_t*>(output), pool);
    case QType::kQS8:
      return xnn_setup_fully_connected_nc_qs8(op, batch, static_cast<const int8_t*>(input),
                                              static_cast<int8_t*>(output), pool);
    case QType::kQC8:
      break;
  }
#endif
  return xnn_status_invalid_parameter;
}

xnn_status CreateBinary(BinaryOp kind, QType type, Quantization a, Quantization b, Quantization out,
                        int32_t output_min, int32_t output_max, xnn_operator_t* op) {
  if (type == QType::kQC8) return xnn_status_invalid_parameter;
  // The ranges 2022's create functions check and 2024's only assert (an
  // abort where the library keeps its asserts, as Debian 13's does).
  if (kind == BinaryOp::kAdd) {
    const float a_ratio = a.scale / out.scale, b_ratio = b.scale / out.scale;
    if (!(a_ratio >= 0x1.0p-10f && a_ratio < 0x1.0p+8f && b_ratio >= 0x1.0p-10f && b_ratio < 0x1.0p+8f)) {
      return xnn_status_unsupported_parameter;
    }
  } else {
    const float ratio = a.scale * b.scale / out.scale;
    if (!(ratio >= 0x1.0p-16f && ratio < 0x1.0p+8f)) return xnn_status_unsupported_parameter;
  }
#if LOOKOUT_XNNPACK_API >= 2024
  if (!FullRange(type, output_min, output_max)) return xnn_status_unsupported_parameter;
  const xnn_quantization_params qa{a.zero_point, a.scale}, qb{b.zero_point, b.scale},
      qo{out.zero_point, out.scale};
  return xnn_create_binary_elementwise_nd(
      kind == BinaryOp::kAdd ? xnn_binary_add : xnn_binary_multiply, Datatype(type), &qa, &qb, &qo,
      0, op);
#else
  if (type == QType::kQU8) {
    const auto create = kind == BinaryOp::kAdd ? xnn_create_add_nd_qu8 : xnn_create_multiply_nd_qu8;
    return create(static_cast<uint8_t>(a.zero_point), a.scale, static_cast<uint8_t>(b.zero_point),
                  b.scale, static_cast<uint8_t>(out.zero_point), out.scale,
                  static_cast<uint8_t>(output_min), static_cast<uint8_t>(output_max), 0, op);
  }
  const auto create = kind == BinaryOp::kAdd ? xnn_create_add_nd_qs8 : xnn_create_multiply_nd_qs8;
  return create(static_cast<int8_t>(a.zero_point), a.scale, static_cast<int8_t>(b.zero_point),
                b.scale, static_cast<int8_t>(out.zero_point), out.scale,
                static_cast<int8_t>(output_min), static_cast<int8_t>(output_max), 0, op);
#endif
}

xnn_status SetupBinary(BinaryOp kind, QType type, xnn_operator_t op, size_t rank_a,
                       const size_t* shape_a, size_t rank_b, const size_t* shape_b, const void* a,
                       const void* b, void* output, pthreadpool_t pool) {
#if LOOKOUT_XNNPACK_API >= 2024
  (void)kind;
  (void)type;
  const xnn_status st = xnn_reshape_binary_elementwise_nd(op, rank_a, shape_a, rank_b, shape_b, pool);
  if (st != xnn_status_success) return st;
  return xnn_setup_binary_elementwise_nd(op, a, b, output);
#else
  const bool add = kind == BinaryOp::kAdd;
  if (type == QType::kQU8) {
    const auto setup = add ? xnn_setup_add_nd_qu8 : xnn_setup_multiply_nd_qu8;
    return setup(op, rank_a, shape_a, rank_b, shape_b, static_cast<const uint8_t*>(a),
                 static_cast<const uint8_t*>(b), static_cast<uint8_t*>(output), pool);
  }
  const auto setup = add ? xnn_setup_add_nd_qs8 : xnn_setup_multiply_nd_qs8;
  return setup(op, rank_a, shape_a, rank_b, shape_b, static_cast<const int8_t*>(a),
               static_cast<const int8_t*>(b), static_cast<int8_t*>(output), pool);
#endif
}

xnn_status CreateGlobalAverage(QType type, size_t channels, Quantization in, Quantization out,
                               int32_t output_min, int32_t output_max, xnn_operator_t* op) {
  if (type == QType::kQC8) return xnn_status_invalid_parameter;
#if LOOKOUT_XNNPACK_API >= 2024
  (void)channels;
  if (!FullRange(type, output_min, output_max)) return xnn_status_unsupported_parameter;
  const xnn_quantization_params qi{in.zero_point, in.scale}, qo{out.zero_point, out.scale};
  return xnn_create_reduce_nd(xnn_reduce_mean, Datatype(type), &qi, &qo, XNN_FLAG_KEEP_DIMS, op);
#else
  if (type == QType::kQU8) {
    return xnn_create_global_average_pooling_nwc_qu8(
        channels, channels, channels, static_cast<uint8_t>(in.zero_point), in.scale,
        static_cast<uint8_t>(out.zero_point), out.scale, static_cast<uint8_t>(output_min),
        static_cast<uint8_t>(output_max), 0, op);
  }
  return xnn_create_global_average_pooling_nwc_qs8(
      channels, channels, channels, static_cast<int8_t>(in.zero_point), in.scale,
      static_cast<int8_t>(out.zero_point), out.scale, static_cast<int8_t>(output_min),
      static_cast<int8_t>(output_max), 0, op);
#endif
}

xnn_status SetupGlobalAverage(QType type, xnn_operator_t op, Workspace& workspace, size_t batch,
                              size_t width, size_t channels, const void* input, void* output,
                              pthreadpool_t pool) {
#if LOOKOUT_XNNPACK_API >= 2024
  (void)type;
  const size_t shape[3] = {batch, width, channels};
  const int64_t axes[1] = {1};
  size_t ws_size = 0, ws_align = 1;
  const xnn_status st = xnn_reshape_reduce_nd(op, 1, axes, 3, shape, &ws_size, &ws_align, pool);
  if (st != xnn_status_success) return st;
  void* ws = workspace.Reserve(ws_size, ws_align);
  if (ws_size != 0 && ws == nullptr) return xnn_status_out_of_memory;
  return xnn_setup_reduce_nd(op, ws, input, output);
#else
  (void)workspace;
  (void)channels;
  if (type == QType::kQU8) {
    return xnn_setup_global_average_pooling_nwc_qu8(op, batch, width,
                                                    static_cast<const uint8_t*>(input),
                                                    static_cast<uint8_t*>(output), pool);
  }
  return xnn_setup_global_average_pooling_nwc_qs8(op, batch, width, static_cast<const int8_t*>(input),
                                                  static_cast<int8_t*>(output), pool);
#endif
}

xnn_status CreateAveragePoolQU8(const PoolParams& p, xnn_operator_t* op) {
#if LOOKOUT_XNNPACK_API >= 2024
  return xnn_create_average_pooling2d_nhwc_qu8(
      0, 0, 0, 0, p.window_h, p.window_w, p.stride_h, p.stride_w,
      static_cast<uint8_t>(p.in.zero_point), p.in.scale, static_cast<uint8_t>(p.out.zero_point),
      p.out.scale, static_cast<uint8_t>(p.output_min), static_cast<uint8_t>(p.output_max), 0, op);
#else
  return xnn_create_average_pooling2d_nhwc_qu8(
      0, 0, 0, 0, p.window_h, p.window_w, p.stride_h, p.stride_w, p.channels, p.channels,
      p.channels, static_cast<uint8_t>(p.in.zero_point), p.in.scale,
      static_cast<uint8_t>(p.out.zero_point), p.out.scale, static_cast<uint8_t>(p.output_min),
      static_cast<uint8_t>(p.output_max), 0, op);
#endif
}

xnn_status SetupAveragePoolQU8(xnn_operator_t op, Workspace& workspace, size_t batch, size_t height,
                               size_t width, size_t channels, const uint8_t* input, uint8_t* output,
                               pthreadpool_t pool) {
#if LOOKOUT_XNNPACK_API >= 2024
  size_t ws_size = 0, ws_align = 1, out_h = 0, out_w = 0;
  const xnn_status st = xnn_reshape_average_pooling2d_nhwc_qu8(
      op, batch, height, width, channels, channels, channels, &ws_size, &ws_align, &out_h, &out_w,
      pool);
  if (st != xnn_status_success) return st;
  void* ws = workspace.Reserve(ws_size, ws_align);
  if (ws_size != 0 && ws == nullptr) return xnn_status_out_of_memory;
  return xnn_setup_average_pooling2d_nhwc_qu8(op, ws, input, output);
#else
  (void)workspace;
  (void)channels;
  return xnn_setup_average_pooling2d_nhwc_qu8(op, batch, height, width, input, output, pool);
#endif
}

}  // namespace lookout::runtime::internal::xnn
