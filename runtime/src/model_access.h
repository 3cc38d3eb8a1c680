// The verified flatbuffer root of a Model, for the runtime's own code (and
// its tests): the public header exposes no flatbuffers types.
#ifndef LOOKOUT_RUNTIME_SRC_MODEL_ACCESS_H_
#define LOOKOUT_RUNTIME_SRC_MODEL_ACCESS_H_

#include "lookout/runtime/model.h"
#include "tflite_schema_generated.h"

namespace lookout::runtime::internal {

struct ModelAccess {
  /// Valid while `model` lives; Model::Verify() has checked it.
  static const tflite::Model* Root(const Model& model) { return static_cast<const tflite::Model*>(model.root_); }
};

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_MODEL_ACCESS_H_
