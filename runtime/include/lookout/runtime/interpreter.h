// Interpreter: runs subgraph 0 of a Model with Lookout's integer kernels.
//
// Life cycle (as TFLite's Interpreter / TFLM's MicroInterpreter):
//   Create(model, options)  - builds the node list; checks every operator is
//                             one we support, at a version we support.
//   AllocateTensors()       - each node's Prepare: all shape, type and
//                             quantization checks and all precompute
//                             (QuantizeMultiplier, activation clamps, padding);
//                             then one arena holds every activation tensor.
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
#include <vector>

#include "lookout/runtime/model.h"
#include "lookout/runtime/status.h"
#include "lookout/runtime/tensor.h"

namespace lookout::runtime {

/// How to run a model.
struct InterpreterOptions {
  int32_t num_threads = 1;  ///< Worker threads, >= 1.
};

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
  /// Invoke(); calling it again is a no-op.
  Status AllocateTensors();

  /// Runs the graph on the current input tensor contents.
  Status Invoke();

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
  /// Number of nodes (operators) in the graph.
  size_t node_count() const;

  class Impl;

 private:
  explicit Interpreter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lookout::runtime

#endif  // LOOKOUT_RUNTIME_INTERPRETER_H_
