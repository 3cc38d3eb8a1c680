#include "lookout/runtime/interpreter.h"

#if LOOKOUT_HAVE_XNNPACK
#include <xnnpack.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "src/arena_planner.h"
#include "src/graph.h"
#include "src/interpreter_testing.h"
#include "src/kernel_choice.h"
#include "src/model_access.h"
#include "tflite_schema_generated.h"

#if defined(__SANITIZE_ADDRESS__)
#define LOOKOUT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOKOUT_ASAN 1
#endif
#endif
#ifdef LOOKOUT_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace lookout::runtime {
namespace {
#if LOOKOUT_HAVE_XNNPACK
constexpr size_t kXnnExtraBytes = XNN_EXTRA_BYTES;
#else
constexpr size_t kXnnExtraBytes = 16;  // What our own kernels may read past a tensor, as XNNPACK's.
#endif
// Under AddressSanitizer each activation is followed by a poisoned red zone
// in the arena, so that a kernel reading or writing past its tensor (and its
// XNN_EXTRA_BYTES) is reported even where the arena goes on.
#ifdef LOOKOUT_ASAN
constexpr size_t kRedZoneBytes = 64;
#else
constexpr size_t kRedZoneBytes = 0;
#endif
}  // namespace

using internal::KernelContext;
using internal::Node;
using internal::Tensor;

namespace internal {

Status KernelContext::CheckArity(size_t min_in, size_t max_in, size_t n_out) const {
  if (num_inputs() < min_in || num_inputs() > max_in) {
    if (min_in == max_in) return Error("has %zu inputs, expected %zu", num_inputs(), min_in);
    return Error("has %zu inputs, expected %zu to %zu", num_inputs(), min_in, max_in);
  }
  if (num_outputs() != n_out) return Error("has %zu outputs, expected %zu", num_outputs(), n_out);
  return {};
}

Status KernelContext::RequireInput(size_t i, const char* what, Tensor** out) const {
  *out = input(i);
  if (*out == nullptr) return Error("input %zu (%s) is missing", i, what);
  return {};
}

Status KernelContext::RequireOutput(size_t i, Tensor** out) const {
  *out = output(i);
  if (*out == nullptr) return Error("output %zu is missing", i);
  return {};
}

Status KernelContext::CheckPerTensorQuantized(const Tensor& t, const char* what) const {
  if (t.quantization.scale.size() != 1) {
    return Error("%s tensor '%s' must be quantized per tensor (one scale), has %zu scales", what,
                 t.name.c_str(), t.quantization.scale.size());
  }
  return {};
}

Status KernelContext::CheckType(const Tensor& t, const char* what, DataType a, DataType b) const {
  if (t.type != a && t.type != b) {
    return Error("%s tensor '%s' has type %s, expected %s or %s", what, t.name.c_str(),
                 DataTypeName(t.type).c_str(), DataTypeName(a).c_str(), DataTypeName(b).c_str());
  }
  return {};
}

Status KernelContext::CheckSameType(const Tensor& a, const char* what_a, const Tensor& b,
                                    const char* what_b) const {
  if (a.type != b.type) {
    return Error("%s tensor '%s' has type %s but %s tensor '%s' has type %s", what_b, b.name.c_str(),
                 DataTypeName(b.type).c_str(), what_a, a.name.c_str(), DataTypeName(a.type).c_str());
  }
  return {};
}

Status KernelContext::CheckShape(const Tensor& t, const char* what,
                                 const std::vector<int32_t>& expected) const {
  if (t.shape != expected) {
    return Error("%s tensor '%s' has shape %s, expected %s", what, t.name.c_str(),
                 ShapeString(t.shape).c_str(), ShapeString(expected).c_str());
  }
  return {};
}

}  // namespace internal

const char* KernelFamilyName(KernelFamily family) {
  switch (family) {
    case KernelFamily::kReference: return "reference";
    case KernelFamily::kLookupTable: return "lut";
    case KernelFamily::kXnnpack: return "xnnpack";
    case KernelFamily::kOwnX86: return "lookout-x86";
    case KernelFamily::kOwnArm: return "lookout-arm";
  }
  return "unknown";
}

