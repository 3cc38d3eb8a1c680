// Tensor facts shared by the runtime and its users: data types, NHWC shapes
// and quantization parameters, as TFLite's get_input_details() reports them.
#ifndef LOOKOUT_RUNTIME_TENSOR_H_
#define LOOKOUT_RUNTIME_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lookout::runtime {

/// Element type of a tensor. Values equal TFLite's schema `TensorType`.
enum class DataType : int8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt32 = 2,
  kUInt8 = 3,
  kInt64 = 4,
  kString = 5,
  kBool = 6,
  kInt16 = 7,
  kComplex64 = 8,
  kInt8 = 9,
  kFloat64 = 10,
};

/// TFLite's name for `type` ("UINT8", "INT8", ...); "UNKNOWN(n)" otherwise.
std::string DataTypeName(DataType type);

/// Size in bytes of one element of `type`; 0 for types without a fixed size.
size_t DataTypeSize(DataType type);

/// A shape as the runtime's messages write it: "[1,224,224,3]" ("[]" for a
/// scalar).
std::string ShapeString(const std::vector<int32_t>& shape);

/// Affine quantization: real = scale * (q - zero_point). Per-tensor when
/// `scale` has one entry; per-channel along `quantized_dimension` otherwise
/// (TFLite quantization spec: int8 per-channel weights have zero_point 0).
struct QuantizationParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;

  /// True when the tensor carries any quantization parameters.
  bool quantized() const { return !scale.empty(); }
};

/// What a caller needs to fill an input or read an output; the same facts as
/// TFLite's Interpreter.get_input_details().
struct TensorDetails {
  std::string name;
  int32_t index = -1;           ///< Tensor index in subgraph 0.
  std::vector<int32_t> shape;   ///< Dimensions, NHWC for image tensors.
  DataType type = DataType::kFloat32;
  float scale = 0.0f;           ///< First (per-tensor) scale; 0 when not quantized.
  int32_t zero_point = 0;       ///< First (per-tensor) zero point.
  QuantizationParams quantization;  ///< Full (possibly per-channel) parameters.
  size_t bytes = 0;             ///< Element count × element size.
};

}  // namespace lookout::runtime

#endif  // LOOKOUT_RUNTIME_TENSOR_H_
