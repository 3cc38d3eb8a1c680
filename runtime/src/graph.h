// Internal graph representation shared by the interpreter and the kernels.
#ifndef LOOKOUT_RUNTIME_SRC_GRAPH_H_
#define LOOKOUT_RUNTIME_SRC_GRAPH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "src/parallel.h"
#include "lookout/runtime/status.h"
#include "lookout/runtime/tensor.h"
#include "src/cpu_features.h"

namespace tflite {
struct Operator;
}

namespace lookout::runtime::internal {

/// TFLite's BuiltinOperator codes (schema.fbs) of the operators Lookout
/// runs. A node of any other code holds its number and gets no kernel
/// (CreateKernel() refuses it by name).
enum class BuiltinOperator : int32_t {
  kAdd = 0,
  kAveragePool2D = 1,
  kConv2D = 3,
  kDepthwiseConv2D = 4,
  kFullyConnected = 9,
  kMaxPool2D = 17,
  kMul = 18,
  kReshape = 22,
  kSoftmax = 25,
  kPad = 34,
  kTranspose = 39,
  kMean = 40,
  kQuantize = 114,
  kHardSwish = 117,
};

/// A tensor of subgraph 0. Constant tensors point into the model (or into an
/// aligned copy of it); activations point into the interpreter's arena once
/// AllocateTensors() has planned it.
struct Tensor {
  std::string name;
  DataType type = DataType::kFloat32;
  std::vector<int32_t> shape;
  size_t elements = 0;
  size_t bytes = 0;
  bool is_constant = false;
  uint8_t* data = nullptr;
  QuantizationParams quantization;
  float scale = 0.0f;         // quantization.scale[0], or 0.
  int32_t zero_point = 0;     // quantization.zero_point[0], or 0.

  template <typename T>
  T* data_as() const { return reinterpret_cast<T*>(data); }
  int32_t dim(size_t i) const { return shape[i]; }
  size_t rank() const { return shape.size(); }
};

class KernelContext;

/// One operator's implementation. Prepare() validates everything and
/// precomputes everything (it may fail with a message); Eval() only computes.
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual Status Prepare(KernelContext& context) = 0;
  /// Called once the arena is placed (tensor data pointers are final).
  virtual Status Setup() { return {}; }
  /// Computes the outputs. An error (a library call that failed; our own
  /// kernels cannot fail once prepared) stops Invoke(), which prefixes the
  /// message with the node and its op.
  virtual Status Eval() = 0;
  /// The family this kernel belongs to (NodeDetails::family).
  virtual KernelFamily family() const { return KernelFamily::kReference; }
  /// Whether Eval() is correct with its output tensor placed over its input
  /// tensor 0 (same bytes): each output byte is written only after the
  /// input bytes it depends on have been read. The interpreter then lets
  /// the output share the input's memory where the input dies at this node.
  virtual bool runs_in_place() const { return false; }
};

/// A node of the graph: one operator of subgraph 0, in execution order.
struct Node {
  int32_t index = 0;
  BuiltinOperator op_code = BuiltinOperator::kAdd;
  int32_t version = 1;
  std::string op_name;       // "CONV_2D".
  std::vector<int32_t> inputs;   // tensor indices; -1 = optional input absent.
  std::vector<int32_t> outputs;
  const tflite::Operator* op = nullptr;  // verified flatbuffer table (options).
  std::unique_ptr<OpKernel> kernel;
};

/// What a kernel sees in Prepare(): its node, its tensors, and an error
/// helper that prefixes "node N (OP): ".
class KernelContext {
 public:
  KernelContext(Node& node, std::vector<Tensor>& tensors) : node_(node), tensors_(tensors) {}

  const Node& node() const { return node_; }
  const tflite::Operator* op() const { return node_.op; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  /// Input `i`, or nullptr when absent (index -1) or out of range.
  Tensor* input(size_t i) const {
    if (i >= node_.inputs.size() || node_.inputs[i] < 0) return nullptr;
    return &tensors_[static_cast<size_t>(node_.inputs[i])];
  }
  Tensor* output(size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i] < 0) return nullptr;
    return &tensors_[static_cast<size_t>(node_.outputs[i])];
  }

  /// An error naming this node: "node 27 (DEPTHWISE_CONV_2D): <message>".
  template <typename... Args>
  Status Error(const char* format, Args... args) const {
    const std::string prefix = "node " + std::to_string(node_.index) + " (" + node_.op_name + "): ";
    if constexpr (sizeof...(Args) == 0) {
      return Status::Error(prefix + format);  // a plain message, not a format
    } else {
      char buffer[400];
      std::snprintf(buffer, sizeof(buffer), format, args...);
      return Status::Error(prefix + buffer);
    }
  }

  /// Checks the input/output counts: inputs in [min_in, max_in], outputs == n_out.
  Status CheckArity(size_t min_in, size_t max_in, size_t n_out) const;
  /// Returns the required input `i`, or an error naming it.
  Status RequireInput(size_t i, const char* what, Tensor** out) const;
  Status RequireOutput(size_t i, Tensor** out) const;
  /// Checks that `t` is quantized per tensor (one scale > 0) of type `type`.
  Status CheckPerTensorQuantized(const Tensor& t, const char* what) const;
  /// Checks `t.type` is one of `a`/`b`.
  Status CheckType(const Tensor& t, const char* what, DataType a, DataType b) const;
  Status CheckSameType(const Tensor& a, const char* what_a, const Tensor& b, const char* what_b) const;
  /// Checks a tensor's shape equals `expected`.
  Status CheckShape(const Tensor& t, const char* what, const std::vector<int32_t>& expected) const;

 private:
  Node& node_;
  std::vector<Tensor>& tensors_;
};

/// Creates the kernel for `op_code` at `version`, or returns an error naming
/// the op and version when Lookout does not implement it.
Result<std::unique_ptr<OpKernel>> CreateKernel(BuiltinOperator op_code, int32_t version);

/// What a factory of fast kernels may use besides its node.
struct KernelEnvironment {
  pthreadpool_t pool = nullptr;       ///< The interpreter's pool; null: one thread.
  const CpuFeatures* cpu = nullptr;   ///< The host's (CpuFeatures::Host()).
  OwnKernelOptions own;
  bool xnnpack_allowed = true;        ///< Whether XNNPACK may run nodes (the Arm GEMM's deferral rules).
};

/// Range of a quantized 8-bit type.
inline int32_t QMin(DataType t) { return t == DataType::kInt8 ? -128 : 0; }
inline int32_t QMax(DataType t) { return t == DataType::kInt8 ? 127 : 255; }

using runtime::ShapeString;

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_GRAPH_H_
