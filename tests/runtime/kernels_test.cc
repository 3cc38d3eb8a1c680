// Reference kernels against expectations worked out by hand (the arithmetic
// is in the comments), through whole tiny models so that loading, Prepare
// and Invoke all take part.
#include "support/catch_compat.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/reference/quantization.h"
#include "runtime/model_builder.h"

namespace ref = lookout::runtime::reference;
namespace lt = lookout::testing;
namespace lr = lookout::runtime;
using tflite::ActivationFunctionType;
using tflite::Padding;

TEST_CASE("QuantizeMultiplier splits a real multiplier into Q0.31 and a shift", "[kernels]") {
  int32_t m = 0;
  int shift = 0;
  // 0.5 = 0.5 × 2^0: multiplier 0.5 in Q0.31 = 2^30.
  ref::QuantizeMultiplier(0.5, &m, &shift);
  CHECK(m == (1 << 30));
  CHECK(shift == 0);
  // 0.25 = 0.5 × 2^-1.
  ref::QuantizeMultiplier(0.25, &m, &shift);
  CHECK(m == (1 << 30));
  CHECK(shift == -1);
  // 3.0 = 0.75 × 2^2: 0.75 × 2^31 = 1610612736.
  ref::QuantizeMultiplier(3.0, &m, &shift);
  CHECK(m == 1610612736);
  CHECK(shift == 2);
  // Just below 1: frexp gives 0.99999999999 × 2^0, which rounds to 2^31 and
  // is renormalised to 2^30 with shift + 1.
  ref::QuantizeMultiplier(1.0 - 1e-12, &m, &shift);
  CHECK(m == (1 << 30));
  CHECK(shift == 1);
}

TEST_CASE("fixed-point primitives round as gemmlowp does", "[kernels]") {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  // The one overflow case saturates.
  CHECK(ref::SaturatingRoundingDoublingHighMul(kMin, kMin) == kMax);
  // 2^30 × 2^30 × 2 / 2^32 = 2^29.
  CHECK(ref::SaturatingRoundingDoublingHighMul(1 << 30, 1 << 30) == (1 << 29));
  // 3 × 2^30 / 2^31 = 1.5 -> 2. For negative products gemmlowp's nudge is
  // 1 − 2^30 and the division truncates: (−3·2^30 + 1 − 2^30) / 2^31 =
  // −1.99... -> −1, so −1.5 rounds towards zero.
  CHECK(ref::SaturatingRoundingDoublingHighMul(3, 1 << 30) == 2);
  CHECK(ref::SaturatingRoundingDoublingHighMul(-3, 1 << 30) == -1);
  // 5 / 2 = 2.5 -> 3; -5 / 2 = -2.5 -> -3; 6 / 4 = 1.5 -> 2; 5 / 4 = 1.25 -> 1.
  CHECK(ref::RoundingDivideByPOT(5, 1) == 3);
  CHECK(ref::RoundingDivideByPOT(-5, 1) == -3);
  CHECK(ref::RoundingDivideByPOT(6, 2) == 2);
  CHECK(ref::RoundingDivideByPOT(5, 2) == 1);
  CHECK(ref::RoundingDivideByPOT(-7, 2) == -2);  // -1.75 -> -2
  // x × 0.5 × 2^-1 = x / 4, rounded twice (SRDHM, then RoundingDivideByPOT):
  // 10 -> 5 -> 2.5 -> 3; -10 -> -5 -> -2.5 -> -3; 9 -> round(4.5) = 5 ->
  // 2.5 -> 3, not round(2.25) = 2: TFLite's double rounding.
  CHECK(ref::MultiplyByQuantizedMultiplier(10, 1 << 30, -1) == 3);
  CHECK(ref::MultiplyByQuantizedMultiplier(-10, 1 << 30, -1) == -3);
  CHECK(ref::MultiplyByQuantizedMultiplier(9, 1 << 30, -1) == 3);
  CHECK(ref::MultiplyByQuantizedMultiplier(7, 1 << 30, -1) == 2);  // 3.5 -> 4 -> 2
  // Positive shift: 7 × 0.75 × 2^2 = 21 exactly.
  CHECK(ref::MultiplyByQuantizedMultiplier(7, 1610612736, 2) == 21);
}

