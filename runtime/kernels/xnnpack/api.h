// One interface over the two XNNPACK operator APIs Lookout builds against,
// chosen at configure time (cmake/Dependencies.cmake sets
// LOOKOUT_XNNPACK_API):
//
//   2022  Debian 12 / Raspberry Pi OS bookworm (0.0~git20220216): create,
//         then xnn_setup_*(op, shape..., input, output, threadpool).
//   2024  Debian 13 / Raspberry Pi OS trixie (0.0~git20241108): create takes
//         a code cache and a weights cache; shapes and the thread pool go to
//         xnn_reshape_*, which may ask for a workspace; xnn_setup_* takes the
//         workspace and the pointers. Per-channel int8 is _qs8_qc8w; ADD and
//         MUL are binary_elementwise_nd, global average pooling is
//         reduce_nd(mean), and neither takes an output range.
//
// Each Create* has the same arguments under both APIs and returns
// xnn_status_unsupported_parameter where one API cannot compute exactly what
// is asked (e.g. a clamped ADD on 2024's binary operator, which has no
// output range); the caller then keeps the node on another kernel. Each
// Setup* binds shapes and tensor pointers once (the interpreter's arena
// never moves), so that xnn_run_operator() alone computes the node.
#ifndef LOOKOUT_RUNTIME_KERNELS_XNNPACK_API_H_
#define LOOKOUT_RUNTIME_KERNELS_XNNPACK_API_H_

#include <xnnpack.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#ifndef LOOKOUT_XNNPACK_API
#error "LOOKOUT_XNNPACK_API must be 2022 or 2024 (set by cmake/Dependencies.cmake)"
#endif

namespace lookout::runtime::internal::xnn {

/// Scratch memory an operator asks for at reshape (2024 only); owned by the
/// kernel, sized once at setup, never touched by Invoke().
class Workspace {
 public:
  /// Makes room for `bytes` aligned to `alignment`; returns its start, or
  /// nullptr when `bytes` is 0 or memory is exhausted.
  void* Reserve(size_t bytes, size_t alignment);

 private:
  std::unique_ptr<uint8_t[]> storage_;
  size_t size_ = 0;
};

/// Quantized 8-bit element type of an operator: uint8 per tensor (qu8), int8
/// per tensor (qs8) or int8 with per-output-channel filter scales (qc8).
enum class QType { kQU8, kQS8, kQC8 };

/// A 2-D convolution (groups = channels with kDepthwise for depthwise), NHWC.
struct ConvParams {
  uint32_t pad_top, pad_right, pad_bottom, pad_left;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  uint32_t groups;
  size_t group_in, group_out, in_stride, out_stride;
  uint32_t flags;  // XNN_FLAG_DEPTHWISE_CONVOLUTION or 0
  int32_t input_zero_point;
  float input_scale;
  int32_t filter_zero_point;     // qu8 only
  const float* filter_scales;    // qs8: one, qc8: one per output channel
  const void* filter;            // [group_out][kh][kw][group_in] per group
  const int32_t* bias;           // may be null
  int32_t output_zero_point;
  float output_scale;
  int32_t output_min, output_max;  // in the quantized domain
};

xnn_status CreateConvolution(QType type, const ConvParams& p, xnn_operator_t* op);
xnn_status SetupConvolution(QType type, xnn_operator_t op, Workspace& workspace, size_t batch,
                            size_t height, size_t width, const void* input, void* output,
                            pthreadpool_t pool);

/// FULLY_CONNECTED with per-tensor scales (qu8 or qs8): [batch, in] -> [batch, out].
struct FullyConnectedParams {
  size_t input_channels, output_channels;
  int32_t input_zero_point;
  float input_scale;
  int32_t filter_zero_point;  // qu8 only
  float filter_scale;
  const void* filter;         // [out][in]
  const int32_t* bias;
  int32_t output_zero_point;
  float output_scale;
  int32_t output_min, output_max;
};

xnn_status CreateFullyConnected(QType type, const FullyConnectedParams& p, xnn_operator_t* op);
xnn_status SetupFullyConnected(QType type, xnn_operator_t op, size_t batch, const void* input,
                               void* output, pthreadpool_t pool);

/// ADD or MUL of two tensors with numpy broadcasting (qu8 or qs8).
enum class BinaryOp { kAdd, kMultiply };
struct Quantization {
  int32_t zero_point;
  float scale;
};

xnn_status CreateBinary(BinaryOp kind, QType type, Quantization a, Quantization b, Quantization out,
                        int32_t output_min, int32_t output_max, xnn_operator_t* op);
xnn_status SetupBinary(BinaryOp kind, QType type, xnn_operator_t op, size_t rank_a,
                       const size_t* shape_a, size_t rank_b, const size_t* shape_b, const void* a,
                       const void* b, void* output, pthreadpool_t pool);

/// Mean over the middle axis of [batch, width, channels] (qu8 or qs8).
xnn_status CreateGlobalAverage(QType type, size_t channels, Quantization in, Quantization out,
                               int32_t output_min, int32_t output_max, xnn_operator_t* op);
xnn_status SetupGlobalAverage(QType type, xnn_operator_t op, Workspace& workspace, size_t batch,
                              size_t width, size_t channels, const void* input, void* output,
                              pthreadpool_t pool);

/// AVERAGE_POOL_2D without padding, uint8 only.
struct PoolParams {
  uint32_t window_h, window_w, stride_h, stride_w;
  size_t channels;
  Quantization in, out;
  int32_t output_min, output_max;
};

xnn_status CreateAveragePoolQU8(const PoolParams& p, xnn_operator_t* op);
xnn_status SetupAveragePoolQU8(xnn_operator_t op, Workspace& workspace, size_t batch, size_t height,
                               size_t width, size_t channels, const uint8_t* input, uint8_t* output,
                               pthreadpool_t pool);

}  // namespace lookout::runtime::internal::xnn

#endif  // LOOKOUT_RUNTIME_KERNELS_XNNPACK_API_H_
