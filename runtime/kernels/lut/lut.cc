// Lookup-table kernels for 8-bit element-wise ops. An op whose output
// element depends only on the matching input element, with per-tensor
// quantization (HARD_SWISH, QUANTIZE, ADD or MUL with a constant scalar), is
// a function of one byte: the node's own reference kernel
// is run once over all 256 input values at Prepare, and Eval is one table
// load per element. Exact by construction, and several times faster than
// the fixed-point arithmetic it replaces (HARD_SWISH in particular).
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/lut/lut.h"
#include "kernels/reference/softmax.h"
#include "src/graph.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

bool IsElementwise8Bit(BuiltinOperator op_code) {
  return op_code == BuiltinOperator::kHardSwish || op_code == BuiltinOperator::kQuantize;
}

bool IsBinary(BuiltinOperator op_code) { return op_code == BuiltinOperator::kAdd || op_code == BuiltinOperator::kMul; }

#if defined(__x86_64__)
// 64 lookups at a time: two 128-byte permutes (VBMI) over the table's halves,
// picked by each index's top bit. In place (out == in) is fine.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void LookupVbmi(const uint8_t* table, const uint8_t* in,
                                                                      uint8_t* out, size_t n) {
  const __m512i t0 = _mm512_loadu_si512(table);
  const __m512i t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128);
  const __m512i t3 = _mm512_loadu_si512(table + 192);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i idx = _mm512_loadu_si512(in + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_storeu_si512(out + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
  }
  if (i < n) {
    const __mmask64 m = (~uint64_t{0}) >> (64 - (n - i));
    const __m512i idx = _mm512_maskz_loadu_epi8(m, in + i);
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_mask_storeu_epi8(out + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
  }
}
#endif

#if defined(__aarch64__)
// 16 lookups at a time: tbl over the table's first 64 bytes, then tbx over
// each further 64 with the indices lowered by 64 (tbx keeps the lane where
// the index is out of range, and indices below wrap out of range). About
// 0.7 instructions per byte instead of a scalar load and store per byte.
// In place (out == in) is fine.
void LookupNeon(const uint8_t* table, const uint8_t* in, uint8_t* out, size_t n) {
  const uint8x16x4_t t0 = vld1q_u8_x4(table), t1 = vld1q_u8_x4(table + 64), t2 = vld1q_u8_x4(table + 128),
                     t3 = vld1q_u8_x4(table + 192);
  const uint8x16_t k64 = vdupq_n_u8(64);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint8x16_t idx = vld1q_u8(in + i);
    uint8x16_t r = vqtbl4q_u8(t0, idx);
    idx = vsubq_u8(idx, k64);
    r = vqtbx4q_u8(r, t1, idx);
    idx = vsubq_u8(idx, k64);
    r = vqtbx4q_u8(r, t2, idx);
    idx = vsubq_u8(idx, k64);
    r = vqtbx4q_u8(r, t3, idx);
    vst1q_u8(out + i, r);
  }
  for (; i < n; ++i) out[i] = table[in[i]];
}
#endif

class LutKernel : public OpKernel {
 public:
  explicit LutKernel(bool vbmi) : vbmi_(vbmi) {}
  Status Prepare(KernelContext&) override { return {}; }  // done by the overload below