TEST_CASE("uint8 CONV_2D: offsets, bias, stride, padding, RELU6", "[kernels]") {
  // Input 1x3x3x1, scale 0.5 zp 10: q = 10 + 2·real. Reals 1..9.
  const std::vector<uint8_t> input = {12, 14, 16, 18, 20, 22, 24, 26, 28};
  // Filter 1x2x2x1, scale 0.25 zp 100: reals {1, 0, 0, -1} -> q {104, 100, 100, 96}.
  const std::vector<uint8_t> filter = {104, 100, 100, 96};
  // Bias scale = 0.5 × 0.25 = 0.125: real 0.5 -> 4.
  std::vector<uint8_t> bias(4);
  const int32_t bias_q = 4;
  std::memcpy(bias.data(), &bias_q, 4);

  SECTION("VALID, stride 1, no activation") {
    // Output 1x2x2x1, scale 1 zp 50. Each output = in[y][x] - in[y+1][x+1] + 0.5
    // = -4 + 0.5 = -3.5 in reals; -3.5 / 1 rounds half away from zero to -4
    // (MultiplyByQuantizedMultiplier on the int32 accumulator -28 × 0.125 =
    // -3.5 -> -4), + 50 = 46.
    lt::ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 3, 3, 1}, 0.5f, 10);
    const int32_t w = b.AddUInt8("w", {1, 2, 2, 1}, 0.25f, 100, filter);
    const int32_t bi = b.AddTensor("b", {1}, tflite::TensorType::INT32, {{0.125f}, {0}}, bias);
    const int32_t out = b.AddUInt8("out", {1, 2, 2, 1}, 1.0f, 50);
    b.AddOperator(lt::op::kConv2D, {in, w, bi}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1));
    b.SetInputs({in});
    b.SetOutputs({out});
    const auto r = lt::RunModel(b.Build(), {input});
    INFO(r.error);
    REQUIRE(r.error.empty());
    CHECK(r.outputs[0] == std::vector<uint8_t>{46, 46, 46, 46});
  }
  SECTION("SAME, stride 2, RELU6") {
    // Output 1x2x2x1 (ceil(3/2)), scale 0.25 zp 0. Padding total = (2-1)·2 + 2 - 3 = 1,
    // all at the bottom/right (pad_top = 0). Windows at (0,0), (0,2), (2,0), (2,2):
    //   (0,0): 1 - 5 + 0.5 = -3.5 -> RELU6 clamps to 0 -> q 0
    //   (0,2): 3 - 0 (padding) + 0.5 = 3.5 -> q 14
    //   (2,0): 7 - 0 + 0.5 = 7.5 -> clamp 6 -> q 24
    //   (2,2): 9 + 0.5 = 9.5 -> q 24
    lt::ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 3, 3, 1}, 0.5f, 10);
    const int32_t w = b.AddUInt8("w", {1, 2, 2, 1}, 0.25f, 100, filter);
    const int32_t bi = b.AddTensor("b", {1}, tflite::TensorType::INT32, {{0.125f}, {0}}, bias);
    const int32_t out = b.AddUInt8("out", {1, 2, 2, 1}, 0.25f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, bi}, {out},
                  lt::Conv2DOptions(Padding::SAME, 2, 2, ActivationFunctionType::RELU6));
    b.SetInputs({in});
    b.SetOutputs({out});
    const auto r = lt::RunModel(b.Build(), {input});
    INFO(r.error);
    REQUIRE(r.error.empty());
    CHECK(r.outputs[0] == std::vector<uint8_t>{0, 14, 24, 24});
  }
}

TEST_CASE("int8 DEPTHWISE_CONV_2D with depth multiplier 2 and per-channel scales", "[kernels]") {
  // Input 1x1x2x1 int8, scale 1 zp -1: reals {2, 5} from q {1, 4}.
  // Filter 1x1x2x2 (1, H, W, C·multiplier), per-channel scales {1, 0.5}, zp 0:
  //   channel 0 weights q {1, 2} (reals 1, 2); channel 1 q {4, -2} (reals 2, -1).
  // Output 1x1x1x2 (VALID 1x2 window), scale 1 zp 0:
  //   ch0 = 2·1 + 5·2 = 12; ch1 = 2·2 + 5·(-1) = -1.
  lt::ModelBuilder b;
  const int32_t in = b.AddInt8("in", {1, 1, 2, 1}, 1.0f, -1);
  const int32_t w = b.AddTensor("w", {1, 1, 2, 2}, tflite::TensorType::INT8, {{1.0f, 0.5f}, {0, 0}, 3},
                                lt::Bytes({1, 4, 2, -2}));
  const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 1.0f, 0);
  b.AddOperator(lt::op::kDepthwiseConv2D, {in, w, -1}, {out},
                lt::DepthwiseConv2DOptions(Padding::VALID, 1, 1, 2), 3);
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto r = lt::RunModel(b.Build(), {lt::Bytes({1, 4})});
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(lt::AsInt8(r.outputs[0]) == std::vector<int8_t>{12, -1});
}

