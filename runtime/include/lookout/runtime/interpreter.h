// Interpreter: runs subgraph 0 of a Model with Lookout's integer kernels.
//
// Life cycle (as TFLite's Interpreter / TFLM's MicroInterpreter):
//   Create(model, options)  - builds the node list; checks every operator is
//                             one we support, at a version we support.
//   AllocateTensors()       - each node's reference Prepare: all shape, type
//                             and quantization checks and all precompute
//                             (QuantizeMultiplier, activation clamps, padding);
//                             on Backend::kXnnpack, the node then moves to an
//                             XNNPACK operator (weights packed once) or a
//                             lookup table where one runs it; then one arena
//                             holds every activation tensor and the XNNPACK
//                             operators are set up on it, once.
//   Invoke()                - runs the nodes in order. Allocates nothing and
//                             validates nothing; safe to call repeatedly.
// The reference kernels' integer arithmetic matches TensorFlow Lite's
// reference kernels bit for bit (tensorflow/lite/kernels/internal/reference).
//
// Threading: one Interpreter must not be used from two threads at once; use
// one per thread. Errors: every failure is a Status whose message names the
// node index, its op name and the field at fault.
#ifndef LOOKOUT_RUNTIME_INTERPRETER_H_
#define LOOKOUT_RUNTIME_INTERPRETER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lookout/runtime/model.h"
#include "lookout/runtime/status.h"
#include "lookout/runtime/tensor.h"

namespace lookout::runtime {

namespace internal {
struct InterpreterTesting;
}  // namespace internal

/// Which kernels run the nodes.
enum class Backend {
  /// Portable reference kernels only: outputs equal TFLite's reference
  /// kernels byte for byte.
  kReference,
  /// XNNPACK operators for the nodes XNNPACK runs (CONV_2D, DEPTHWISE_CONV_2D,
  /// FULLY_CONNECTED, ADD, MUL, AVERAGE_POOL_2D, MEAN), exact 256-entry
  /// lookup tables for 8-bit element-wise ops (HARD_SWISH, QUANTIZE), the
  /// reference kernels for the rest. XNNPACK requantizes in fp32, so outputs
  /// may differ from the reference by a few LSB, as TFLite's XNNPACK
  /// delegate's do.
  kXnnpack,
};

/// "reference" / "xnnpack".
const char* BackendName(Backend backend);
/// Parses "reference" / "xnnpack"; false for anything else.
bool ParseBackend(const std::string& name, Backend* backend);

/// How to run a model.
struct InterpreterOptions {
  int32_t num_threads = 1;  ///< Threads of the one pthreadpool every kernel shares, >= 1.
  Backend backend = Backend::kXnnpack;
};

/// One node (operator) of the graph as prepared.
struct NodeDetails {
  int32_t index = 0;
  std::string op_name;           ///< TFLite's builtin name, "CONV_2D".
  int32_t version = 1;           ///< Operator version in the model.
  std::vector<int32_t> inputs;   ///< Tensor indices; -1 = absent optional input.
  std::vector<int32_t> outputs;
  std::string backend;           ///< "xnnpack", "lut" or "reference" (after AllocateTensors()).
  uint64_t macs = 0;             ///< Multiply-accumulates per Invoke() (convolutions, FC).
};

/// Every node of `model` whose operator or version Lookout has no kernel
/// for, one message each ("node 3 (SUB): operator SUB is not supported");
/// empty when Lookout can run them all.
std::vector<std::string> UnsupportedOperators(const Model& model);

class Interpreter {
 public:
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  /// Builds an interpreter for `model` (kept alive by the interpreter).
  /// Fails on an unsupported operator/version or a bad graph.
  static Result<std::unique_ptr<Interpreter>> Create(
      std::shared_ptr<const Model> model, const InterpreterOptions& options = {});

  /// Prepares every node and allocates the tensor arena. Must succeed before
  /// Invoke(); calling it again is a no-op, or returns the same error if it
  /// failed. Refuses models beyond the
  /// runtime's limits, far above MobileNet-class needs: a 256 MiB arena, 2^32
  /// operations in one node, 2^36 per Invoke().
  Status AllocateTensors();

  /// Runs the graph on the current input tensor contents. Errors: called
  /// before AllocateTensors(); a node whose kernel fails (a library call
  /// such as XNNPACK's xnn_run_operator returning an error): Invoke() stops
  /// there, nodes after it do not run, the outputs are undefined, and the
  /// message names the node and its op ("node 12 (CONV_2D): ...").
  Status Invoke();
  /// Invoke() that also stores each node's wall time in ns into
  /// `node_ns[node index]` (`node_ns.size()` must be node_count()).
  Status InvokeProfiled(std::span<int64_t> node_ns);

  /// Number of graph inputs / outputs.
  size_t input_count() const;
  size_t output_count() const;
  /// Facts about input / output `i` (name, NHWC shape, dtype, scale, zero_point).
  const TensorDetails& input_details(size_t i) const;
  const TensorDetails& output_details(size_t i) const;
  /// Bytes of input `i`, to fill before Invoke(). Valid after AllocateTensors().
  std::span<uint8_t> input_data(size_t i);
  /// Bytes of output `i`, valid after Invoke() until the next Invoke().
  std::span<const uint8_t> output_data(size_t i) const;

  /// Bytes of the activation arena (0 before AllocateTensors()).
  size_t arena_bytes() const;
  /// Sum of the byte sizes of all activation tensors: what the arena would
  /// need if no two tensors shared memory.
  size_t activation_bytes() const;
  /// Number of nodes (operators) in the graph.
  size_t node_count() const;
  /// Node `i` in execution order.
  const NodeDetails& node_details(size_t i) const;
  /// Number of tensors in subgraph 0, and facts about tensor `index`.
  size_t tensor_count() const;
  TensorDetails tensor_details(int32_t index) const;
  /// Elements of all constant tensors (weights and biases).
  uint64_t parameter_count() const;
  /// The options the interpreter was created with.
  const InterpreterOptions& options() const;

  class Impl;

 private:
  friend struct internal::InterpreterTesting;  // tests swap a node's kernel
  explicit Interpreter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lookout::runtime

#endif  // LOOKOUT_RUNTIME_INTERPRETER_H_
