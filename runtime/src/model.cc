#include "lookout/runtime/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "lookout/runtime/tensor.h"
#include "src/model_access.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime {
namespace {

// Files above this size are refused: MobileNet-class models are a few MB.
constexpr size_t kMaxModelBytes = size_t{1} << 30;
// Caps that keep a hostile file from asking for absurd work or memory
// (MobileNet-class tensors are a few MB; interpreter.cc caps the arena and the
// work per node).
constexpr size_t kMaxTensorBytes = size_t{256} << 20;
constexpr int kMaxRank = 6;

std::string TensorLabel(size_t index, const tflite::Tensor* t) {
  std::string label = "tensor " + std::to_string(index);
  if (t != nullptr && t->name() != nullptr) label += " '" + t->name()->str() + "'";
  return label;
}

Status CheckQuantization(size_t index, const tflite::Tensor* t, const std::vector<int32_t>& shape) {
  const auto* q = t->quantization();
  if (q == nullptr) return {};
  // The verifier checks a vector's 4-byte length field, not that 8-byte
  // elements are 8-byte aligned; reading them misaligned is undefined.
  if (q->zero_point() != nullptr &&
      reinterpret_cast<uintptr_t>(q->zero_point()->Data()) % alignof(int64_t) != 0) {
    return Status::Error(TensorLabel(index, t) + ": quantization zero_point array is not 8-byte aligned");
  }
  if (q->details_type() != tflite::QuantizationDetails::NONE) {
    return Status::Error(TensorLabel(index, t) + ": custom quantization details are not supported");
  }
  const size_t scales = q->scale() ? q->scale()->size() : 0;
  const size_t zero_points = q->zero_point() ? q->zero_point()->size() : 0;
  if (scales == 0 && zero_points == 0) return {};
  if (scales != zero_points) {
    return Status::Error(TensorLabel(index, t) + ": quantization has " + std::to_string(scales) +
                         " scales but " + std::to_string(zero_points) + " zero_points");
  }
  const int32_t qdim = q->quantized_dimension();
  if (scales > 1) {
    if (qdim < 0 || static_cast<size_t>(qdim) >= shape.size()) {
      return Status::Error(TensorLabel(index, t) + ": quantized_dimension " + std::to_string(qdim) +
                           " out of range for rank " + std::to_string(shape.size()));
    }
    if (static_cast<size_t>(shape[static_cast<size_t>(qdim)]) != scales) {
      return Status::Error(TensorLabel(index, t) + ": " + std::to_string(scales) +
                           " scales, but dimension " + std::to_string(qdim) + " has " +
                           std::to_string(shape[static_cast<size_t>(qdim)]) + " entries");
    }
  }
  for (size_t i = 0; i < scales; ++i) {
    const float s = q->scale()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (!std::isfinite(s) || !(s > 0.0f)) {
      return Status::Error(TensorLabel(index, t) + ": scale[" + std::to_string(i) + "] = " +
                           std::to_string(s) + " is not a positive finite number");
    }
    const int64_t zp = q->zero_point()->Get(static_cast<flatbuffers::uoffset_t>(i));
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    if (t->type() == tflite::TensorType::UINT8) lo = 0, hi = 255;
    if (t->type() == tflite::TensorType::INT8) lo = -128, hi = 127;
    if (t->type() == tflite::TensorType::INT16) lo = -32768, hi = 32767;
    if (zp < lo || zp > hi) {
      return Status::Error(TensorLabel(index, t) + ": zero_point[" + std::to_string(i) + "] = " +
                           std::to_string(zp) + " outside the type's range");
    }
  }
  return {};
}

}  // namespace