TEST_CASE("uint8 FULLY_CONNECTED requantizes each unit", "[kernels]") {
  // Input [1,3] scale 0.5 zp 128: q {130, 126, 128} = reals {1, -1, 0}.
  // Weights [2,3] scale 1 zp 128: unit 0 reals {3, 1, 7}, unit 1 {-2, -2, 5}.
  // Output scale 0.25 zp 100: unit 0 = 3 - 1 = 2 -> 8 + 100 = 108;
  // unit 1 = -2 + 2 = 0 -> 100.
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 3}, 0.5f, 128);
  const int32_t w = b.AddUInt8("w", {2, 3}, 1.0f, 128, {131, 129, 135, 126, 126, 133});
  const int32_t out = b.AddUInt8("out", {1, 2}, 0.25f, 100);
  b.AddOperator(lt::op::kFullyConnected, {in, w, -1}, {out}, lt::FullyConnectedOptions());
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto r = lt::RunModel(b.Build(), {{130, 126, 128}});
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(r.outputs[0] == std::vector<uint8_t>{108, 100});
}

TEST_CASE("AVERAGE_POOL_2D rounds half away from zero", "[kernels]") {
  // 2x2 windows over q values (same scale in and out): {1,2,3,4} sums to 10,
  // 10/4 = 2.5 -> 3; {0,0,0,1} -> 0.25 -> 0; {1,1,1,3} -> 1.5 -> 2.
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 2, 6, 1}, 0.5f, 0);
  const int32_t out = b.AddUInt8("out", {1, 1, 3, 1}, 0.5f, 0);
  b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, lt::Pool2DOptions(Padding::VALID, 2, 2, 2, 2));
  b.SetInputs({in});
  b.SetOutputs({out});
  // Rows: [1 2 | 0 0 | 1 1], [3 4 | 0 1 | 1 3].
  const auto r = lt::RunModel(b.Build(), {{1, 2, 0, 0, 1, 1, 3, 4, 0, 1, 1, 3}});
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(r.outputs[0] == std::vector<uint8_t>{3, 0, 2});
}

TEST_CASE("uint8 ADD rescales both inputs to the output scale", "[kernels]") {
  // a: scale 0.5 zp 0, b: scale 0.25 zp 10, out: scale 1 zp 5.
  // a q {4, 8} = reals {2, 4}; b q {14, 2} = reals {1, -2}.
  // Sums {3, 2} -> q {8, 7}.
  lt::ModelBuilder b;
  const int32_t x = b.AddUInt8("a", {1, 1, 1, 2}, 0.5f, 0);
  const int32_t y = b.AddUInt8("b", {1, 1, 1, 2}, 0.25f, 10);
  const int32_t out = b.AddUInt8("out", {1, 1, 1, 2}, 1.0f, 5);
  b.AddOperator(lt::op::kAdd, {x, y}, {out}, lt::AddOptions());
  b.SetInputs({x, y});
  b.SetOutputs({out});
  const auto r = lt::RunModel(b.Build(), {{4, 8}, {14, 2}});
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(r.outputs[0] == std::vector<uint8_t>{8, 7});
}

