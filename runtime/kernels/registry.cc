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
  BuiltinOperator op_code;
  int32_t max_version;  // highest op version whose semantics we implement.
  std::unique_ptr<OpKernel> (*make)();
};

// Versions: the 8-bit semantics of each op are unchanged up to these
// versions; later versions add types (int16, int4) or options we do not read.
constexpr Registration kRegistry[] = {
    {BuiltinOperator::kAdd, 2, MakeAdd},
    {BuiltinOperator::kAveragePool2D, 2, MakeAveragePool2D},
    {BuiltinOperator::kConv2D, 3, MakeConv2D},
    {BuiltinOperator::kDepthwiseConv2D, 3, MakeDepthwiseConv2D},
    {BuiltinOperator::kFullyConnected, 4, MakeFullyConnected},
    {BuiltinOperator::kMaxPool2D, 2, MakeMaxPool2D},
    {BuiltinOperator::kMul, 2, MakeMul},
    {BuiltinOperator::kReshape, 2, MakeReshape},
    {BuiltinOperator::kSoftmax, 2, MakeSoftmax},
    {BuiltinOperator::kPad, 2, MakePad},
    {BuiltinOperator::kTranspose, 2, MakeTranspose},
    {BuiltinOperator::kMean, 2, MakeMean},
    {BuiltinOperator::kQuantize, 2, MakeQuantize},
    {BuiltinOperator::kHardSwish, 1, MakeHardSwish},
};

}  // namespace

Result<std::unique_ptr<OpKernel>> CreateKernel(BuiltinOperator op_code, int32_t version) {
  for (const auto& r : kRegistry) {
    if (r.op_code != op_code) continue;
    if (version < 1 || version > r.max_version) {
      return Status::Error(BuiltinOperatorName(static_cast<int32_t>(op_code)) + " version " + std::to_string(version) +
                           " is not supported (Lookout runs versions 1 to " +
                           std::to_string(r.max_version) + ")");
    }
    return r.make();
  }
  return Status::Error("operator " + BuiltinOperatorName(static_cast<int32_t>(op_code)) + " is not supported");
}

}  // namespace lookout::runtime::internal
