// RESHAPE, TRANSPOSE and PAD: data movement, any element type of fixed size.
#include <array>
#include <cstring>
#include <memory>

#include "kernels/kernel_util.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {
namespace {

Status CheckSameQuantization(const KernelContext& ctx, const Tensor& in, const Tensor& out) {
  LOOKOUT_RETURN_IF_ERROR(ctx.CheckSameType(in, "input", out, "output"));
  if (DataTypeSize(in.type) == 0) {
    return ctx.Error("input type %s is not supported", DataTypeName(in.type).c_str());
  }
  return {};
}

class ReshapeKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(1, 2, 1));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckSameQuantization(ctx, *in_, *out_));
    if (in_->bytes != out_->bytes) {
      return ctx.Error("output %s holds %zu bytes, input %s holds %zu", ShapeString(out_->shape).c_str(),
                       out_->bytes, ShapeString(in_->shape).c_str(), in_->bytes);
    }
    return {};
  }
  Status Eval() override {
    if (out_->data != in_->data) std::memmove(out_->data, in_->data, in_->bytes);
    return {};
  }
  bool runs_in_place() const override { return true; }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
};

class TransposeKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 2, 1));
    Tensor* perm = nullptr;
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "perm", &perm));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckSameQuantization(ctx, *in_, *out_));
    const size_t rank = in_->rank();
    if (rank < 1 || rank > 6) return ctx.Error("input rank %zu, expected 1..6", rank);
    if (perm->type != DataType::kInt32 || !perm->is_constant || perm->elements != rank) {
      return ctx.Error("perm tensor '%s' must be a constant INT32 vector of %zu elements",
                       perm->name.c_str(), rank);
    }
    std::vector<int32_t> out_shape(rank);
    std::vector<bool> seen(rank, false);
    perm_.resize(rank);
    for (size_t i = 0; i < rank; ++i) {
      int32_t p = ReadInt32(*perm, i);
      if (p < 0) p += static_cast<int32_t>(rank);
      if (p < 0 || p >= static_cast<int32_t>(rank) || seen[static_cast<size_t>(p)]) {
        return ctx.Error("perm[%zu] = %d is not a permutation of 0..%zu", i, ReadInt32(*perm, i), rank - 1);
      }
      seen[static_cast<size_t>(p)] = true;
      perm_[i] = p;
      out_shape[i] = in_->shape[static_cast<size_t>(p)];
    }
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", out_shape));
    // Input strides (in elements), listed in output-dimension order.
    std::vector<int64_t> in_strides(rank, 1);
    for (size_t i = rank - 1; i > 0; --i) in_strides[i - 1] = in_strides[i] * in_->shape[i];
    strides_.resize(rank);
    for (size_t i = 0; i < rank; ++i) strides_[i] = in_strides[static_cast<size_t>(perm_[i])];
    element_size_ = DataTypeSize(in_->type);
    if (element_size_ != 1 && element_size_ != 2 && element_size_ != 4 && element_size_ != 8) {
      return ctx.Error("input type %s is not supported", DataTypeName(in_->type).c_str());
    }
    return {};
  }
  Status Eval() override {
    switch (element_size_) {
      case 1: Run<uint8_t>(); break;
      case 2: Run<uint16_t>(); break;
      case 4: Run<uint32_t>(); break;
      default: Run<uint64_t>(); break;  // 8-byte types; Prepare admits no others
    }
    return {};
  }

 private:
  // Walks the output in order; the innermost output dimension is a strided
  // gather from the input.
  template <typename T>
  void Run() {
    const size_t rank = perm_.size();
    const T* in = reinterpret_cast<const T*>(in_->data);
    T* out = reinterpret_cast<T*>(out_->data);
    const int32_t inner = out_->shape[rank - 1];
    const int64_t inner_stride = strides_[rank - 1];
    const size_t outer = inner > 0 ? out_->elements / static_cast<size_t>(inner) : 0;
    std::array<int32_t, 6> index{};
    for (size_t n = 0; n < outer; ++n) {
      int64_t offset = 0;
      for (size_t d = 0; d + 1 < rank; ++d) offset += index[d] * strides_[d];
      const T* src = in + offset;
      for (int32_t k = 0; k < inner; ++k) *out++ = src[k * inner_stride];
      for (size_t d = rank - 1; d-- > 0;) {
        if (++index[d] < out_->shape[d]) break;
        index[d] = 0;
      }
    }
  }

  Tensor *in_ = nullptr, *out_ = nullptr;
  std::vector<int32_t> perm_;
  std::vector<int64_t> strides_;
  size_t element_size_ = 1;
};