std::string BackendName(KernelFamilies kernels) {
  if (kernels == KernelFamilies::ReferenceOnly()) return "reference";
  if (kernels == KernelFamilies::All()) return "xnnpack";
  std::string name;
  for (KernelFamily f : {KernelFamily::kReference, KernelFamily::kLookupTable, KernelFamily::kXnnpack,
                         KernelFamily::kOwnX86, KernelFamily::kOwnArm}) {
    if (kernels.contains(f)) name += (name.empty() ? "" : "+") + std::string(KernelFamilyName(f));
  }
  return name;
}

KernelFamilies CompiledKernelFamilies() {
  KernelFamilies families = KernelFamilies::ReferenceOnly().with(KernelFamily::kLookupTable);
#if LOOKOUT_HAVE_XNNPACK
  families = families.with(KernelFamily::kXnnpack);
#endif
#if defined(__x86_64__)
  families = families.with(KernelFamily::kOwnX86);
#elif defined(__aarch64__)
  families = families.with(KernelFamily::kOwnArm);
#endif
  return families;
}

bool ParseBackend(const std::string& name, KernelFamilies* kernels) {
  if (name == "reference") {
    *kernels = KernelFamilies::ReferenceOnly();
    return true;
  }
  if (name == "xnnpack") {
    *kernels = KernelFamilies::All();
    return true;
  }
  return false;
}

class Interpreter::Impl {
 public:
  std::shared_ptr<const Model> model;
  InterpreterOptions options;
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;
  std::vector<NodeDetails> node_details;
  std::vector<int32_t> inputs, outputs;
  std::vector<TensorDetails> input_details, output_details;
  uint8_t* arena = nullptr;
  size_t arena_bytes = 0;
  size_t activation_bytes = 0;
  pthreadpool_t pool = nullptr;
  bool allocated = false;
  Status allocate_error;  // a failed AllocateTensors() stays failed: no retry over half-made state

  ~Impl() {
    nodes.clear();  // kernels may hold XNNPACK operators that use the pool.
#if LOOKOUT_HAVE_XNNPACK
    if (pool != nullptr) pthreadpool_destroy(pool);
#endif
    std::free(arena);
  }

  Status Build();
  // AllocateTensors(), in its named steps.
  Status Allocate();
  Status CreatePool();
  Status PrepareNodes();
  void ChooseKernels();
  Status PlanArena(const internal::Lifetimes& lifetimes, const std::vector<int32_t>& alias);
  Status SetupKernels();
  TensorDetails Details(int32_t index) const;
};

TensorDetails Interpreter::Impl::Details(int32_t index) const {
  const Tensor& t = tensors[static_cast<size_t>(index)];
  TensorDetails d;
  d.name = t.name;
  d.index = index;
  d.shape = t.shape;
  d.type = t.type;
  d.scale = t.scale;
  d.zero_point = t.zero_point;
  d.quantization = t.quantization;
  d.bytes = t.bytes;
  return d;
}

