// Interpreter: runs subgraph 0 of a Model with Lookout's integer kernels.
//
// Life cycle (as TFLite's Interpreter / TFLM's MicroInterpreter):
//   Create(model, options)  - builds the node list; checks every operator is
//                             one we support, at a version we support.
//   AllocateTensors()       - each node's reference Prepare: all shape, type
//                             and quantization checks and all precompute
//                             (QuantizeMultiplier, activation clamps, padding);
//                             then each node's kernel family is chosen
//                             (InterpreterOptions: lookup table, Lookout's
//                             own x86/Arm kernels, XNNPACK, reference),
//                             weights packed once; then one arena holds every
//                             activation tensor and the kernels are set up
//                             on it, once.
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

/// The families of kernels that can run a node. Every node has a reference
/// kernel, whose Prepare() validates the node whatever family then runs it,
/// so a bad model is refused with the same message under any options.
enum class KernelFamily : uint8_t {
  /// Portable reference kernels: TFLite's reference integer arithmetic
  /// (tensorflow/lite/kernels/internal/reference), byte for byte.
  kReference,
  /// Exact lookup tables computed by the node's reference kernel: 256
  /// entries for an 8-bit element-wise node (HARD_SWISH, QUANTIZE, ADD / MUL
  /// of a constant scalar), SOFTMAX's exp table. Same bytes as the reference.
  kLookupTable,
  /// XNNPACK operators (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD,
  /// MUL, AVERAGE_POOL_2D, MEAN). XNNPACK requantizes in fp32, so outputs may
  /// differ from the reference by a few LSB, as TFLite's XNNPACK delegate's do.
  kXnnpack,
  /// Lookout's AVX-512 kernels on x86-64 (the GEMM of pointwise CONV_2D and
  /// FULLY_CONNECTED with VNNI, DEPTHWISE_CONV_2D), where the CPU has them.
  /// Byte for byte what XNNPACK's operator for the node computes.
  kOwnX86,
  /// Lookout's NEON kernels on 64-bit Arm (GEMM, int8 DEPTHWISE_CONV_2D,
  /// MUL). Byte for byte what XNNPACK's fp32-requantizing operator computes.
  kOwnArm,
};

/// "reference", "lut", "xnnpack", "lookout-x86", "lookout-arm".
const char* KernelFamilyName(KernelFamily family);

/// A set of kernel families. kReference is always in it: it is what runs a
/// node no other allowed family takes.
class KernelFamilies {
 public:
  /// Every family; which one runs a node then depends on the node and the
  /// CPU (see InterpreterOptions).
  static constexpr KernelFamilies All() { return KernelFamilies(0x1f); }
  static constexpr KernelFamilies ReferenceOnly() { return KernelFamilies(0x01); }

  constexpr bool contains(KernelFamily family) const { return (bits_ & Bit(family)) != 0; }
  constexpr KernelFamilies with(KernelFamily family) const { return KernelFamilies(bits_ | Bit(family)); }
  /// The set without `family`; kReference stays.
  constexpr KernelFamilies without(KernelFamily family) const {
    return KernelFamilies((bits_ & ~Bit(family)) | 0x01);
  }
  constexpr bool operator==(const KernelFamilies&) const = default;

 private:
  constexpr explicit KernelFamilies(uint32_t bits) : bits_(bits) {}
  static constexpr uint32_t Bit(KernelFamily family) { return uint32_t{1} << static_cast<uint32_t>(family); }
  uint32_t bits_;
};

/// Finer switches over Lookout's own kernels (kOwnX86, kOwnArm), for tests
/// and measurements; the defaults are what runs fastest.
struct OwnKernelOptions {
  bool pointwise = true;    ///< The GEMM kernels (pointwise CONV_2D, FULLY_CONNECTED, small-window CONV_2D).
  bool depthwise = true;    ///< The DEPTHWISE_CONV_2D kernels.
  bool mul = true;          ///< The MUL kernel (Arm).
  /// Arm: the dot-product GEMM variant where the CPU has dot products
  /// (Cortex-A76); false: the plain NEON variant (Cortex-A72's) everywhere.
  bool dot_product = true;
  /// Arm: leave a GEMM to XNNPACK where its kernels count fewer instructions
  /// (depth K below 48 for uint8, 160 for int8; types for which XNNPACK has
  /// dot-product GEMMs, on a dot-product CPU). Applies only when kXnnpack
  /// may run; false makes our kernels take every GEMM they can.
  bool defer_to_xnnpack = true;

  constexpr bool operator==(const OwnKernelOptions&) const = default;
};

/// The families this build of the library contains: kReference and
/// kLookupTable always; kXnnpack when built with XNNPACK (the CMake option
/// LOOKOUT_WITH_XNNPACK, on by default); kOwnX86 on x86-64, kOwnArm on
/// arm64 (each then used only where the CPU has the instructions). A
/// family that options allow but the build lacks is skipped, as one that
/// cannot run a node is.
KernelFamilies CompiledKernelFamilies();

/// How to run a model.
///
/// Which family runs a node is decided once, in AllocateTensors(), in this
/// order: a lookup table; Lookout's own kernel for this CPU (kOwnX86 or
/// kOwnArm, as `own_kernels` allows); XNNPACK's operator; else the
/// reference kernel. Each step only where `kernels` contains the family and
/// the kernel can run the node exactly. A node whose data input is a
/// constant tensor stays on the lookup table or the reference (the fast
/// kernels may read XNN_EXTRA_BYTES past an activation; a constant lives
/// unpadded in the model file). NodeDetails::family tells the outcome.
struct InterpreterOptions {
  /// Threads of the one pthreadpool every kernel shares, >= 1. A build
  /// without XNNPACK has no pool and runs on the calling thread.
  int32_t num_threads = 1;
  KernelFamilies kernels = KernelFamilies::All();
  OwnKernelOptions own_kernels;
};

/// The two presets lookoutd's /model/backend and the CLI's --backend name:
/// "reference" = KernelFamilies::ReferenceOnly() (byte-exact TFLite
/// reference outputs), "xnnpack" = KernelFamilies::All() (the fast path).
/// False for any other name.
bool ParseBackend(const std::string& name, KernelFamilies* kernels);
/// "reference" or "xnnpack" for the presets; for any other set, its
/// families' names joined by '+' ("reference+lut+xnnpack").
std::string BackendName(KernelFamilies kernels);

/// One node (operator) of the graph as prepared.
struct NodeDetails {
  int32_t index = 0;
  std::string op_name;           ///< TFLite's builtin name, "CONV_2D".
  int32_t version = 1;           ///< Operator version in the model.
  std::vector<int32_t> inputs;   ///< Tensor indices; -1 = absent optional input.
  std::vector<int32_t> outputs;
  /// The family of the kernel that runs the node (after AllocateTensors();
  /// kReference before).
  KernelFamily family = KernelFamily::kReference;
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
