// Lookout's own MUL (family "lookout-arm", kernels/arm/mul_8bit_neon.cc)
// against the reference kernels, which reproduce TensorFlow Lite's
// reference integer MUL (golden test): byte for byte over shapes,
// broadcasts, scales (right and left shifts), zero points and activations;
// and a few products worked out by hand, ties included.
#include "support/catch_compat.h"

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "runtime/model_builder.h"
#include "runtime/own_kernels.h"

namespace lt = lookout::testing;
namespace lr = lookout::runtime;
using tflite::ActivationFunctionType;

namespace {

struct Out {
  std::string error;
  lr::KernelFamily family = lr::KernelFamily::kReference;
  std::vector<uint8_t> bytes;
};

// The two-input MUL model with `options`.
Out Run(const std::vector<uint8_t>& model_bytes, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
        const lr::InterpreterOptions& options) {
  Out r;
  auto model = lr::Model::FromBuffer(model_bytes);
  auto interpreter = model.ok() ? lr::Interpreter::Create(*model, options)
                                : lr::Result<std::unique_ptr<lr::Interpreter>>(model.status());
  lr::Status status = interpreter.ok() ? (*interpreter)->AllocateTensors() : interpreter.status();
  if (!status.ok()) {
    r.error = status.message();
    return r;
  }
  auto& interp = **interpreter;
  r.family = interp.node_details(0).family;
  auto in0 = interp.input_data(0), in1 = interp.input_data(1);
  std::copy(a.begin(), a.end(), in0.begin());
  std::copy(b.begin(), b.end(), in1.begin());
  status = interp.Invoke();
  if (!status.ok()) r.error = status.message();
  auto out = interp.output_data(0);
  r.bytes.assign(out.begin(), out.end());
  return r;
}

std::vector<uint8_t> MulModel(bool int8, const std::vector<int32_t>& sa, const std::vector<int32_t>& sb,
                              const std::vector<int32_t>& so, float scale_a, int za, float scale_b, int zb,
                              float scale_o, int zo, ActivationFunctionType activation) {
  lt::ModelBuilder m;
  const auto type = int8 ? tflite::TensorType::INT8 : tflite::TensorType::UINT8;
  const int32_t a = m.AddTensor("a", sa, type, {{scale_a}, {za}, 0});
  const int32_t b = m.AddTensor("b", sb, type, {{scale_b}, {zb}, 0});
  const int32_t o = m.AddTensor("o", so, type, {{scale_o}, {zo}, 0});
  m.AddOperator(lt::op::kMul, {a, b}, {o}, lt::MulOptions(activation), int8 ? 2 : 1);
  m.SetInputs({a, b});
  m.SetOutputs({o});
  return m.Build();
}

size_t Elements(const std::vector<int32_t>& shape) {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

}  // namespace

TEST_CASE("own MUL kernels equal the reference MUL byte for byte", "[kernels][mul]") {
  const auto variants = lt::OwnMulVariants();
  if (variants.empty()) LOOKOUT_SKIP("this CPU has no own MUL kernel (arm64 NEON)");
  struct Shapes {
    std::vector<int32_t> a, b, o;
  };
  const Shapes shapes[] = {
      {{1, 5, 7, 19}, {1, 5, 7, 19}, {1, 5, 7, 19}},   // same shape, a 16 + 3 tail per row... and whole
      {{1, 6, 6, 96}, {1, 1, 1, 96}, {1, 6, 6, 96}},   // squeeze-and-excite
      {{1, 1, 1, 40}, {1, 3, 5, 40}, {1, 3, 5, 40}},   // broadcast the other way
      {{1, 4, 4, 33}, {1}, {1, 4, 4, 33}},             // a scalar activation
      {{2, 3, 1, 17}, {2, 1, 4, 17}, {2, 3, 4, 17}},   // both broadcast
      {{3, 1}, {1, 70}, {3, 70}},                      // the innermost dimension broadcast
      {{200}, {200}, {200}},
  };
  std::mt19937 rng(31415);
  std::uniform_int_distribution<int> byte(0, 255), zp_u8(0, 255), zp_s8(-128, 127);
  int cases = 0;
  for (const bool int8 : {false, true}) {
    for (const auto& s : shapes) {
      // Output scales below and above the product's: right and left shifts.
      for (const float ratio : {0.003f, 0.05f, 1.0f, 7.0f}) {
        for (const auto activation : {ActivationFunctionType::NONE, ActivationFunctionType::RELU6}) {
          const float scale_a = 0.02f + 0.001f * static_cast<float>(cases % 7), scale_b = 0.015f;
          const int za = int8 ? zp_s8(rng) : zp_u8(rng), zb = int8 ? zp_s8(rng) : zp_u8(rng);
          const int zo = int8 ? zp_s8(rng) / 2 : 64 + zp_u8(rng) / 2;
          const float scale_o = scale_a * scale_b * 255.0f * ratio;
          const auto model = MulModel(int8, s.a, s.b, s.o, scale_a, za, scale_b, zb, scale_o, zo, activation);
          std::vector<uint8_t> a(Elements(s.a)), b(Elements(s.b));
          for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
          for (auto& v : b) v = static_cast<uint8_t>(byte(rng));
          const Out reference = Run(model, a, b, lt::ReferenceOptions());
          INFO((int8 ? "int8" : "uint8") << " shapes " << s.a.size() << "-D, output scale ratio " << ratio);
          REQUIRE(reference.error.empty());
          for (const auto& variant : variants) {
            INFO("own kernel: " << variant.name);
            const Out own = Run(model, a, b, variant.Options());
            INFO(own.error);
            REQUIRE(own.error.empty());
            CHECK(own.family == variant.family);
            CHECK(own.bytes == reference.bytes);
          }
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 2 * 7 * 4 * 2);
}

TEST_CASE("own MUL by hand: ties round away from zero", "[kernels][mul]") {
  const auto variants = lt::OwnMulVariants();
  if (variants.empty()) LOOKOUT_SKIP("this CPU has no own MUL kernel (arm64 NEON)");
  // Scales 1, 1 -> output scale 4: the multiplier 0.25 is 2^30 / 2^31 with a
  // right shift of 1, so out = zo + RoundingDivideByPOT(
  // SaturatingRoundingDoublingHighMul(x, 2^30), 1): x / 2 rounded half away
  // from zero, then / 2 rounded half away from zero (TFLite's double
  // rounding). uint8, za = zb = 0, zo = 100, x = a b:
  //   x  2 -> 1 -> 1 -> 101      x 6 -> 3 -> 2 -> 102
  //   x 10 -> 5 -> 3 -> 103      x 3 -> 2 -> 1 -> 101
  //   x  1 -> 1 -> 1 -> 101 (0.25 becomes 1 through the two roundings)
  //   x  0 -> 100
  // With zb = 4 and b = 2 (b - zb = -2): x -2 -> -1 -> -1 -> 99;
  // x -6 -> -3 -> -2 -> 98; x -10 -> -5 -> -3 -> 97.
  const auto model = MulModel(false, {1, 8}, {1, 8}, {1, 8}, 1.0f, 0, 1.0f, 0, 4.0f, 100, ActivationFunctionType::NONE);
  const std::vector<uint8_t> a = {2, 6, 5, 3, 1, 0, 0, 0};
  const std::vector<uint8_t> b = {1, 1, 2, 1, 1, 0, 0, 0};
  const auto model2 = MulModel(false, {1, 3}, {1, 3}, {1, 3}, 1.0f, 0, 1.0f, 4, 4.0f, 100, ActivationFunctionType::NONE);
  for (const auto& variant : variants) {
    INFO("own kernel: " << variant.name);
    const Out own = Run(model, a, b, variant.Options());
    REQUIRE(own.error.empty());
    CHECK(own.family == variant.family);
    CHECK(own.bytes == std::vector<uint8_t>{101, 102, 103, 101, 101, 100, 100, 100});
    const Out own2 = Run(model2, {1, 3, 5}, {2, 2, 2}, variant.Options());
    REQUIRE(own2.error.empty());
    CHECK(own2.bytes == std::vector<uint8_t>{99, 98, 97});
  }
}