class PadKernel : public OpKernel {
 public:
  Status Prepare(KernelContext& ctx) override {
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckArity(2, 2, 1));
    Tensor* paddings = nullptr;
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(0, "input", &in_));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireInput(1, "paddings", &paddings));
    LOOKOUT_RETURN_IF_ERROR(ctx.RequireOutput(0, &out_));
    LOOKOUT_RETURN_IF_ERROR(CheckSameQuantization(ctx, *in_, *out_));
    if (in_->type != DataType::kUInt8 && in_->type != DataType::kInt8) {
      return ctx.Error("input type %s is not supported (UINT8, INT8)", DataTypeName(in_->type).c_str());
    }
    const size_t rank = in_->rank();
    if (rank < 1 || rank > 4) return ctx.Error("input rank %zu, expected 1..4", rank);
    if (paddings->type != DataType::kInt32 || !paddings->is_constant || paddings->elements != rank * 2) {
      return ctx.Error("paddings tensor '%s' must be a constant INT32 [%zu, 2] tensor",
                       paddings->name.c_str(), rank);
    }
    // Right-align to 4-D.
    for (size_t i = 0; i < 4; ++i) {
      in_dims_[i] = 1;
      before_[i] = 0;
    }
    std::vector<int32_t> out_shape(rank);
    for (size_t i = 0; i < rank; ++i) {
      const int32_t lo = ReadInt32(*paddings, 2 * i), hi = ReadInt32(*paddings, 2 * i + 1);
      if (lo < 0 || hi < 0 || lo > 65536 || hi > 65536) {
        return ctx.Error("paddings[%zu] = [%d, %d] out of range [0, 65536]", i, lo, hi);
      }
      out_shape[i] = in_->shape[i] + lo + hi;
      in_dims_[4 - rank + i] = in_->shape[i];
      before_[4 - rank + i] = lo;
    }
    LOOKOUT_RETURN_IF_ERROR(ctx.CheckShape(*out_, "output", out_shape));
    for (size_t i = 0; i < 4; ++i) out_dims_[i] = 1;
    for (size_t i = 0; i < rank; ++i) out_dims_[4 - rank + i] = out_shape[i];
    pad_value_ = static_cast<uint8_t>(out_->zero_point);
    return {};
  }
  Status Eval() override {
    std::memset(out_->data, pad_value_, out_->bytes);
    const int64_t row = in_dims_[3];
    // Without padding on the last dimension, whole rows of the third are
    // contiguous on both sides: one copy per row of W × C.
    const bool merge = out_dims_[3] == in_dims_[3];
    const int32_t cols = merge ? 1 : in_dims_[2];
    const size_t copy = static_cast<size_t>(merge ? row * in_dims_[2] : row);
    for (int32_t a = 0; a < in_dims_[0]; ++a) {
      for (int32_t b = 0; b < in_dims_[1]; ++b) {
        for (int32_t c = 0; c < cols; ++c) {
          const int64_t src = ((static_cast<int64_t>(a) * in_dims_[1] + b) * in_dims_[2] + c) * row;
          const int64_t dst = ((static_cast<int64_t>(a + before_[0]) * out_dims_[1] + b + before_[1]) *
                                   out_dims_[2] + c + before_[2]) * out_dims_[3] + before_[3];
          std::memcpy(out_->data + dst, in_->data + src, copy);
        }
      }
    }
    return {};
  }

 private:
  Tensor *in_ = nullptr, *out_ = nullptr;
  int32_t in_dims_[4] = {}, out_dims_[4] = {}, before_[4] = {};
  uint8_t pad_value_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> MakeReshape() { return std::make_unique<ReshapeKernel>(); }
std::unique_ptr<OpKernel> MakeTranspose() { return std::make_unique<TransposeKernel>(); }
std::unique_ptr<OpKernel> MakePad() { return std::make_unique<PadKernel>(); }

}  // namespace lookout::runtime::internal
