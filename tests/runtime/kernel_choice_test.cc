// Which kernel family runs each node follows InterpreterOptions alone: the
// families allowed and the own-kernel switches, on the bundled MobileNet v2
// (uint8: CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE,
// SOFTMAX).
#include "support/catch_compat.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "runtime/own_kernels.h"
#include "support/test_support.h"

namespace lt = lookout::testing;
namespace lr = lookout::runtime;

namespace {

struct Prepared {
  std::unique_ptr<lr::Interpreter> interpreter;
  std::map<std::string, std::map<lr::KernelFamily, int>> families;  // op -> family -> nodes
};

Prepared Prepare(const lr::InterpreterOptions& options) {
  auto model = lr::Model::FromFile((lt::SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string());
  REQUIRE(model.ok());
  auto interpreter = lr::Interpreter::Create(*model, options);
  REQUIRE(interpreter.ok());
  REQUIRE((*interpreter)->AllocateTensors().ok());
  Prepared p;
  p.interpreter = std::move(interpreter).value();
  for (size_t n = 0; n < p.interpreter->node_count(); ++n) {
    const auto& d = p.interpreter->node_details(n);
    ++p.families[d.op_name][d.family];
  }
  return p;
}

std::vector<uint8_t> InvokeOn(lr::Interpreter& interpreter) {
  auto in = interpreter.input_data(0);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>((i * 37) % 251);
  REQUIRE(interpreter.Invoke().ok());
  auto out = interpreter.output_data(0);
  return {out.begin(), out.end()};
}

int Count(const Prepared& p, lr::KernelFamily family) {
  int n = 0;
  for (const auto& [op, families] : p.families) {
    auto it = families.find(family);
    if (it != families.end()) n += it->second;
  }
  return n;
}

}  // namespace

TEST_CASE("kernel families: names and the two presets", "[kernels][choice]") {
  CHECK(std::string(lr::KernelFamilyName(lr::KernelFamily::kReference)) == "reference");
  CHECK(std::string(lr::KernelFamilyName(lr::KernelFamily::kLookupTable)) == "lut");
  CHECK(std::string(lr::KernelFamilyName(lr::KernelFamily::kXnnpack)) == "xnnpack");
  CHECK(std::string(lr::KernelFamilyName(lr::KernelFamily::kOwnX86)) == "lookout-x86");
  CHECK(std::string(lr::KernelFamilyName(lr::KernelFamily::kOwnArm)) == "lookout-arm");
  lr::KernelFamilies kernels = lr::KernelFamilies::All();
  REQUIRE(lr::ParseBackend("reference", &kernels));
  CHECK(kernels == lr::KernelFamilies::ReferenceOnly());
  REQUIRE(lr::ParseBackend("xnnpack", &kernels));
  CHECK(kernels == lr::KernelFamilies::All());
  CHECK_FALSE(lr::ParseBackend("fast", &kernels));
  CHECK(lr::BackendName(lr::KernelFamilies::All()) == "xnnpack");
  CHECK(lr::BackendName(lr::KernelFamilies::ReferenceOnly()) == "reference");
  CHECK(lr::BackendName(lt::XnnpackOptions().kernels) == "reference+lut+xnnpack");
  // The reference family cannot be taken out: it runs what nothing else does.
  CHECK(lr::KernelFamilies::ReferenceOnly().without(lr::KernelFamily::kReference) ==
        lr::KernelFamilies::ReferenceOnly());
}

TEST_CASE("kernel families: what this build contains", "[kernels][choice]") {
  const lr::KernelFamilies built = lr::CompiledKernelFamilies();
  CHECK(built.contains(lr::KernelFamily::kReference));
  CHECK(built.contains(lr::KernelFamily::kLookupTable));
  // The build's own switch (CMake's LOOKOUT_WITH_XNNPACK), seen by this test
  // through the same target the runtime is compiled with.
  CHECK(built.contains(lr::KernelFamily::kXnnpack) == (LOOKOUT_HAVE_XNNPACK == 1));
#if defined(__x86_64__)
  CHECK(built.contains(lr::KernelFamily::kOwnX86));
  CHECK_FALSE(built.contains(lr::KernelFamily::kOwnArm));
#elif defined(__aarch64__)
  CHECK(built.contains(lr::KernelFamily::kOwnArm));
  CHECK_FALSE(built.contains(lr::KernelFamily::kOwnX86));
#endif
  // A family the build lacks is skipped like one that cannot run a node.
  if (!built.contains(lr::KernelFamily::kXnnpack)) {
    const Prepared p = Prepare(lt::XnnpackOptions());
    CHECK(Count(p, lr::KernelFamily::kXnnpack) == 0);
  }
}

TEST_CASE("kernel choice: reference only puts every node on its reference kernel", "[kernels][choice]") {
  const Prepared p = Prepare(lt::ReferenceOptions());
  CHECK(Count(p, lr::KernelFamily::kReference) == static_cast<int>(p.interpreter->node_count()));
}

TEST_CASE("kernel choice: lookup tables alone take SOFTMAX and nothing else of MobileNet v2", "[kernels][choice]") {
  lr::InterpreterOptions options;
  options.kernels = lr::KernelFamilies::ReferenceOnly().with(lr::KernelFamily::kLookupTable);
  const Prepared p = Prepare(options);
  CHECK(p.families.at("SOFTMAX").at(lr::KernelFamily::kLookupTable) == 1);
  CHECK(Count(p, lr::KernelFamily::kLookupTable) == 1);
  CHECK(Count(p, lr::KernelFamily::kReference) == static_cast<int>(p.interpreter->node_count()) - 1);
  // Same bytes as the reference: the table is the reference kernel's.
  Prepared reference = Prepare(lt::ReferenceOptions());
  Prepared lut = Prepare(options);
  CHECK(InvokeOn(*lut.interpreter) == InvokeOn(*reference.interpreter));
}

TEST_CASE("kernel choice: without our own families, XNNPACK runs the convolutions and ADD", "[kernels][choice]") {
  if (!lt::HaveXnnpack()) LOOKOUT_SKIP("this build has no XNNPACK (LOOKOUT_WITH_XNNPACK=OFF)");
  const Prepared p = Prepare(lt::XnnpackOptions());
  CHECK(Count(p, lr::KernelFamily::kOwnX86) == 0);
  CHECK(Count(p, lr::KernelFamily::kOwnArm) == 0);
  for (const char* op : {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D"}) {
    INFO(op);
    CHECK(p.families.at(op).size() == 1);
    CHECK(p.families.at(op).count(lr::KernelFamily::kXnnpack) == 1);
  }
  CHECK(p.families.at("SOFTMAX").count(lr::KernelFamily::kLookupTable) == 1);
  CHECK(p.families.at("RESHAPE").count(lr::KernelFamily::kReference) == 1);
}

TEST_CASE("kernel choice: our own kernels run where this CPU has them, and the switches turn them off",
          "[kernels][choice]") {
  const auto pointwise = lt::OwnPointwiseVariants();
  const auto depthwise = lt::OwnDepthwiseVariants();
  const Prepared all = Prepare(lr::InterpreterOptions{});
  const int own = Count(all, lr::KernelFamily::kOwnX86) + Count(all, lr::KernelFamily::kOwnArm);
#if defined(__x86_64__)
  CHECK(Count(all, lr::KernelFamily::kOwnArm) == 0);
  // On AVX-512 VNNI our GEMM takes the 1x1 convolutions.
  if (lt::CpuHasAvx512Vnni()) CHECK(all.families.at("CONV_2D").count(lr::KernelFamily::kOwnX86) == 1);
  if (pointwise.empty() && depthwise.empty()) CHECK(own == 0);
#elif defined(__aarch64__)
  CHECK(Count(all, lr::KernelFamily::kOwnX86) == 0);
  // uint8 MobileNet v2: our GEMM takes the deep 1x1 convolutions on a CPU
  // without dot products (with them, XNNPACK's dot-product GEMMs where the
  // XNNPACK in use has uint8 ones).
  if (!lt::CpuHasArmDotProduct()) CHECK(all.families.at("CONV_2D").count(lr::KernelFamily::kOwnArm) == 1);
#endif
  lr::InterpreterOptions off;
  off.own_kernels.pointwise = false;
  off.own_kernels.depthwise = false;
  off.own_kernels.mul = false;
  const Prepared none = Prepare(off);
  CHECK(Count(none, lr::KernelFamily::kOwnX86) + Count(none, lr::KernelFamily::kOwnArm) == 0);
  if (own > 0 && lt::XnnpackRequantizesInFp32()) {
    // Our kernels compute XNNPACK's fp32 requantization byte for byte, so the
    // whole model's output is the same either way.
    Prepared with_own = Prepare(lr::InterpreterOptions{});
    Prepared xnnpack = Prepare(lt::XnnpackOptions());
    CHECK(InvokeOn(*with_own.interpreter) == InvokeOn(*xnnpack.interpreter));
  }
}