Status Interpreter::Impl::Build() {
  const tflite::Model* root = internal::ModelAccess::Root(*model);
  const auto* sg = root->subgraphs()->Get(0);
  const auto* fb_tensors = sg->tensors();
  tensors.resize(fb_tensors->size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto* ft = fb_tensors->Get(static_cast<flatbuffers::uoffset_t>(i));
    Tensor& t = tensors[i];
    t.name = ft->name() ? ft->name()->str() : std::string();
    t.type = static_cast<DataType>(ft->type());
    if (ft->shape()) t.shape.assign(ft->shape()->begin(), ft->shape()->end());
    t.elements = 1;
    for (int32_t d : t.shape) t.elements *= static_cast<size_t>(d);
    t.bytes = t.elements * DataTypeSize(t.type);
    if (const auto* q = ft->quantization(); q != nullptr && q->scale() && q->scale()->size() > 0) {
      t.quantization.scale.assign(q->scale()->begin(), q->scale()->end());
      t.quantization.zero_point.assign(q->zero_point()->begin(), q->zero_point()->end());
      t.quantization.quantized_dimension = q->quantized_dimension();
      t.scale = t.quantization.scale[0];
      t.zero_point = static_cast<int32_t>(t.quantization.zero_point[0]);
    }
    const auto* buffer = root->buffers()->Get(ft->buffer());
    if (buffer != nullptr && buffer->data() != nullptr && buffer->data()->size() > 0) {
      t.is_constant = true;
      // Constant data is only read; kernels never write their inputs.
      t.data = const_cast<uint8_t*>(buffer->data()->data());
    }
  }

  inputs.assign(sg->inputs()->begin(), sg->inputs()->end());
  outputs.assign(sg->outputs()->begin(), sg->outputs()->end());

  // Data flow: every tensor a node reads is constant, a graph input or the
  // output of an earlier node; every tensor is written at most once.
  std::vector<bool> produced(tensors.size(), false);
  for (int32_t i : inputs) {
    const Tensor& t = tensors[static_cast<size_t>(i)];
    if (t.is_constant) return Status::Error("graph input tensor " + std::to_string(i) + " '" + t.name + "' is constant");
    produced[static_cast<size_t>(i)] = true;
  }
  const auto* ops = sg->operators();
  const size_t num_ops = ops ? ops->size() : 0;
  nodes.resize(num_ops);
  for (size_t n = 0; n < num_ops; ++n) {
    const auto* op = ops->Get(static_cast<flatbuffers::uoffset_t>(n));
    const auto* oc = root->operator_codes()->Get(op->opcode_index());
    Node& node = nodes[n];
    node.index = static_cast<int32_t>(n);
    node.op_code = static_cast<internal::BuiltinOperator>(std::max<int32_t>(oc->builtin_code(), oc->deprecated_builtin_code()));
    node.version = oc->version();
    node.op_name = BuiltinOperatorName(static_cast<int32_t>(node.op_code));
    node.op = op;
    if (op->inputs()) node.inputs.assign(op->inputs()->begin(), op->inputs()->end());
    node.outputs.assign(op->outputs()->begin(), op->outputs()->end());
    const std::string label = "node " + std::to_string(n) + " (" + node.op_name + ")";
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const int32_t i = node.inputs[k];
      if (i < 0) continue;
      const Tensor& t = tensors[static_cast<size_t>(i)];
      if (!t.is_constant && !produced[static_cast<size_t>(i)]) {
        return Status::Error(label + ": input " + std::to_string(k) + " (tensor " + std::to_string(i) +
                             " '" + t.name + "') is not produced by an earlier node");
      }
    }
    for (int32_t o : node.outputs) {
      const Tensor& t = tensors[static_cast<size_t>(o)];
      if (t.is_constant || produced[static_cast<size_t>(o)]) {
        return Status::Error(label + ": output tensor " + std::to_string(o) + " '" + t.name +
                             "' is constant or written twice");
      }
      produced[static_cast<size_t>(o)] = true;
    }
    NodeDetails& d = node_details.emplace_back();
    d.index = node.index;
    d.op_name = node.op_name;
    d.version = node.version;
    d.inputs = node.inputs;
    d.outputs = node.outputs;
    auto kernel = internal::CreateKernel(node.op_code, node.version);
    if (!kernel.ok()) return Status::Error(label + ": " + kernel.status().message());
    node.kernel = std::move(kernel).value();
  }
  for (int32_t o : outputs) {
    if (!produced[static_cast<size_t>(o)]) {
      return Status::Error("graph output tensor " + std::to_string(o) + " '" +
                           tensors[static_cast<size_t>(o)].name + "' is not produced by any node");
    }
  }
  for (int32_t i : inputs) input_details.push_back(Details(i));
  for (int32_t o : outputs) output_details.push_back(Details(o));
  return {};
}