std::string BuiltinOperatorName(int32_t code) {
  static const char* const kNames[] = {
      "ADD",
      "AVERAGE_POOL_2D",
      "CONCATENATION",
      "CONV_2D",
      "DEPTHWISE_CONV_2D",
      "DEPTH_TO_SPACE",
      "DEQUANTIZE",
      "EMBEDDING_LOOKUP",
      "FLOOR",
      "FULLY_CONNECTED",
      "HASHTABLE_LOOKUP",
      "L2_NORMALIZATION",
      "L2_POOL_2D",
      "LOCAL_RESPONSE_NORMALIZATION",
      "LOGISTIC",
      "LSH_PROJECTION",
      "LSTM",
      "MAX_POOL_2D",
      "MUL",
      "RELU",
      "RELU_N1_TO_1",
      "RELU6",
      "RESHAPE",
      "RESIZE_BILINEAR",
      "RNN",
      "SOFTMAX",
      "SPACE_TO_DEPTH",
      "SVDF",
      "TANH",
      "CONCAT_EMBEDDINGS",
      "SKIP_GRAM",
      "CALL",
      "CUSTOM",
      "EMBEDDING_LOOKUP_SPARSE",
      "PAD",
      "UNIDIRECTIONAL_SEQUENCE_RNN",
      "GATHER",
      "BATCH_TO_SPACE_ND",
      "SPACE_TO_BATCH_ND",
      "TRANSPOSE",
      "MEAN",
      "SUB",
      "DIV",
      "SQUEEZE",
      "UNIDIRECTIONAL_SEQUENCE_LSTM",
      "STRIDED_SLICE",
      "BIDIRECTIONAL_SEQUENCE_RNN",
      "EXP",
      "TOPK_V2",
      "SPLIT",
      "LOG_SOFTMAX",
      "DELEGATE",
      "BIDIRECTIONAL_SEQUENCE_LSTM",
      "CAST",
      "PRELU",
      "MAXIMUM",
      "ARG_MAX",
      "MINIMUM",
      "LESS",
      "NEG",
      "PADV2",
      "GREATER",
      "GREATER_EQUAL",
      "LESS_EQUAL",
      "SELECT",
      "SLICE",
      "SIN",
      "TRANSPOSE_CONV",
      "SPARSE_TO_DENSE",
      "TILE",
      "EXPAND_DIMS",
      "EQUAL",
      "NOT_EQUAL",
      "LOG",
      "SUM",
      "SQRT",
      "RSQRT",
      "SHAPE",
      "POW",
      "ARG_MIN",
      "FAKE_QUANT",
      "REDUCE_PROD",
      "REDUCE_MAX",
      "PACK",
      "LOGICAL_OR",
      "ONE_HOT",
      "LOGICAL_AND",
      "LOGICAL_NOT",
      "UNPACK",
      "REDUCE_MIN",
      "FLOOR_DIV",
      "REDUCE_ANY",
      "SQUARE",
      "ZEROS_LIKE",
      "FILL",
      "FLOOR_MOD",
      "RANGE",
      "RESIZE_NEAREST_NEIGHBOR",
      "LEAKY_RELU",
      "SQUARED_DIFFERENCE",
      "MIRROR_PAD",
      "ABS",
      "SPLIT_V",
      "UNIQUE",
      "CEIL",
      "REVERSE_V2",
      "ADD_N",
      "GATHER_ND",
      "COS",
      "WHERE",
      "RANK",
      "ELU",
      "REVERSE_SEQUENCE",
      "MATRIX_DIAG",
      "QUANTIZE",
      "MATRIX_SET_DIAG",
      "ROUND",
      "HARD_SWISH",
      "IF",
      "WHILE",
      "NON_MAX_SUPPRESSION_V4",
      "NON_MAX_SUPPRESSION_V5",
      "SCATTER_ND",
      "SELECT_V2",
      "DENSIFY",
      "SEGMENT_SUM",
      "BATCH_MATMUL"};
  constexpr int32_t kCount = static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]));
  if (code >= 0 && code < kCount) return kNames[code];
  return "BUILTIN_" + std::to_string(code);
}

Model::~Model() {
  if (mapping_ != nullptr) munmap(mapping_, size_);
}

Result<std::shared_ptr<const Model>> Model::FromFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open model '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::Error("model '" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    close(fd);
    return Status::Error("model '" + path + "' is " + std::to_string(size) +
                         " bytes: too small to be a TFLite flatbuffer");
  }
  if (size > kMaxModelBytes) {
    close(fd);
    return Status::Error("model '" + path + "' is larger than 1 GiB");
  }
  void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return Status::Error("cannot map model '" + path + "': " + std::strerror(errno));
  std::shared_ptr<Model> model(new Model());
  model->mapping_ = base;
  model->data_ = static_cast<const uint8_t*>(base);
  model->size_ = size;
  auto verified = Verify(std::move(model));
  if (!verified.ok()) return Status::Error("model '" + path + "': " + verified.status().message());
  return verified;
}

