// Model: a .tflite flatbuffer, mapped read-only and checked before use.
//
// A model file is untrusted input. Load() runs flatbuffers::Verifier and then
// checks the semantics the interpreter relies on: exactly one subgraph, every
// tensor/buffer/opcode index in range, constant buffer sizes equal to
// shape × element size, quantization arrays consistent with
// quantized_dimension. Any failure is an error Status naming the tensor, node
// or field; loading never crashes and never reads outside the file.
#ifndef LOOKOUT_RUNTIME_MODEL_H_
#define LOOKOUT_RUNTIME_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lookout/runtime/status.h"

namespace lookout::runtime {

namespace internal {
struct ModelAccess;
}  // namespace internal

/// A verified, immutable .tflite model. Thread-compatible: any number of
/// interpreters may share one Model (hold it by shared_ptr).
class Model {
 public:
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// Maps the file at `path` read-only (mmap; not copied) and verifies it.
  static Result<std::shared_ptr<const Model>> FromFile(const std::string& path);
  /// Copies `bytes` and verifies them.
  static Result<std::shared_ptr<const Model>> FromBuffer(std::span<const uint8_t> bytes);

  /// The model's `description` string (may be empty).
  std::string description() const;
  /// Schema version the file declares (3 for current TFLite files).
  uint32_t schema_version() const;
  /// The raw flatbuffer bytes.
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  friend struct internal::ModelAccess;  // the verified flatbuffer root, for the interpreter
  Model() = default;
  static Result<std::shared_ptr<const Model>> Verify(std::shared_ptr<Model> model);

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;        // mmap base when mapped from a file.
  std::vector<uint8_t> owned_;     // the copy when built from a buffer.
  const void* root_ = nullptr;     // the verified tflite::Model table (src/model_access.h)
};

/// TFLite's name of a builtin operator code ("CONV_2D"); "BUILTIN_<n>" when
/// unknown.
std::string BuiltinOperatorName(int32_t code);

}  // namespace lookout::runtime

#endif  // LOOKOUT_RUNTIME_MODEL_H_
