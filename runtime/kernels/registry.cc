// Which builtin operators Lookout runs, at which versions.
#include <memory>

#include "lookout/runtime/model.h"
#include "src/graph.h"

namespace lookout::runtime::internal {

std::unique_ptr<OpKernel> MakeConv2D();
std::unique_ptr<OpKernel> MakeDepthwiseConv2D();
std::unique_ptr<OpKernel> MakeFullyConnected();
std::unique_ptr<OpKernel> MakeAdd();
std::unique_ptr<OpKernel> MakeMul();
std::unique_ptr<OpKernel> MakeHardSwish();
std::unique_ptr<OpKernel> MakeQuantize();
std::unique_ptr<OpKernel> MakeAveragePool2D();
std::unique_ptr<OpKernel> MakeMaxPool2D();
std::unique_ptr<OpKernel> MakeMean();
std::unique_ptr<OpKernel> MakeSoftmax();
std::unique_ptr<OpKernel> MakeReshape();
std::unique_ptr<OpKernel> MakeTranspose();
std::unique_ptr<OpKernel> MakePad();

namespace {

struct Registration {
  int32_t op_code;
  int32_t max_version;  // highest op version whose semantics we implement.
  std::unique_ptr<OpKernel> (*make)();
};

// Versions: the 8-bit semantics of each op are unchanged up to these
// versions; later versions add types (int16, int4) or options we do not read.
constexpr Registration kRegistry[] = {
    {0, 2, MakeAdd},               // ADD
    {1, 2, MakeAveragePool2D},     // AVERAGE_POOL_2D
    {3, 3, MakeConv2D},            // CONV_2D
    {4, 3, MakeDepthwiseConv2D},   // DEPTHWISE_CONV_2D
    {9, 4, MakeFullyConnected},    // FULLY_CONNECTED
    {17, 2, MakeMaxPool2D},        // MAX_POOL_2D
    {18, 2, MakeMul},              // MUL
    {22, 2, MakeReshape},          // RESHAPE
    {25, 2, MakeSoftmax},          // SOFTMAX
    {34, 2, MakePad},              // PAD
    {39, 2, MakeTranspose},        // TRANSPOSE
    {40, 2, MakeMean},             // MEAN
    {114, 2, MakeQuantize},        // QUANTIZE
    {117, 1, MakeHardSwish},       // HARD_SWISH
};

}  // namespace

Result<std::unique_ptr<OpKernel>> CreateKernel(int32_t op_code, int32_t version) {
  for (const auto& r : kRegistry) {
    if (r.op_code != op_code) continue;
    if (version < 1 || version > r.max_version) {
      return Status::Error(BuiltinOperatorName(op_code) + " version " + std::to_string(version) +
                           " is not supported (Lookout runs versions 1 to " +
                           std::to_string(r.max_version) + ")");
    }
    return r.make();
  }
  return Status::Error("operator " + BuiltinOperatorName(op_code) + " is not supported");
}

}  // namespace lookout::runtime::internal
