// Helpers shared by the kernels' Prepare().
#ifndef LOOKOUT_RUNTIME_KERNELS_KERNEL_UTIL_H_
#define LOOKOUT_RUNTIME_KERNELS_KERNEL_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/reference/conv.h"
#include "src/graph.h"

namespace lookout::runtime::internal {

/// unique_ptr's deleter for memory from std::aligned_alloc.
struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

/// `count` elements of T, 64-byte aligned, the size rounded up to whole 64
/// bytes (at least 64), uninitialized; null when out of memory.
template <typename T>
std::unique_ptr<T[], AlignedFree> AllocateAligned(size_t count) {
  const size_t bytes = std::max<size_t>(64, (count * sizeof(T) + 63) / 64 * 64);
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(std::aligned_alloc(64, bytes)));
}

/// Element `i` of a constant INT32 tensor, read without alignment assumptions.
inline int32_t ReadInt32(const Tensor& t, size_t i) {
  int32_t v;
  std::memcpy(&v, t.data + i * sizeof(int32_t), sizeof(v));
  return v;
}

/// A constant INT32 tensor copied into aligned storage.
inline std::vector<int32_t> CopyInt32(const Tensor& t) {
  std::vector<int32_t> out(t.elements);
  if (!out.empty()) std::memcpy(out.data(), t.data, t.elements * sizeof(int32_t));
  return out;
}

inline reference::Dims4 ToDims4(const Tensor& t) {
  return {t.shape[0], t.shape[1], t.shape[2], t.shape[3]};
}

/// TFLite's output size for SAME (padding 0) / VALID (1) padding; 0 when
/// the window does not fit.
int32_t ComputeOutSize(int padding, int32_t in_size, int32_t filter_size, int32_t stride,
                       int32_t dilation);
/// TFLite's ComputePadding: leading padding of a window.
int32_t ComputePadding(int32_t stride, int32_t dilation, int32_t in_size, int32_t filter_size,
                       int32_t out_size);

/// Checks the common window options (stride, dilation > 0, padding enum).
Status CheckWindow(const KernelContext& ctx, int padding, int32_t stride_w, int32_t stride_h,
                   int32_t dilation_w, int32_t dilation_h);

/// With VALID padding (1), checks that the dilated window fits a non-empty
/// input: TFLite's output would be empty where XNNPACK computes one row or
/// column (and writes it past the empty output).
Status CheckWindowFits(const KernelContext& ctx, int padding, int32_t in_h, int32_t in_w, int32_t filter_h,
                       int32_t filter_w, int32_t dilation_h, int32_t dilation_w);

/// Checks a fused activation is NONE, RELU, RELU_N1_TO_1 or RELU6.
Status CheckActivation(const KernelContext& ctx, int activation);

/// Checks that the bias tensor (optional) is a constant INT32 vector of
/// `channels` elements.
Status CheckBias(const KernelContext& ctx, const Tensor* bias, int32_t channels);

/// How TFLite forms input_scale × filter_scale for an op's multiplier.
enum class ScaleProduct {
  kDouble,  ///< double(input) × double(filter): the per-channel path.
  kFloat,   ///< double(float(input × filter)): GetQuantizedConvolutionMultipler,
            ///< the per-tensor path of uint8 conv.
};

/// Output multipliers of a convolution-like op: one per output channel,
/// (input_scale × filter_scale[c]) / double(output_scale), the product formed
/// as `product` says (TFLite PopulateConvolutionQuantizationParams /
/// GetQuantizedConvolutionMultipler). Refuses multipliers that are not finite
/// and positive.
Status ComputeChannelMultipliers(const KernelContext& ctx, const Tensor& input,
                                 const Tensor& filter, const Tensor& output, int32_t channels,
                                 ScaleProduct product, std::vector<int32_t>* multipliers,
                                 std::vector<int32_t>* shifts);

/// Real requantization scales of FULLY_CONNECTED, one per output unit:
/// double(input_scale) × double(filter_scale[u]) / double(output_scale), as
/// TFLite's reference FullyConnected overloads taking the scales form them.
/// Refuses scales that are not finite and positive.
Status ComputeChannelScales(const KernelContext& ctx, const Tensor& input, const Tensor& filter,
                            const Tensor& output, int32_t channels, std::vector<double>* scales);

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_KERNELS_KERNEL_UTIL_H_
