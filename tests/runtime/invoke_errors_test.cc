// A kernel that fails at Eval() (a library call returning an error) stops
// Invoke() at its node, with an error naming the node and its op; nodes
// after it do not run. The failing kernel is swapped in after
// AllocateTensors() (src/interpreter_testing.h).
#include "support/catch_compat.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "runtime/model_builder.h"
#include "src/graph.h"
#include "src/interpreter_testing.h"

namespace lt = lookout::testing;
namespace lr = lookout::runtime;

namespace {

// Counts its Eval() calls; fails each of them when `fail` is set.
class ScriptedKernel : public lr::internal::OpKernel {
 public:
  ScriptedKernel(bool fail, int* calls) : fail_(fail), calls_(calls) {}
  lr::Status Prepare(lr::internal::KernelContext&) override { return {}; }
  lr::Status Eval() override {
    ++*calls_;
    if (fail_) return lr::Status::Error("xnn_run_operator failed (xnn_status 4)");
    return {};
  }

 private:
  bool fail_;
  int* calls_;
};

// in -> ADD(in, in) -> mid -> ADD(mid, mid) -> out, uint8, all scales 1.
std::vector<uint8_t> TwoAdds() {
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 4}, 1.0f, 0);
  const int32_t mid = b.AddUInt8("mid", {1, 4}, 1.0f, 0);
  const int32_t out = b.AddUInt8("out", {1, 4}, 1.0f, 0);
  b.AddOperator(lt::op::kAdd, {in, in}, {mid}, lt::AddOptions());
  b.AddOperator(lt::op::kAdd, {mid, mid}, {out}, lt::AddOptions());
  b.SetInputs({in});
  b.SetOutputs({out});
  return b.Build();
}

}  // namespace

TEST_CASE("Invoke() stops at the first failing kernel and names its node and op", "[interpreter]") {
  const std::vector<uint8_t> bytes = TwoAdds();
  auto model = lr::Model::FromBuffer(bytes);
  REQUIRE(model.ok());
  for (const lr::KernelFamilies backend : {lr::KernelFamilies::ReferenceOnly(), lr::KernelFamilies::All()}) {
    INFO("backend " << lr::BackendName(backend));
    lr::InterpreterOptions options;
    options.kernels = backend;
    auto interpreter = lr::Interpreter::Create(*model, options);
    REQUIRE(interpreter.ok());
    lr::Interpreter& interp = **interpreter;
    REQUIRE(interp.AllocateTensors().ok());

    // Untouched, the graph computes (x + x) + (x + x) = 4x.
    const std::vector<uint8_t> x = {1, 2, 3, 60};
    std::copy(x.begin(), x.end(), interp.input_data(0).begin());
    REQUIRE(interp.Invoke().ok());
    CHECK(std::vector<uint8_t>(interp.output_data(0).begin(), interp.output_data(0).end()) ==
          std::vector<uint8_t>{4, 8, 12, 240});

    int first_calls = 0, second_calls = 0;
    using lr::internal::InterpreterTesting;
    REQUIRE(InterpreterTesting::ReplaceKernel(interp, 0, std::make_unique<ScriptedKernel>(true, &first_calls)) != nullptr);
    REQUIRE(InterpreterTesting::ReplaceKernel(interp, 1, std::make_unique<ScriptedKernel>(false, &second_calls)) != nullptr);
    CHECK(InterpreterTesting::ReplaceKernel(interp, 2, std::make_unique<ScriptedKernel>(false, &second_calls)) == nullptr);
    const lr::Status status = interp.Invoke();
    REQUIRE_FALSE(status.ok());
    CHECK(status.message() == "node 0 (ADD): xnn_run_operator failed (xnn_status 4)");
    CHECK(first_calls == 1);
    CHECK(second_calls == 0);

    std::vector<int64_t> node_ns(interp.node_count(), -1);
    const lr::Status profiled = interp.InvokeProfiled(node_ns);
    REQUIRE_FALSE(profiled.ok());
    CHECK(profiled.message() == status.message());
    CHECK(first_calls == 2);
    CHECK(second_calls == 0);
    CHECK(node_ns[1] == -1);

    // The failure is the kernel's, not the interpreter's: with a working
    // kernel in its place, Invoke() succeeds again and both nodes run.
    REQUIRE(InterpreterTesting::ReplaceKernel(interp, 0, std::make_unique<ScriptedKernel>(false, &first_calls)) != nullptr);
    CHECK(interp.Invoke().ok());
    CHECK(first_calls == 3);
    CHECK(second_calls == 1);
  }
}
