// A model file is untrusted input: whatever the bytes, loading, planning and
// running must either refuse them with an error Status or run them, never
// crash, hang, leak or hit undefined behaviour. This target feeds the bytes
// through the whole public API, one thread, in each configuration of
// model_fuzzer.h (reference; xnnpack; xnnpack without Lookout's own kernels).
//
// The runtime itself refuses absurd models (tensor and arena sizes, work per
// node and per Invoke(): see runtime/src/model.cc and interpreter.cc). Models
// within those limits can still be big; so that fuzzing stays at thousands of
// executions a second, a model whose planned work is over kInvokeBudget is
// loaded, created and allocated here but not invoked.
#include "model_fuzzer.h"

#include <stdlib.h>

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "src/model_access.h"
#include "tflite_schema_generated.h"

namespace lookout::fuzz {
namespace {

namespace lr = lookout::runtime;

// Element operations per Invoke() above which an allocated model is not run:
// a few hundredths of a second of the reference kernels under ASan.
constexpr uint64_t kInvokeBudget = uint64_t{1} << 24;

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// Loop iterations a tensor's shape implies: its element count with every 0
// dimension counted as 1 (outer loops still run over the other dimensions).
uint64_t Extent(const std::vector<int32_t>& shape) {
  uint64_t n = 1;
  for (int32_t d : shape) n = SaturatingMul(n, static_cast<uint64_t>(std::max(d, 1)));
  return n;
}

uint64_t Dim(const std::vector<int32_t>& shape, size_t i) {
  return i < shape.size() ? static_cast<uint64_t>(std::max(shape[i], 1)) : 1;
}

// An upper bound on the element operations of one Invoke(): output elements
// times the window or depth each one reads.
uint64_t PlannedWork(const lr::Interpreter& interp, const lr::Model& model) {
  const auto* ops = lr::internal::ModelAccess::Root(model)->subgraphs()->Get(0)->operators();
  uint64_t total = 0;
  for (size_t n = 0; n < interp.node_count(); ++n) {
    const lr::NodeDetails& d = interp.node_details(n);
    auto shape_of = [&](const std::vector<int32_t>& list, size_t k) {
      return k < list.size() && list[k] >= 0 ? interp.tensor_details(list[k]).shape
                                             : std::vector<int32_t>{};
    };
    uint64_t out = 0;
    for (size_t k = 0; k < d.outputs.size(); ++k) out = SaturatingAdd(out, Extent(shape_of(d.outputs, k)));
    const std::vector<int32_t> in = shape_of(d.inputs, 0);
    const std::vector<int32_t> filter = shape_of(d.inputs, 1);
    uint64_t work = SaturatingAdd(out, Extent(in));
    if (d.op_name == "CONV_2D") {  // filter [OC, KH, KW, IC]
      work = SaturatingMul(out, Dim(filter, 1) * Dim(filter, 2) * Dim(filter, 3));
    } else if (d.op_name == "DEPTHWISE_CONV_2D") {  // filter [1, KH, KW, OC]
      work = SaturatingMul(out, Dim(filter, 1) * Dim(filter, 2));
    } else if (d.op_name == "FULLY_CONNECTED") {  // filter [units, depth]
      work = SaturatingMul(out, Dim(filter, 1));
    } else if (d.op_name == "AVERAGE_POOL_2D" || d.op_name == "MAX_POOL_2D") {
      const auto* pool = ops->Get(static_cast<flatbuffers::uoffset_t>(n))->builtin_options_as_Pool2DOptions();
      if (pool != nullptr) {
        const uint64_t fh = std::min<uint64_t>(Dim(in, 1), static_cast<uint64_t>(std::max(pool->filter_height(), 1)));
        const uint64_t fw = std::min<uint64_t>(Dim(in, 2), static_cast<uint64_t>(std::max(pool->filter_width(), 1)));
        work = SaturatingMul(out, fh * fw);
      }
    }
    total = SaturatingAdd(total, work);
  }
  return total;
}

Outcome last_outcome;
std::string last_message;

// Every refusal must say why.
void NoteRefusal(const std::string& message) {
  if (message.empty()) __builtin_trap();
  if (last_message.empty()) last_message = message;
}

Stage Run(const std::shared_ptr<const lr::Model>& model, lr::KernelFamilies backend) {
  lr::InterpreterOptions options;
  options.num_threads = 1;
  options.kernels = backend;
  auto created = lr::Interpreter::Create(model, options);
  if (!created.ok()) {
    NoteRefusal(created.status().message());
    return Stage::kCreate;
  }
  lr::Interpreter& interp = **created;
  if (lr::Status s = interp.AllocateTensors(); !s.ok()) {
    NoteRefusal(s.message());
    return Stage::kAllocate;
  }
  if (PlannedWork(interp, *model) > kInvokeBudget) return Stage::kSkipped;
  for (size_t i = 0; i < interp.input_count(); ++i) {
    std::span<uint8_t> in = interp.input_data(i);
    for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<uint8_t>(k * 37 + i * 101 + 11);
  }
  // Invoke() validates nothing, so it has nothing to refuse once allocated.
  if (lr::Status s = interp.Invoke(); !s.ok()) __builtin_trap();
  // Read every output byte, so that a span past its tensor shows up.
  unsigned sum = 0;
  for (size_t i = 0; i < interp.output_count(); ++i) {
    for (uint8_t v : interp.output_data(i)) sum += v;
  }
  volatile unsigned sink = sum;
  (void)sink;
  return Stage::kInvoked;
}

void Exercise(std::span<const uint8_t> bytes) {
  last_outcome = {};
  last_message.clear();
  auto model = lr::Model::FromBuffer(bytes);
  if (!model.ok()) {
    NoteRefusal(model.status().message());
  } else {
    last_outcome.stage[0] = Run(*model, lr::KernelFamilies::ReferenceOnly());
    last_outcome.stage[1] = Run(*model, lr::KernelFamilies::All());
    last_outcome.stage[2] = Run(*model, lr::KernelFamilies::All().without(lr::KernelFamily::kOwnX86).without(lr::KernelFamily::kOwnArm));
  }
  last_outcome.message = last_message.c_str();
}

}  // namespace

const Outcome& LastOutcome() { return last_outcome; }

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kLoad: return "load";
    case Stage::kCreate: return "create";
    case Stage::kAllocate: return "allocate";
    case Stage::kSkipped: return "over budget";
    case Stage::kInvoked: return "invoked";
  }
  return "?";
}

}  // namespace lookout::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lookout::fuzz::Exercise(std::span<const uint8_t>(data, size));
  return 0;
}