  // `variable`: the input that varies; a binary op's other input is a
  // constant scalar (`constant`, else null).
  Status Prepare(KernelContext& ctx, Tensor* variable, const Tensor* constant, size_t constant_slot) {
    in_ = variable;
    out_ = ctx.output(0);
    // A one-node graph over the 256 byte values, with the node's types and
    // quantization.
    std::array<uint8_t, 256> in_bytes{}, out_bytes{};
    std::vector<Tensor> tensors(constant != nullptr ? 3 : 2);
    tensors[0] = *in_;
    tensors[1] = *out_;
    for (Tensor& t : tensors) {
      t.shape = {256};
      t.elements = t.bytes = 256;
      t.is_constant = false;
    }
    tensors[0].data = in_bytes.data();
    tensors[1].data = out_bytes.data();
    if (constant != nullptr) tensors[2] = *constant;
    for (int v = 0; v < 256; ++v) in_bytes[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
    Node node;
    node.index = ctx.node().index;
    node.op_code = ctx.node().op_code;
    node.version = ctx.node().version;
    node.op_name = ctx.node().op_name;
    node.op = ctx.op();
    node.inputs = {0};
    if (constant != nullptr) node.inputs = constant_slot == 0 ? std::vector<int32_t>{2, 0} : std::vector<int32_t>{0, 2};
    node.outputs = {1};
    auto kernel = CreateKernel(node.op_code, node.version);
    if (!kernel.ok()) return kernel.status();
    KernelContext table_ctx(node, tensors);
    LOOKOUT_RETURN_IF_ERROR(kernel.value()->Prepare(table_ctx));
    LOOKOUT_RETURN_IF_ERROR(kernel.value()->Eval());
    // Indexed by the input's raw byte, whether it holds a uint8 or an int8.
    table_ = out_bytes;
    return {};
  }

  Status Eval() override {
#if defined(__x86_64__)
    if (vbmi_) {
      LookupVbmi(table_.data(), in_->data, out_->data, in_->elements);
      return {};
    }
#elif defined(__aarch64__)
    LookupNeon(table_.data(), in_->data, out_->data, in_->elements);
    return {};
#endif
    const uint8_t* in = in_->data;
    uint8_t* out = out_->data;
    const size_t n = in_->elements;
    // A copy on the stack: where the kernel object lands on the heap then
    // no longer matters. At some heap addresses the table's loads collided
    // with the output's stores (the low address bits an AMD EPYC compares),
    // and this loop ran 1.4x slower.
    alignas(64) uint8_t table[256];
    std::memcpy(table, table_.data(), sizeof(table));
    for (size_t i = 0; i < n; ++i) out[i] = table[in[i]];
    return {};
  }
  KernelFamily family() const override { return KernelFamily::kLookupTable; }
  bool runs_in_place() const override { return true; }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  alignas(64) std::array<uint8_t, 256> table_{};
  bool vbmi_ = false;  // x86-64 with AVX-512 VBMI: 64 lookups per permute pair
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
  Status Eval() override {
    if (in_->type == DataType::kUInt8) {
      reference::SoftmaxUInt8(tables_, outer_, depth_, in_->data_as<uint8_t>(), out_->data_as<uint8_t>());
    } else {
      reference::SoftmaxInt8(tables_, outer_, depth_, in_->data_as<int8_t>(), out_->data_as<int8_t>());
    }
    return {};
  }
  KernelFamily family() const override { return KernelFamily::kLookupTable; }
  bool runs_in_place() const override { return true; }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  reference::SoftmaxTables tables_;
  int32_t outer_ = 0, depth_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeLutKernel(KernelContext& ctx, const KernelEnvironment& env) {
  if (ctx.node().op_code == BuiltinOperator::kSoftmax) {
    auto kernel = std::make_unique<SoftmaxLutKernel>();
    if (!kernel->Prepare(ctx).ok()) return nullptr;
    return kernel;
  }
  const auto is8 = [](const Tensor* t) {
    return t != nullptr && (t->type == DataType::kUInt8 || t->type == DataType::kInt8) &&
           t->quantization.scale.size() == 1;
  };
  Tensor* out = ctx.output(0);
  Tensor* variable = nullptr;
  const Tensor* constant = nullptr;
  size_t constant_slot = 0;
  if (IsElementwise8Bit(ctx.node().op_code) && ctx.num_inputs() == 1) {
    variable = ctx.input(0);
  } else if (IsBinary(ctx.node().op_code) && ctx.num_inputs() == 2) {
    // x op c with c a constant scalar is a function of x alone.
    for (size_t k = 0; k < 2; ++k) {
      Tensor* a = ctx.input(k);
      Tensor* b = ctx.input(1 - k);
      if (a != nullptr && b != nullptr && !a->is_constant && b->is_constant && b->elements == 1) {
        variable = a;
        constant = b;
        constant_slot = 1 - k;
      }
    }
  }
  if (!is8(variable) || !is8(out) || variable->elements != out->elements) return nullptr;
  if (constant != nullptr && !is8(constant)) return nullptr;
  auto kernel = std::make_unique<LutKernel>(env.cpu->avx512vbmi && env.cpu->avx512bw);
  if (!kernel->Prepare(ctx, variable, constant, constant_slot).ok()) return nullptr;
  return kernel;
}

}  // namespace lookout::runtime::internal