TEST_CASE("uint8 SOFTMAX of equal logits is uniform", "[kernels]") {
  // Four equal logits: each probability 1/4; output scale 1/256 zp 0 -> 64.
  // A dominant logit: input scale 1, logits {0, 0, 0, 20}: e^-20 ≈ 2e-9, so
  // the big one is 1 - 6e-9 -> saturates at 255, the others 0.
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 4}, 1.0f, 0);
  const int32_t out = b.AddUInt8("out", {1, 4}, 1.0f / 256.0f, 0);
  b.AddOperator(lt::op::kSoftmax, {in}, {out}, lt::SoftmaxOptions(1.0f));
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto model = b.Build();
  const auto equal = lt::RunModel(model, {{7, 7, 7, 7}});
  INFO(equal.error);
  REQUIRE(equal.error.empty());
  CHECK(equal.outputs[0] == std::vector<uint8_t>{64, 64, 64, 64});
  const auto peaked = lt::RunModel(model, {{0, 0, 0, 20}});
  REQUIRE(peaked.error.empty());
  CHECK(peaked.outputs[0] == std::vector<uint8_t>{0, 0, 0, 255});
}

TEST_CASE("RESHAPE keeps the bytes", "[kernels]") {
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 1.0f, 0);
  const int32_t shape = b.AddInt32("shape", {2}, {1, 4});
  const int32_t out = b.AddUInt8("out", {1, 4}, 1.0f, 0);
  b.AddOperator(lt::op::kReshape, {in, shape}, {out}, lt::ReshapeOptions({1, 4}));
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto r = lt::RunModel(b.Build(), {{9, 8, 7, 6}});
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(r.outputs[0] == std::vector<uint8_t>{9, 8, 7, 6});
}

TEST_CASE("HARD_SWISH is x * relu6(x + 3) / 6 on every backend", "[kernels]") {
  // Input and output scale 0.05, zero point 128: q = 128 + 20x.
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 256}, 0.05f, 128);
  const int32_t out = b.AddUInt8("out", {1, 256}, 0.05f, 128);
  b.AddOperator(lt::op::kHardSwish, {in}, {out});
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto model = b.Build();
  std::vector<uint8_t> all(256);
  for (int v = 0; v < 256; ++v) all[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
  const auto ref = lt::RunModel(model, {all}, lr::KernelFamilies::ReferenceOnly());
  const auto fast = lt::RunModel(model, {all}, lr::KernelFamilies::All());
  INFO(ref.error << fast.error);
  REQUIRE(ref.error.empty());
  REQUIRE(fast.error.empty());
  const auto& r = ref.outputs[0];
  CHECK(r[188] == 188);  // x = 3: 3 * 6 / 6 = 3.
  CHECK(r[248] == 248);  // x = 6: 6.
  CHECK(r[128] == 128);  // x = 0: 0.
  CHECK(r[68] == 128);   // x = -3: 0.
  CHECK(r[48] == 128);   // x = -4: 0.
  CHECK(std::abs(static_cast<int>(r[148]) - 141) <= 1);  // x = 1: 4/6 = 0.667 -> 13.3 LSB.
  CHECK(std::abs(static_cast<int>(r[98]) - 120) <= 1);   // x = -1.5: -1.5*1.5/6 = -0.375 -> 120.5.
  // The fast path's lookup table is the reference kernel's own answer.
  CHECK(fast.outputs[0] == r);
}

TEST_CASE("the lookup table gives the reference HARD_SWISH at every length, vector and tail", "[kernels]") {
  // Lengths around the vector widths of the table kernels (16 bytes on Arm,
  // 64 with AVX-512 VBMI), bytes from a fixed LCG so every table quarter is hit.
  for (const int n : {1, 15, 16, 17, 63, 64, 65, 100, 129}) {
    lt::ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, n}, 0.04f, 100);
    const int32_t out = b.AddUInt8("out", {1, n}, 0.03f, 90);
    b.AddOperator(lt::op::kHardSwish, {in}, {out});
    b.SetInputs({in});
    b.SetOutputs({out});
    const auto model = b.Build();
    std::vector<uint8_t> bytes(static_cast<size_t>(n));
    uint32_t state = 12345u + static_cast<uint32_t>(n);
    for (auto& v : bytes) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<uint8_t>(state >> 24);
    }
    const auto ref = lt::RunModel(model, {bytes}, lr::KernelFamilies::ReferenceOnly());
    const auto fast = lt::RunModel(model, {bytes}, lr::KernelFamilies::All());
    INFO("n = " << n << ": " << ref.error << fast.error);
    REQUIRE(ref.error.empty());
    REQUIRE(fast.error.empty());
    CHECK(fast.outputs[0] == ref.outputs[0]);
  }
}

