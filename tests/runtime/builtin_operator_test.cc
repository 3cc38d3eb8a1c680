// The runtime's BuiltinOperator enum holds TensorFlow Lite's schema codes:
// each value's name, as the model loader names codes, is the operator's.
#include "support/catch_compat.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lookout/runtime/model.h"
#include "src/graph.h"

using lookout::runtime::BuiltinOperatorName;
using lookout::runtime::internal::BuiltinOperator;

TEST_CASE("BuiltinOperator values are TensorFlow Lite's operator codes", "[interpreter]") {
  // Codes from TensorFlow Lite's schema.fbs (enum BuiltinOperator).
  const std::vector<std::pair<BuiltinOperator, std::pair<int32_t, std::string>>> expected = {
      {BuiltinOperator::kAdd, {0, "ADD"}},
      {BuiltinOperator::kAveragePool2D, {1, "AVERAGE_POOL_2D"}},
      {BuiltinOperator::kConv2D, {3, "CONV_2D"}},
      {BuiltinOperator::kDepthwiseConv2D, {4, "DEPTHWISE_CONV_2D"}},
      {BuiltinOperator::kFullyConnected, {9, "FULLY_CONNECTED"}},
      {BuiltinOperator::kMaxPool2D, {17, "MAX_POOL_2D"}},
      {BuiltinOperator::kMul, {18, "MUL"}},
      {BuiltinOperator::kReshape, {22, "RESHAPE"}},
      {BuiltinOperator::kSoftmax, {25, "SOFTMAX"}},
      {BuiltinOperator::kPad, {34, "PAD"}},
      {BuiltinOperator::kTranspose, {39, "TRANSPOSE"}},
      {BuiltinOperator::kMean, {40, "MEAN"}},
      {BuiltinOperator::kQuantize, {114, "QUANTIZE"}},
      {BuiltinOperator::kHardSwish, {117, "HARD_SWISH"}},
  };
  for (const auto& [op, code_name] : expected) {
    const int32_t code = static_cast<int32_t>(op);
    INFO(code_name.second);
    CHECK(code == code_name.first);
    CHECK(BuiltinOperatorName(code) == code_name.second);
  }
}
