// Lookup-table kernels for 8-bit element-wise ops. An op whose output
// element depends only on the matching input element, with per-tensor
// quantization, is a function of one byte: the node's own reference kernel
// is run once over all 256 input values at Prepare, and Eval is one table
// load per element. Exact by construction, and several times faster than
// the fixed-point arithmetic it replaces (HARD_SWISH in particular).
#include <array>
#include <memory>
#include <vector>

#include "kernels/reference/softmax.h"
#include "src/graph.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

bool IsElementwise8Bit(int32_t op_code) {
  return op_code == 117 /* HARD_SWISH */ || op_code == 114 /* QUANTIZE */;
}

class LutKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    in_ = ctx.input(0);
    out_ = ctx.output(0);
    // A one-node graph over the 256 byte values, with the node's types and
    // quantization.
    std::array<uint8_t, 256> in_bytes{}, out_bytes{};
    std::vector<Tensor> tensors(2);
    tensors[0] = *in_;
    tensors[1] = *out_;
    for (Tensor& t : tensors) {
      t.shape = {256};
      t.elements = t.bytes = 256;
      t.is_constant = false;
    }
    tensors[0].data = in_bytes.data();
    tensors[1].data = out_bytes.data();
    for (int v = 0; v < 256; ++v) in_bytes[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
    Node node;
    node.index = ctx.node().index;
    node.op_code = ctx.node().op_code;
    node.version = ctx.node().version;
    node.op_name = ctx.node().op_name;
    node.op = ctx.op();
    node.inputs = {0};
    node.outputs = {1};
    auto kernel = CreateKernel(node.op_code, node.version);
    if (!kernel.ok()) return kernel.status();
    KernelContext table_ctx(node, tensors);
    LOOKOUT_RETURN_IF_ERROR(kernel.value()->Prepare(table_ctx));
    kernel.value()->Eval();
    // Indexed by the input's raw byte, whether it holds a uint8 or an int8.
    table_ = out_bytes;
    return {};
  }

  void Eval() override {
    const uint8_t* in = in_->data;
    uint8_t* out = out_->data;
    const size_t n = in_->elements;
    for (size_t i = 0; i < n; ++i) out[i] = table_[in[i]];
  }
  const char* backend() const override { return "lut"; }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  std::array<uint8_t, 256> table_{};
};

// SOFTMAX: each element's exp term depends only on its distance below the
// row maximum (0..255), so the fixed-point exp is tabulated once.
class SoftmaxLutKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    in_ = ctx.input(0);
    out_ = ctx.output(0);
    const auto* options = ctx.op()->builtin_options_as_SoftmaxOptions();
    const float beta = options != nullptr ? options->beta() : 1.0f;
    reference::SoftmaxParams p;
    if (!reference::PrepareSoftmax(static_cast<double>(beta), static_cast<double>(in_->scale), &p)) {
      return ctx.Error("beta %g with input scale %g cannot be represented", beta, in_->scale);
    }
    reference::BuildSoftmaxTables(p, &tables_);
    depth_ = in_->shape.back();
    outer_ = depth_ > 0 ? static_cast<int32_t>(in_->elements / static_cast<size_t>(depth_)) : 0;
    return {};
  }
  void Eval() override {
    if (in_->type == DataType::kUInt8) {
      reference::SoftmaxUInt8(tables_, outer_, depth_, in_->data_as<uint8_t>(), out_->data_as<uint8_t>());
    } else {
      reference::SoftmaxInt8(tables_, outer_, depth_, in_->data_as<int8_t>(), out_->data_as<int8_t>());
    }
  }
  const char* backend() const override { return "lut"; }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  reference::SoftmaxTables tables_;
  int32_t outer_ = 0, depth_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeLutKernel(KernelContext& ctx) {
  if (ctx.node().op_code == 25 /* SOFTMAX */) {
    auto kernel = std::make_unique<SoftmaxLutKernel>();
    if (!kernel->Prepare(ctx).ok()) return nullptr;
    return kernel;
  }
  if (!IsElementwise8Bit(ctx.node().op_code)) return nullptr;
  const Tensor* in = ctx.input(0);
  const Tensor* out = ctx.output(0);
  if (in == nullptr || out == nullptr || ctx.num_inputs() != 1) return nullptr;
  const auto is8 = [](const Tensor& t) {
    return (t.type == DataType::kUInt8 || t.type == DataType::kInt8) && t.quantization.scale.size() == 1;
  };
  if (!is8(*in) || !is8(*out) || in->elements != out->elements) return nullptr;
  auto kernel = std::make_unique<LutKernel>();
  if (!kernel->Prepare(ctx).ok()) return nullptr;
  return kernel;
}

}  // namespace lookout::runtime::internal