Result<std::shared_ptr<const Model>> Model::FromBuffer(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) {
    return Status::Error("model buffer is " + std::to_string(bytes.size()) +
                         " bytes: too small to be a TFLite flatbuffer");
  }
  if (bytes.size() > kMaxModelBytes) return Status::Error("model buffer is larger than 1 GiB");
  std::shared_ptr<Model> model(new Model());
  model->owned_.assign(bytes.begin(), bytes.end());
  model->data_ = model->owned_.data();
  model->size_ = model->owned_.size();
  return Verify(std::move(model));
}

std::string Model::description() const {
  const auto* root = internal::ModelAccess::Root(*this);
  return root->description() ? root->description()->str() : std::string();
}

uint32_t Model::schema_version() const { return internal::ModelAccess::Root(*this)->version(); }

Result<std::shared_ptr<const Model>> Model::Verify(std::shared_ptr<Model> model) {
  if (!flatbuffers::BufferHasIdentifier(model->data_, tflite::ModelIdentifier())) {
    return Status::Error("not a TFLite model: file identifier is not \"TFL3\"");
  }
  flatbuffers::Verifier::Options options;
  options.max_depth = 64;
  options.max_tables = 10'000'000;
  flatbuffers::Verifier verifier(model->data_, model->size_, options);
  if (!tflite::VerifyModelBuffer(verifier)) {
    return Status::Error("flatbuffer verification failed: the file is truncated or corrupt");
  }
  const tflite::Model* root = tflite::GetModel(model->data_);
  if (root->version() != 3) {
    return Status::Error("schema version " + std::to_string(root->version()) + ", expected 3");
  }
  const auto* subgraphs = root->subgraphs();
  if (subgraphs == nullptr || subgraphs->size() == 0) return Status::Error("the model has no subgraph");
  if (subgraphs->size() > 1) {
    return Status::Error("the model has " + std::to_string(subgraphs->size()) +
                         " subgraphs; Lookout runs single-subgraph models only");
  }
  const auto* buffers = root->buffers();
  const size_t num_buffers = buffers ? buffers->size() : 0;
  for (size_t i = 0; i < num_buffers; ++i) {
    const auto* b = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (b != nullptr && (b->offset() > 1 || b->size() > 1)) {
      return Status::Error("buffer " + std::to_string(i) +
                           " stores its data outside the flatbuffer (offset/size); not supported");
    }
  }
  const auto* opcodes = root->operator_codes();
  const size_t num_opcodes = opcodes ? opcodes->size() : 0;
  const auto* sg = subgraphs->Get(0);
  const auto* tensors = sg->tensors();
  const size_t num_tensors = tensors ? tensors->size() : 0;
  if (num_tensors == 0) return Status::Error("subgraph 0 has no tensors");

  for (size_t i = 0; i < num_tensors; ++i) {
    const auto* t = tensors->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t == nullptr) return Status::Error("tensor " + std::to_string(i) + " is missing");
    if (t->sparsity() != nullptr) return Status::Error(TensorLabel(i, t) + ": sparse tensors are not supported");
    if (t->is_variable()) return Status::Error(TensorLabel(i, t) + ": variable tensors are not supported");
    const auto type = static_cast<DataType>(t->type());
    const size_t element_size = (static_cast<int>(t->type()) >= 0 && static_cast<int>(t->type()) <= 10)
                                    ? DataTypeSize(type) : 0;
    if (element_size == 0) {
      return Status::Error(TensorLabel(i, t) + ": tensor type " +
                           std::to_string(static_cast<int>(t->type())) + " is not supported");
    }
    std::vector<int32_t> shape;
    if (t->shape() != nullptr) shape.assign(t->shape()->begin(), t->shape()->end());
    if (shape.size() > static_cast<size_t>(kMaxRank)) {
      return Status::Error(TensorLabel(i, t) + ": rank " + std::to_string(shape.size()) + " exceeds 6");
    }
    // `extent` counts a 0 dimension as 1: kernels still loop over the other
    // dimensions of an empty tensor, so those are held to the same cap.
    size_t elements = 1, extent = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) {
        return Status::Error(TensorLabel(i, t) + ": dimension " + std::to_string(d) + " is " +
                             std::to_string(shape[d]) + " (dynamic shapes are not supported)");
      }
      elements *= static_cast<size_t>(shape[d]);
      extent *= static_cast<size_t>(std::max(shape[d], 1));
      if (extent * element_size > kMaxTensorBytes) {
        std::string dims;
        for (int32_t v : shape) dims += (dims.empty() ? "" : ",") + std::to_string(v);
        return Status::Error(TensorLabel(i, t) + ": shape [" + dims +
                             "] exceeds the 256 MiB limit of one tensor (a 0 dimension counts as 1)");
      }
    }
    if (t->buffer() >= num_buffers) {
      return Status::Error(TensorLabel(i, t) + ": buffer index " + std::to_string(t->buffer()) +
                           " out of range (" + std::to_string(num_buffers) + " buffers)");
    }
    const auto* b = buffers->Get(t->buffer());
    const size_t data_bytes = (b != nullptr && b->data() != nullptr) ? b->data()->size() : 0;
    if (data_bytes != 0 && data_bytes != elements * element_size) {
      return Status::Error(TensorLabel(i, t) + ": buffer " + std::to_string(t->buffer()) + " holds " +
                           std::to_string(data_bytes) + " bytes, shape " + std::to_string(elements) +
                           " x " + std::to_string(element_size) + " needs " +
                           std::to_string(elements * element_size));
    }
    LOOKOUT_RETURN_IF_ERROR(CheckQuantization(i, t, shape));
  }

  auto check_indices = [&](const flatbuffers::Vector<int32_t>* list, const std::string& what,
                           bool allow_absent) -> Status {
    if (list == nullptr) return {};
    for (size_t k = 0; k < list->size(); ++k) {
      const int32_t idx = list->Get(static_cast<flatbuffers::uoffset_t>(k));
      if (allow_absent && idx == -1) continue;
      if (idx < 0 || static_cast<size_t>(idx) >= num_tensors) {
        return Status::Error(what + " [" + std::to_string(k) + "] = tensor index " + std::to_string(idx) +
                             " out of range (" + std::to_string(num_tensors) + " tensors)");
      }
    }
    return {};
  };
  if (sg->inputs() == nullptr || sg->inputs()->size() == 0) return Status::Error("subgraph 0 has no inputs");
  if (sg->outputs() == nullptr || sg->outputs()->size() == 0) return Status::Error("subgraph 0 has no outputs");
  LOOKOUT_RETURN_IF_ERROR(check_indices(sg->inputs(), "subgraph input", false));
  LOOKOUT_RETURN_IF_ERROR(check_indices(sg->outputs(), "subgraph output", false));

  const auto* ops = sg->operators();
  const size_t num_ops = ops ? ops->size() : 0;
  for (size_t n = 0; n < num_ops; ++n) {
    const auto* op = ops->Get(static_cast<flatbuffers::uoffset_t>(n));
    const std::string node = "node " + std::to_string(n);
    if (op == nullptr) return Status::Error(node + " is missing");
    if (op->opcode_index() >= num_opcodes) {
      return Status::Error(node + ": opcode_index " + std::to_string(op->opcode_index()) +
                           " out of range (" + std::to_string(num_opcodes) + " operator codes)");
    }
    const auto* oc = opcodes->Get(op->opcode_index());
    const int32_t code = std::max<int32_t>(oc->builtin_code(), oc->deprecated_builtin_code());
    const std::string label = node + " (" + BuiltinOperatorName(code) + ")";
    if (code == 32) {  // CUSTOM
      const std::string custom = oc->custom_code() ? oc->custom_code()->str() : "";
      if (custom.find("edgetpu") != std::string::npos) {
        return Status::Error(label + ": custom op '" + custom +
                             "': this model is compiled for the Edge TPU; use the CPU .tflite");
      }
      return Status::Error(label + ": custom op '" + custom + "' is not supported");
    }
    LOOKOUT_RETURN_IF_ERROR(check_indices(op->inputs(), label + ": input", true));
    LOOKOUT_RETURN_IF_ERROR(check_indices(op->outputs(), label + ": output", false));
    if (op->outputs() == nullptr || op->outputs()->size() == 0) return Status::Error(label + ": no outputs");
    if (op->intermediates() != nullptr && op->intermediates()->size() != 0) {
      return Status::Error(label + ": intermediate tensors are not supported");
    }
  }
  model->root_ = root;
  return std::shared_ptr<const Model>(std::move(model));
}

}  // namespace lookout::runtime
