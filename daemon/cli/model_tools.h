// The model tools of the `lookout` CLI: run, bench, inspect and export-c.
// They need only the runtime (no OpenCV, camera or MQTT libraries), so the
// `lookout` binary's peak RSS measures the interpreter, not its neighbours.
//
// Each Run* prints its report on stdout and returns the process exit code
// (0 success, 1 failure); errors (unreadable or refused model, bad input)
// are thrown as std::runtime_error with the runtime's message.
#ifndef LOOKOUT_DAEMON_CLI_MODEL_TOOLS_H_
#define LOOKOUT_DAEMON_CLI_MODEL_TOOLS_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "lookout/runtime/interpreter.h"

namespace lookout::daemon {

/// Loads and verifies `path` (mmapped), creates an interpreter with
/// `options` and allocates its tensors; throws std::runtime_error with the
/// runtime's message.
std::unique_ptr<runtime::Interpreter> LoadInterpreter(const std::filesystem::path& path,
                                                      const runtime::InterpreterOptions& options = {});

/// The environment switch LOOKOUT_NO_OWN_KERNELS, as lookoutd, lookout and
/// lookout-classify apply it (the runtime library reads no environment):
/// `value` null, "" or "0" leaves `options` as they are; a comma-separated
/// list of switch names turns those off in options->own_kernels
/// ("pointwise", "depthwise", "mul", "dot": OwnKernelOptions::dot_product,
/// "defer": OwnKernelOptions::defer_to_xnnpack; unknown names are ignored);
/// any other value ("1") removes Lookout's own kernel families (kOwnX86,
/// kOwnArm) from options->kernels, so XNNPACK runs every node it can, for
/// comparisons.
void ApplyNoOwnKernels(const char* value, runtime::InterpreterOptions* options);

/// `lookout run`: copies the file `input` (exactly input tensor 0's bytes,
/// else an error naming the tensor and both sizes) into input tensor 0,
/// invokes, and writes output tensor 0's bytes to `output`.
int RunRaw(const std::string& model, const std::string& input, const std::string& output,
           const runtime::InterpreterOptions& options);

/// `lookout bench`, in the spirit of TFLite's benchmark_model.
struct BenchOptions {
  std::string model;
  std::string input;  ///< Raw input tensor 0 bytes; empty: fixed pseudo-random bytes.
  runtime::InterpreterOptions interpreter;  ///< Threads and kernel families.
  int warmup = 1;          ///< Untimed Invoke() calls after the first one.
  int runs = 0;            ///< Timed calls at least (0 with min_secs 0: 50).
  double min_secs = 0.0;   ///< Keep timing until at least this long has passed.
  double max_secs = 150.0; ///< Stop timing after this long, whatever runs says.
  bool profile = false;    ///< Per-node and per-op median µs.
  bool json = false;
};

/// Times init (load + AllocateTensors, ms), the first Invoke() (µs), then
/// the counted runs: count, min, median, mean, std, p90, p99 in µs; arena
/// and activation bytes; peak RSS bytes. A progress line goes to stderr
/// every 2 s on long runs.
int RunBench(const BenchOptions& options);

/// `lookout inspect`: input/output details, description and schema version,
/// op histogram with versions, per node op / tensors / MACs / the kernel
/// family that runs it (KernelFamilyName: "xnnpack", "lookout-x86", ...),
/// totals; the ops Lookout cannot run, named.
int RunInspect(const std::string& model, const runtime::InterpreterOptions& options, bool json);

/// `lookout export-c`: writes OUT_DIR/NAME.h and OUT_DIR/NAME.cc holding the
/// model as a 16-byte-aligned const array `NAME` and its length `NAME_len`
/// (what `xxd -i` gives, aligned and const, for firmware builds). NAME
/// defaults to the model file's stem with every character outside
/// [A-Za-z0-9_] replaced by '_'.
int RunExportC(const std::string& model, const std::string& name, const std::string& out_dir);

/// A C identifier made from `text` as xxd -i does: [^A-Za-z0-9_] -> '_', and
/// a leading digit prefixed with '_'.
std::string CIdentifier(const std::string& text);

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_CLI_MODEL_TOOLS_H_