namespace {

uint64_t CountMacs(const Node& node, const std::vector<Tensor>& tensors) {
  if (node.inputs.size() < 2 || node.outputs.empty() || node.inputs[1] < 0) return 0;
  const Tensor& filter = tensors[static_cast<size_t>(node.inputs[1])];
  const uint64_t out = tensors[static_cast<size_t>(node.outputs[0])].elements;
  switch (node.op_code) {
    case internal::BuiltinOperator::kConv2D:  // filter [OC, KH, KW, IC]
      return filter.rank() == 4 ? out * static_cast<uint64_t>(filter.dim(1)) * filter.dim(2) * filter.dim(3) : 0;
    case internal::BuiltinOperator::kDepthwiseConv2D:  // filter [1, KH, KW, OC]
      return filter.rank() == 4 ? out * static_cast<uint64_t>(filter.dim(1)) * filter.dim(2) : 0;
    case internal::BuiltinOperator::kFullyConnected:  // filter [units, depth]
      return filter.rank() == 2 ? out * static_cast<uint64_t>(filter.dim(1)) : 0;
    default:
      return 0;
  }
}

// Limits on what one model may ask of AllocateTensors() and Invoke(), far
// above what MobileNet-class models need (MobileNet v2 1.0 224: a 1.5 MiB
// arena, 20 M operations in its largest node, 0.3 G per Invoke(); its
// largest window, 112 x 112 pixels x 3 x 3 taps, is 0.1 M), so that a corrupt
// or hostile file is refused rather than exhausting memory or time.
constexpr size_t kMaxArenaBytes = size_t{256} << 20;
constexpr uint64_t kMaxNodeOps = uint64_t{1} << 32;
constexpr uint64_t kMaxInvokeOps = uint64_t{1} << 36;
// Output pixels x filter taps of a convolution or pooling node: XNNPACK
// keeps a pointer per tap (its indirection buffer), so 2^25 is 256 MiB.
constexpr uint64_t kMaxWindowTaps = uint64_t{1} << 25;

uint64_t SaturatingMul(uint64_t a, uint64_t b) { return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b; }
uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// Dimension `i` of `t` (1 when absent), a 0 counted as 1: the loops over the
// other dimensions of an empty tensor still run.
uint64_t LoopDim(const Tensor* t, size_t i) {
  return t != nullptr && i < t->rank() ? static_cast<uint64_t>(std::max(t->shape[i], 1)) : 1;
}

uint64_t LoopExtent(const Tensor* t) {
  uint64_t n = 1;
  for (size_t i = 0; t != nullptr && i < t->rank(); ++i) n = SaturatingMul(n, LoopDim(t, i));
  return n;
}

// Refuses a prepared node over kMaxNodeOps element operations per Invoke()
// (an upper bound: output elements x the window or depth each one reads) or
// over kMaxWindowTaps; adds its operations to `*total`.
Status CheckNodeCost(const KernelContext& ctx, uint64_t* total) {
  const Node& node = ctx.node();
  const Tensor* in = ctx.input(0);
  const Tensor* filter = ctx.input(1);
  const Tensor* out = ctx.output(0);
  uint64_t out_elements = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) out_elements = SaturatingAdd(out_elements, LoopExtent(ctx.output(k)));
  uint64_t ops = SaturatingAdd(out_elements, LoopExtent(in));
  uint64_t kh = 0, kw = 0, stride_w = 1;  // kh == 0: no window
  switch (node.op_code) {
    case internal::BuiltinOperator::kConv2D:  // filter [OC, KH, KW, IC]
      kh = LoopDim(filter, 1), kw = LoopDim(filter, 2);
      ops = SaturatingMul(SaturatingMul(out_elements, kh * kw), LoopDim(filter, 3));
      if (const auto* o = node.op->builtin_options_as_Conv2DOptions()) stride_w = static_cast<uint64_t>(std::max(o->stride_w(), 1));
      break;
    case internal::BuiltinOperator::kDepthwiseConv2D:  // filter [1, KH, KW, OC]
      kh = LoopDim(filter, 1), kw = LoopDim(filter, 2);
      ops = SaturatingMul(out_elements, kh * kw);
      if (const auto* o = node.op->builtin_options_as_DepthwiseConv2DOptions()) stride_w = static_cast<uint64_t>(std::max(o->stride_w(), 1));
      break;
    case internal::BuiltinOperator::kFullyConnected:  // filter [units, depth]
      ops = SaturatingMul(out_elements, LoopDim(filter, 1));
      break;
    case internal::BuiltinOperator::kAveragePool2D:
    case internal::BuiltinOperator::kMaxPool2D:  // the window as it overlaps the input
      if (const auto* o = node.op->builtin_options_as_Pool2DOptions()) {
        kh = std::min(LoopDim(in, 1), static_cast<uint64_t>(std::max(o->filter_height(), 1)));
        kw = std::min(LoopDim(in, 2), static_cast<uint64_t>(std::max(o->filter_width(), 1)));
        ops = SaturatingMul(out_elements, kh * kw);
        stride_w = static_cast<uint64_t>(std::max(o->stride_w(), 1));
      }
      break;
    default:
      break;
  }
  if (ops > kMaxNodeOps) {
    return ctx.Error("needs %llu operations per Invoke(), more than the limit of %llu for one node",
                     static_cast<unsigned long long>(ops), static_cast<unsigned long long>(kMaxNodeOps));
  }
  // XNNPACK's indirection buffers hold about this many pointers (a stride
  // wider than the window counts as the window's width).
  const uint64_t taps = SaturatingMul(LoopDim(out, 1) * LoopDim(out, 2), kh * std::max(kw, stride_w));
  if (taps > kMaxWindowTaps) {
    return ctx.Error("output %s, window %llux%llu, stride %llu: %llu window taps, more than the limit of %llu",
                     internal::ShapeString(out->shape).c_str(), static_cast<unsigned long long>(kh),
                     static_cast<unsigned long long>(kw), static_cast<unsigned long long>(stride_w),
                     static_cast<unsigned long long>(taps), static_cast<unsigned long long>(kMaxWindowTaps));
  }
  *total = SaturatingAdd(*total, ops);
  return {};
}

}  // namespace

