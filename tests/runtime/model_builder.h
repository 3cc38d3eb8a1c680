// Builds small .tflite flatbuffers in memory for the runtime tests: a few
// tensors and operators, written with the schema's generated builders, so a
// test exercises the whole load -> Create -> AllocateTensors -> Invoke path.
// Nothing is validated here: tests also use it to write deliberately broken
// models (out-of-range indices, negative dimensions, ...).
#ifndef LOOKOUT_TESTS_RUNTIME_MODEL_BUILDER_H_
#define LOOKOUT_TESTS_RUNTIME_MODEL_BUILDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lookout/runtime/interpreter.h"

#include "tflite_schema_generated.h"

namespace lookout::testing {

/// Builtin operator codes (TFLite's BuiltinOperator enum) used by the tests.
namespace op {
inline constexpr int32_t kAdd = 0;
inline constexpr int32_t kAveragePool2D = 1;
inline constexpr int32_t kConv2D = 3;
inline constexpr int32_t kDepthwiseConv2D = 4;
inline constexpr int32_t kFullyConnected = 9;
inline constexpr int32_t kMul = 18;
inline constexpr int32_t kReshape = 22;
inline constexpr int32_t kSoftmax = 25;
inline constexpr int32_t kCustom = 32;
inline constexpr int32_t kSub = 41;
inline constexpr int32_t kQuantize = 114;
inline constexpr int32_t kHardSwish = 117;
}  // namespace op

/// Affine quantization parameters of one tensor.
struct Quant {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
};

/// Writes an operator's builtin_options union member.
using OptionsFn = std::function<std::pair<tflite::BuiltinOptions, flatbuffers::Offset<void>>(
    flatbuffers::FlatBufferBuilder&)>;

OptionsFn Conv2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h,
                        tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE,
                        int32_t dilation_w = 1, int32_t dilation_h = 1);
OptionsFn DepthwiseConv2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h,
                                 int32_t depth_multiplier,
                                 tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE,
                                 int32_t dilation_w = 1, int32_t dilation_h = 1);
OptionsFn Pool2DOptions(tflite::Padding padding, int32_t stride_w, int32_t stride_h,
                        int32_t filter_w, int32_t filter_h,
                        tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE);
OptionsFn FullyConnectedOptions(
    tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE);
OptionsFn AddOptions(tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE);
OptionsFn MulOptions(tflite::ActivationFunctionType activation = tflite::ActivationFunctionType::NONE);
OptionsFn SoftmaxOptions(float beta);
OptionsFn ReshapeOptions(std::vector<int32_t> new_shape);

class ModelBuilder {
 public:
  /// Adds a tensor; non-empty `data` makes it constant (its own buffer).
  /// Returns the tensor index.
  int32_t AddTensor(const std::string& name, std::vector<int32_t> shape, tflite::TensorType type,
                    Quant quant = {}, std::vector<uint8_t> data = {});
  /// A per-tensor quantized UINT8 / INT8 tensor.
  int32_t AddUInt8(const std::string& name, std::vector<int32_t> shape, float scale, int64_t zero_point,
                   std::vector<uint8_t> data = {});
  int32_t AddInt8(const std::string& name, std::vector<int32_t> shape, float scale, int64_t zero_point,
                  std::vector<int8_t> data = {});
  /// A constant INT32 tensor (bias, shape, axis).
  int32_t AddInt32(const std::string& name, std::vector<int32_t> shape, std::vector<int32_t> values);

  /// Points tensor `tensor` at buffer `buffer`, whether or not it exists.
  void SetBufferIndex(int32_t tensor, uint32_t buffer);

  /// Appends an operator (and its operator code, shared between equal codes).
  void AddOperator(int32_t builtin_code, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
                   OptionsFn options = {}, int32_t version = 1, std::string custom_code = {});

  void SetInputs(std::vector<int32_t> inputs) { inputs_ = std::move(inputs); }
  void SetOutputs(std::vector<int32_t> outputs) { outputs_ = std::move(outputs); }
  /// Writes the one subgraph `count` times (models with several subgraphs).
  void SetSubgraphCount(int count) { subgraph_count_ = count; }

  /// The finished .tflite bytes.
  std::vector<uint8_t> Build() const;

 private:
  struct TensorSpec {
    std::string name;
    std::vector<int32_t> shape;
    tflite::TensorType type;
    Quant quant;
    uint32_t buffer;
  };
  struct OpCode {
    int32_t builtin_code;
    int32_t version;
    std::string custom_code;
  };
  struct OpSpec {
    uint32_t opcode_index;
    std::vector<int32_t> inputs, outputs;
    OptionsFn options;
  };
  std::vector<TensorSpec> tensors_;
  std::vector<std::vector<uint8_t>> buffers_{{}};  // buffer 0: empty, as TFLite writes it.
  std::vector<OpCode> opcodes_;
  std::vector<OpSpec> ops_;
  std::vector<int32_t> inputs_, outputs_;
  int subgraph_count_ = 1;
};

/// Outcome of running a model on given inputs.
struct RunResult {
  std::string error;  ///< Empty on success; else the failing stage's message.
  std::vector<std::vector<uint8_t>> outputs;
};

/// Loads `model` from memory, creates an interpreter on `backend`, allocates,
/// copies `inputs` (one byte vector per graph input) and invokes once.
RunResult RunModel(const std::vector<uint8_t>& model, const std::vector<std::vector<uint8_t>>& inputs,
                   lookout::runtime::KernelFamilies backend = lookout::runtime::KernelFamilies::ReferenceOnly());

/// int8 values as bytes, and back.
std::vector<uint8_t> Bytes(const std::vector<int8_t>& values);
std::vector<int8_t> AsInt8(const std::vector<uint8_t>& bytes);

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_RUNTIME_MODEL_BUILDER_H_