TEST_CASE("QUANTIZE int8 to uint8 with equal scales adds 128 on every backend", "[kernels]") {
  lt::ModelBuilder b;
  const int32_t in = b.AddInt8("in", {256}, 0.1f, -5);
  const int32_t out = b.AddUInt8("out", {256}, 0.1f, 123);
  b.AddOperator(lt::op::kQuantize, {in}, {out});
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto model = b.Build();
  std::vector<uint8_t> all(256), expected(256);
  for (int v = -128; v < 128; ++v) {
    all[static_cast<size_t>(v + 128)] = static_cast<uint8_t>(static_cast<int8_t>(v));
    expected[static_cast<size_t>(v + 128)] = static_cast<uint8_t>(v + 128);
  }
  for (const auto backend : {lr::KernelFamilies::ReferenceOnly(), lr::KernelFamilies::All()}) {
    const auto r = lt::RunModel(model, {all}, backend);
    INFO(lr::BackendName(backend) << ": " << r.error);
    REQUIRE(r.error.empty());
    CHECK(r.outputs[0] == expected);
  }
}

TEST_CASE("the tabulated SOFTMAX gives the reference kernel's bits", "[kernels]") {
  // Long rows (output table per row) and short ones (direct), both types,
  // several input scales and betas, random rows with a fixed seed.
  uint32_t seed = 12345;
  const auto next = [&seed]() {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<uint8_t>(seed >> 24);
  };
  for (const int32_t depth : {1001, 10}) {
    for (const float scale : {0.05f, 0.25f, 1.0f / 16}) {
      for (const float beta : {1.0f, 0.5f}) {
        for (const bool int8 : {false, true}) {
          lt::ModelBuilder b;
          const int32_t rows = 3;
          const int32_t in = int8 ? b.AddInt8("in", {rows, depth}, scale, 3) : b.AddUInt8("in", {rows, depth}, scale, 130);
          const int32_t out = int8 ? b.AddInt8("out", {rows, depth}, 1.0f / 256, -128)
                                   : b.AddUInt8("out", {rows, depth}, 1.0f / 256, 0);
          b.AddOperator(lt::op::kSoftmax, {in}, {out}, lt::SoftmaxOptions(beta));
          b.SetInputs({in});
          b.SetOutputs({out});
          const auto model = b.Build();
          std::vector<uint8_t> input(static_cast<size_t>(rows * depth));
          for (auto& v : input) v = next();
          input[5] = 255;  // a clear winner in row 0
          const auto ref = lt::RunModel(model, {input}, lr::KernelFamilies::ReferenceOnly());
          const auto fast = lt::RunModel(model, {input}, lr::KernelFamilies::All());
          INFO("depth " << depth << " scale " << scale << " beta " << beta << " int8 " << int8 << ": " << ref.error
                        << fast.error);
          REQUIRE(ref.error.empty());
          REQUIRE(fast.error.empty());
          CHECK(fast.outputs[0] == ref.outputs[0]);
        }
      }
    }
  }
}

TEST_CASE("ADD of a constant scalar saturates as integer addition on every backend", "[kernels]") {
  // Equal scales 0.5, zero point 0 everywhere; the constant is 3.0 (q = 6):
  // out = min(q + 6, 255). 300 elements: a vector tail on the fast path.
  lt::ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 300}, 0.5f, 0);
  const int32_t three = b.AddUInt8("three", {}, 0.5f, 0, {6});
  const int32_t out = b.AddUInt8("out", {1, 300}, 0.5f, 0);
  b.AddOperator(lt::op::kAdd, {in, three}, {out}, lt::AddOptions());
  b.SetInputs({in});
  b.SetOutputs({out});
  const auto model = b.Build();
  std::vector<uint8_t> input(300), expected(300);
  for (int i = 0; i < 300; ++i) {
    input[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 7) % 256);
    expected[static_cast<size_t>(i)] = static_cast<uint8_t>(std::min((i * 7) % 256 + 6, 255));
  }
  for (const auto backend : {lr::KernelFamilies::ReferenceOnly(), lr::KernelFamilies::All()}) {
    const auto r = lt::RunModel(model, {input}, backend);
    INFO(lr::BackendName(backend) << ": " << r.error);
    REQUIRE(r.error.empty());
    CHECK(r.outputs[0] == expected);
  }
}