Status Interpreter::Impl::Allocate() {
  LOOKOUT_RETURN_IF_ERROR(CreatePool());
  LOOKOUT_RETURN_IF_ERROR(PrepareNodes());
  ChooseKernels();
  internal::Lifetimes lifetimes = internal::ComputeLifetimes(tensors, nodes, inputs, outputs);
  const std::vector<int32_t> alias = internal::AssignInPlace(tensors, nodes, inputs, lifetimes);
  LOOKOUT_RETURN_IF_ERROR(PlanArena(lifetimes, alias));
  LOOKOUT_RETURN_IF_ERROR(SetupKernels());
  allocated = true;
  return {};
}

Status Interpreter::Impl::CreatePool() {
#if LOOKOUT_HAVE_XNNPACK
  if (options.num_threads <= 1) return {};
  pool = pthreadpool_create(static_cast<size_t>(options.num_threads));
  if (pool == nullptr) return Status::Error("cannot create a pool of " + std::to_string(options.num_threads) + " threads");
#endif
  return {};  // Without pthreadpool every kernel runs on the calling thread.
}

// The reference Prepare validates every node whatever then runs it, so a
// bad model is refused with the same message under any options.
Status Interpreter::Impl::PrepareNodes() {
  uint64_t total_ops = 0;
  for (Node& node : nodes) {
    KernelContext ctx(node, tensors);
    LOOKOUT_RETURN_IF_ERROR(node.kernel->Prepare(ctx));
    LOOKOUT_RETURN_IF_ERROR(CheckNodeCost(ctx, &total_ops));
    node_details[static_cast<size_t>(node.index)].macs = CountMacs(node, tensors);
  }
  if (total_ops > kMaxInvokeOps) {
    return Status::Error("the graph needs " + std::to_string(total_ops) +
                         " operations per Invoke(), more than the limit of " + std::to_string(kMaxInvokeOps));
  }
  return {};
}

void Interpreter::Impl::ChooseKernels() {
  internal::KernelEnvironment env;
  env.pool = pool;
  env.cpu = &internal::CpuFeatures::Host();
  env.own = options.own_kernels;
  env.xnnpack_allowed = options.kernels.contains(KernelFamily::kXnnpack) &&
                        CompiledKernelFamilies().contains(KernelFamily::kXnnpack);
  for (Node& node : nodes) {
    KernelContext ctx(node, tensors);
    if (std::unique_ptr<internal::OpKernel> fast = internal::ChooseKernel(ctx, options.kernels, env)) {
      node.kernel = std::move(fast);
    }
    node_details[static_cast<size_t>(node.index)].family = node.kernel->family();
  }
}

Status Interpreter::Impl::PlanArena(const internal::Lifetimes& lt, const std::vector<int32_t>& alias) {
  internal::GreedyArenaPlanner planner;
  std::vector<int32_t> planned;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (lt.first[i] == internal::Lifetimes::kUnused || tensors[i].is_constant) continue;
    activation_bytes += tensors[i].bytes;
    if (alias[i] >= 0) continue;
    planned.push_back(static_cast<int32_t>(i));
    // XNNPACK's kernels may read up to XNN_EXTRA_BYTES past a tensor's end.
    planner.AddBuffer(tensors[i].bytes + kXnnExtraBytes + kRedZoneBytes, lt.first[i], lt.last[i]);
  }
  arena_bytes = planner.GetMaximumMemorySize();
  if (arena_bytes > kMaxArenaBytes) {
    return Status::Error("the tensor arena needs " + std::to_string(arena_bytes) +
                         " bytes, more than the limit of " + std::to_string(kMaxArenaBytes) + " (256 MiB)");
  }
  const size_t alloc = std::max<size_t>(64, (arena_bytes + 63) / 64 * 64);
  arena = static_cast<uint8_t*>(std::aligned_alloc(64, alloc));
  if (arena == nullptr) return Status::Error("cannot allocate the " + std::to_string(alloc) + "-byte tensor arena");
  std::memset(arena, 0, alloc);
  for (size_t k = 0; k < planned.size(); ++k) {
    tensors[static_cast<size_t>(planned[k])].data = arena + planner.GetOffsetForBuffer(k);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    size_t root = i;
    while (alias[root] >= 0) root = static_cast<size_t>(alias[root]);
    if (root != i) tensors[i].data = tensors[root].data;
  }
#ifdef LOOKOUT_ASAN
  ASAN_POISON_MEMORY_REGION(arena, alloc);
  for (const Tensor& t : tensors) {
    if (!t.is_constant && t.data != nullptr) ASAN_UNPOISON_MEMORY_REGION(t.data, t.bytes + kXnnExtraBytes);
  }
#endif
  return {};
}

Status Interpreter::Impl::SetupKernels() {
  for (Node& node : nodes) {
    if (Status st = node.kernel->Setup(); !st.ok()) {
      return Status::Error("node " + std::to_string(node.index) + " (" + node.op_name + "): " + st.message());
    }
  }
  return {};
}

std::vector<std::string> UnsupportedOperators(const Model& model) {
  std::vector<std::string> problems;
  const tflite::Model* root = internal::ModelAccess::Root(model);
  const auto* ops = root->subgraphs()->Get(0)->operators();
  const size_t num_ops = ops ? ops->size() : 0;
  for (size_t n = 0; n < num_ops; ++n) {
    const auto* oc = root->operator_codes()->Get(ops->Get(static_cast<flatbuffers::uoffset_t>(n))->opcode_index());
    const int32_t code = std::max<int32_t>(oc->builtin_code(), oc->deprecated_builtin_code());
    auto kernel = internal::CreateKernel(static_cast<internal::BuiltinOperator>(code), oc->version());
    if (!kernel.ok()) {
      problems.push_back("node " + std::to_string(n) + " (" + BuiltinOperatorName(code) + "): " + kernel.status().message());
    }
  }
  return problems;
}

Interpreter::Interpreter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Interpreter::~Interpreter() = default;

Result<std::unique_ptr<Interpreter>> Interpreter::Create(std::shared_ptr<const Model> model,
                                                         const InterpreterOptions& options) {
  if (model == nullptr) return Status::Error("no model");
  if (options.num_threads < 1) return Status::Error("num_threads must be >= 1");
  auto impl = std::make_unique<Impl>();
  impl->model = std::move(model);
  impl->options = options;
  LOOKOUT_RETURN_IF_ERROR(impl->Build());
  return std::unique_ptr<Interpreter>(new Interpreter(std::move(impl)));
}

Status Interpreter::AllocateTensors() {
  if (impl_->allocated) return {};
  if (!impl_->allocate_error.ok()) return impl_->allocate_error;
  Status status = impl_->Allocate();
  if (!status.ok()) impl_->allocate_error = status;
  return status;
}

namespace {

// A node's Eval(), its error prefixed as Prepare()'s are: "node N (OP): ".
Status EvalNode(Node& node) {
  Status status = node.kernel->Eval();
  if (status.ok()) return status;
  return Status::Error("node " + std::to_string(node.index) + " (" + node.op_name + "): " + status.message());
}

}  // namespace

std::unique_ptr<internal::OpKernel> internal::InterpreterTesting::ReplaceKernel(Interpreter& interpreter, size_t index,
                                                                               std::unique_ptr<OpKernel> kernel) {
  if (index >= interpreter.impl_->nodes.size()) return nullptr;
  std::swap(interpreter.impl_->nodes[index].kernel, kernel);
  return kernel;
}

Status Interpreter::Invoke() {
  if (!impl_->allocated) return Status::Error("Invoke() called before AllocateTensors()");
  for (Node& node : impl_->nodes) LOOKOUT_RETURN_IF_ERROR(EvalNode(node));
  return {};
}

Status Interpreter::InvokeProfiled(std::span<int64_t> node_ns) {
  if (!impl_->allocated) return Status::Error("Invoke() called before AllocateTensors()");
  if (node_ns.size() != impl_->nodes.size()) return Status::Error("node_ns must have node_count() entries");
  for (Node& node : impl_->nodes) {
    const auto start = std::chrono::steady_clock::now();
    LOOKOUT_RETURN_IF_ERROR(EvalNode(node));
    node_ns[static_cast<size_t>(node.index)] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  }
  return {};
}

size_t Interpreter::input_count() const { return impl_->inputs.size(); }
size_t Interpreter::output_count() const { return impl_->outputs.size(); }
const TensorDetails& Interpreter::input_details(size_t i) const { return impl_->input_details.at(i); }
const TensorDetails& Interpreter::output_details(size_t i) const { return impl_->output_details.at(i); }

std::span<uint8_t> Interpreter::input_data(size_t i) {
  if (!impl_->allocated || i >= impl_->inputs.size()) return {};
  Tensor& t = impl_->tensors[static_cast<size_t>(impl_->inputs[i])];
  return {t.data, t.bytes};
}

std::span<const uint8_t> Interpreter::output_data(size_t i) const {
  if (!impl_->allocated || i >= impl_->outputs.size()) return {};
  const Tensor& t = impl_->tensors[static_cast<size_t>(impl_->outputs[i])];
  return {t.data, t.bytes};
}

size_t Interpreter::arena_bytes() const { return impl_->arena_bytes; }
size_t Interpreter::activation_bytes() const { return impl_->activation_bytes; }
size_t Interpreter::node_count() const { return impl_->nodes.size(); }
const NodeDetails& Interpreter::node_details(size_t i) const { return impl_->node_details.at(i); }
size_t Interpreter::tensor_count() const { return impl_->tensors.size(); }
TensorDetails Interpreter::tensor_details(int32_t index) const {
  if (index < 0 || static_cast<size_t>(index) >= impl_->tensors.size()) return {};
  return impl_->Details(index);
}
uint64_t Interpreter::parameter_count() const {
  uint64_t n = 0;
  for (const Tensor& t : impl_->tensors) {
    if (t.is_constant) n += t.elements;
  }
  return n;
}
const InterpreterOptions& Interpreter::options() const { return impl_->options; }

}  // namespace lookout::runtime
