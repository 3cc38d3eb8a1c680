// Lookout's own DEPTHWISE_CONV_2D kernels (kernels/x86/dwconv_avx512.cc on
// x86-64 with AVX-512, kernels/arm/dwconv_s8_neon.cc for int8 on 64-bit Arm) against the fp32 requantization defined here (XNNPACK's:
// float(acc) x scale in float, rounded to nearest even), byte for byte over
// a sweep of shapes, windows, strides, dilations, paddings and
// quantizations; XNNPACK's operator for the node (LOOKOUT_NO_OWN_KERNELS=1)
// against the same definition where it requantizes in fp32 (x86-64); and
// within 1 LSB of a double-precision depthwise convolution.
#include "support/catch_compat.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
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
using tflite::Padding;

namespace {

struct Case {
  int32_t h, w, c, kh, kw, stride, dilation;
  Padding padding;
  bool int8;
  bool bias;
  ActivationFunctionType activation;
  // uint8 only: the filter's zero point and the range of its bytes (the
  // VNNI 3x3 path takes channels whose w − zw all fit int8 differently).
  int32_t filter_zp_u8 = 131;
  int filter_lo = 0, filter_hi = 255;
  // int8 only: one filter byte is -128 (outside TFLite's int8 scheme).
  bool int8_min_weight = false;
};

struct Built {
  std::vector<uint8_t> model;
  int32_t out_h, out_w;
  std::vector<uint8_t> filter;  // raw bytes, [kh][kw][c]
  std::vector<int32_t> bias;
  std::vector<float> filter_scale;
  int32_t filter_zp;
};

constexpr float kInScale = 0.02f, kOutScale = 0.05f;
constexpr int32_t kInZpU8 = 121, kOutZpU8 = 109, kInZpS8 = -7, kOutZpS8 = 5;

int32_t OutSize(Padding padding, int32_t in, int32_t k, int32_t stride, int32_t dilation) {
  const int32_t effective = (k - 1) * dilation + 1;
  return padding == Padding::SAME ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}

Built Build(const Case& k, std::mt19937& rng) {
  Built b;
  b.out_h = OutSize(k.padding, k.h, k.kh, k.stride, k.dilation);
  b.out_w = OutSize(k.padding, k.w, k.kw, k.stride, k.dilation);
  std::uniform_int_distribution<int> byte(0, 255), bias(-3000, 3000);
  const size_t taps = static_cast<size_t>(k.kh * k.kw * k.c);
  b.filter.resize(taps);
  std::uniform_int_distribution<int> filter_byte(k.filter_lo, k.filter_hi);
  for (auto& v : b.filter) v = static_cast<uint8_t>(k.int8 ? byte(rng) % 255 - 127 : filter_byte(rng));
  if (k.int8_min_weight) b.filter[b.filter.size() / 2] = 0x80;
  if (k.bias) {
    b.bias.resize(static_cast<size_t>(k.c));
    for (auto& v : b.bias) v = bias(rng);
  }
  lt::ModelBuilder m;
  int32_t in, filter, out;
  if (k.int8) {
    b.filter_zp = 0;
    for (int32_t c = 0; c < k.c; ++c) b.filter_scale.push_back(0.01f + 0.003f * static_cast<float>(c % 7));
    in = m.AddInt8("in", {1, k.h, k.w, k.c}, kInScale, kInZpS8);
    filter = m.AddTensor("filter", {1, k.kh, k.kw, k.c}, tflite::TensorType::INT8,
                         {b.filter_scale, std::vector<int64_t>(static_cast<size_t>(k.c), 0), 3}, b.filter);
    out = m.AddInt8("out", {1, b.out_h, b.out_w, k.c}, kOutScale, kOutZpS8);
  } else {
    b.filter_zp = k.filter_zp_u8;
    b.filter_scale = {0.015f};
    in = m.AddUInt8("in", {1, k.h, k.w, k.c}, kInScale, kInZpU8);
    filter = m.AddUInt8("filter", {1, k.kh, k.kw, k.c}, 0.015f, b.filter_zp, b.filter);
    out = m.AddUInt8("out", {1, b.out_h, b.out_w, k.c}, kOutScale, kOutZpU8);
  }
  const int32_t bias_tensor = k.bias ? m.AddInt32("bias", {k.c}, b.bias) : -1;
  m.AddOperator(lt::op::kDepthwiseConv2D, {in, filter, bias_tensor}, {out},
                lt::DepthwiseConv2DOptions(k.padding, k.stride, k.stride, 1, k.activation, k.dilation, k.dilation),
                k.int8 ? 3 : 1);
  m.SetInputs({in});
  m.SetOutputs({out});
  b.model = m.Build();
  return b;
}

// Straight from the definition: Σ (x − zx)(w − zw) + bias, scaled by
// in × filter / out, rounded, plus the output zero point; in double, or
// (`fp32`) with fp32 requantization: the int32 sum times the scale
// formed in float, rounded to nearest even.
std::vector<int> Expected(const Case& k, const Built& b, const std::vector<uint8_t>& input, bool fp32) {
  const int32_t in_zp = k.int8 ? kInZpS8 : kInZpU8, out_zp = k.int8 ? kOutZpS8 : kOutZpU8;
  const auto value = [&](uint8_t byte) { return k.int8 ? static_cast<int>(static_cast<int8_t>(byte)) : static_cast<int>(byte); };
  const int32_t pad_h = k.padding == Padding::SAME
                            ? std::max(0, ((b.out_h - 1) * k.stride + (k.kh - 1) * k.dilation + 1 - k.h) / 2)
                            : 0;
  const int32_t pad_w = k.padding == Padding::SAME
                            ? std::max(0, ((b.out_w - 1) * k.stride + (k.kw - 1) * k.dilation + 1 - k.w) / 2)
                            : 0;
  int lo = k.int8 ? -128 : 0, hi = k.int8 ? 127 : 255;
  if (k.activation == ActivationFunctionType::RELU6) {
    lo = std::max(lo, out_zp);
    hi = std::min(hi, out_zp + static_cast<int>(std::round(6.0 / kOutScale)));
  }
  std::vector<int> out;
  for (int32_t oy = 0; oy < b.out_h; ++oy) {
    for (int32_t ox = 0; ox < b.out_w; ++ox) {
      for (int32_t c = 0; c < k.c; ++c) {
        int64_t acc = k.bias ? b.bias[static_cast<size_t>(c)] : 0;
        for (int32_t ky = 0; ky < k.kh; ++ky) {
          for (int32_t kx = 0; kx < k.kw; ++kx) {
            const int32_t iy = oy * k.stride - pad_h + ky * k.dilation;
            const int32_t ix = ox * k.stride - pad_w + kx * k.dilation;
            if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
            const int x = value(input[static_cast<size_t>((iy * k.w + ix) * k.c + c)]);
            const int w = value(b.filter[static_cast<size_t>((ky * k.kw + kx) * k.c + c)]);
            acc += static_cast<int64_t>(x - in_zp) * (w - b.filter_zp);
          }
        }
        const float filter_scale = b.filter_scale[b.filter_scale.size() > 1 ? static_cast<size_t>(c) : 0];
        if (fp32) {
          const float f = static_cast<float>(static_cast<int32_t>(acc)) * (kInScale * filter_scale / kOutScale);
          const float clamped = std::clamp(f, static_cast<float>(lo - out_zp), static_cast<float>(hi - out_zp));
          out.push_back(static_cast<int>(std::nearbyint(clamped)) + out_zp);
          continue;
        }
        const double scale = static_cast<double>(kInScale) * static_cast<double>(filter_scale) /
                             static_cast<double>(kOutScale);
        const double q = std::round(static_cast<double>(acc) * scale) + out_zp;
        out.push_back(static_cast<int>(std::clamp(q, static_cast<double>(lo), static_cast<double>(hi))));
      }
    }
  }
  return out;
}

struct Output {
  std::string error;
  lr::KernelFamily family = lr::KernelFamily::kReference;
  std::vector<uint8_t> bytes;
};

// Runs the one-node model with `options`.
Output RunNode(const std::vector<uint8_t>& model_bytes, const std::vector<uint8_t>& input,
               const lr::InterpreterOptions& options) {
  Output r;
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
  auto in = interp.input_data(0);
  std::copy(input.begin(), input.end(), in.begin());
  status = interp.Invoke();
  if (!status.ok()) {
    r.error = status.message();
    return r;
  }
  auto out = interp.output_data(0);
  r.bytes.assign(out.begin(), out.end());
  return r;
}

}  // namespace

TEST_CASE("own DEPTHWISE_CONV_2D kernels equal the fp32 definition", "[kernels][depthwise]") {
  std::mt19937 rng(20261129);
  std::vector<Case> cases;
  for (const bool int8 : {false, true}) {
    for (const int32_t c : {1, 5, 16, 23, 40}) {
      cases.push_back({9, 11, c, 3, 3, 1, 1, Padding::SAME, int8, true, ActivationFunctionType::RELU6});
      cases.push_back({9, 11, c, 3, 3, 2, 1, Padding::SAME, int8, true, ActivationFunctionType::NONE});
      cases.push_back({10, 7, c, 3, 3, 1, 1, Padding::VALID, int8, false, ActivationFunctionType::NONE});
      cases.push_back({8, 13, c, 3, 3, 2, 1, Padding::VALID, int8, true, ActivationFunctionType::RELU6});
    }
    cases.push_back({6, 6, 17, 5, 5, 1, 1, Padding::SAME, int8, true, ActivationFunctionType::NONE});
    cases.push_back({12, 12, 8, 3, 3, 1, 2, Padding::SAME, int8, true, ActivationFunctionType::NONE});
    cases.push_back({12, 14, 32, 3, 3, 1, 2, Padding::SAME, int8, true, ActivationFunctionType::RELU6});
    cases.push_back({13, 15, 48, 3, 3, 2, 2, Padding::VALID, int8, true, ActivationFunctionType::NONE});
    cases.push_back({9, 12, 16, 1, 1, 1, 1, Padding::VALID, int8, true, ActivationFunctionType::NONE});
    cases.push_back({11, 11, 32, 7, 7, 2, 1, Padding::SAME, int8, true, ActivationFunctionType::RELU6});
    cases.push_back({7, 5, 33, 2, 1, 1, 1, Padding::VALID, int8, true, ActivationFunctionType::NONE});
    cases.push_back({1, 1, 20, 3, 3, 1, 1, Padding::SAME, int8, true, ActivationFunctionType::NONE});
    cases.push_back({3, 64, 16, 3, 3, 1, 1, Padding::SAME, int8, true, ActivationFunctionType::RELU6});
    // 3x3, dilation 1 (the VNNI path where the CPU has it): widths that end
    // the four-output loops at every remainder, tiny images whose windows
    // cross both edges, both strides and paddings, channel tails.
    for (const int32_t w : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 19, 22, 30}) {
      for (const int32_t stride : {1, 2, 3}) {
        for (const Padding padding : {Padding::SAME, Padding::VALID}) {
          if (padding == Padding::VALID && w < 3) continue;
          const int32_t c = w % 3 == 0 ? 16 : w % 3 == 1 ? 37 : 48;
          const int32_t h = 1 + (w + stride) % 6;
          if (padding == Padding::VALID && h < 3) continue;
          cases.push_back({h, w, c, 3, 3, stride, 1, padding, int8, w % 2 == 0,
                           w % 4 < 2 ? ActivationFunctionType::RELU6 : ActivationFunctionType::NONE});
        }
      }
    }
  }
  // uint8 filters: all w − zw within int8 (zero point 0, 1, 255 or a narrow
  // range), or not (zero point 0: the generic path; else w − 128 and a
  // column sum).
  for (const int32_t zp : {0, 1, 64, 131, 255}) {
    for (const int32_t stride : {1, 2}) {
      cases.push_back({7, 13, 40, 3, 3, stride, 1, Padding::SAME, false, true, ActivationFunctionType::NONE, zp, 0, 255});
      cases.push_back({6, 10, 21, 3, 3, stride, 1, Padding::SAME, false, true, ActivationFunctionType::RELU6, zp,
                       std::max(0, zp - 128), std::min(255, zp + 127)});
      cases.push_back({5, 12, 33, 3, 3, stride, 1, Padding::VALID, false, false, ActivationFunctionType::NONE, zp,
                       std::max(0, zp - 60), std::min(255, zp + 60)});
    }
  }
  for (const Case& k : cases) {
    const Built b = Build(k, rng);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> input(static_cast<size_t>(k.h * k.w * k.c));
    for (auto& v : input) v = static_cast<uint8_t>(byte(rng));
    INFO("h " << k.h << " w " << k.w << " c " << k.c << " kernel " << k.kh << "x" << k.kw << " stride " << k.stride
              << " dilation " << k.dilation << (k.padding == Padding::SAME ? " SAME" : " VALID")
              << (k.int8 ? " int8 per-channel" : " uint8"));
    const auto value = [&](uint8_t byte) { return k.int8 ? static_cast<int>(static_cast<int8_t>(byte)) : static_cast<int>(byte); };
    const auto values = [&](const std::vector<uint8_t>& bytes) {
      std::vector<int> v;
      for (uint8_t byte : bytes) v.push_back(value(byte));
      return v;
    };
    const auto fp32 = Expected(k, b, input, true);
    const Output xnn = RunNode(b.model, input, lt::XnnpackOptions());
    INFO(xnn.error);
    REQUIRE(xnn.error.empty());
    CHECK(xnn.family == lt::XnnpackFamily());
    if (lt::XnnpackRequantizesInFp32()) CHECK(values(xnn.bytes) == fp32);
    for (const auto& variant : lt::OwnDepthwiseVariants()) {
      INFO("own kernel: " << variant.name);
      const Output own = RunNode(b.model, input, variant.Options(1));
      const Output own2 = RunNode(b.model, input, variant.Options(2));
      INFO(own.error);
      REQUIRE(own.error.empty());
      if (!k.int8 && !variant.takes_uint8) {
        CHECK(own.family == lt::XnnpackFamily());
        continue;
      }
      CHECK(own.family == variant.family);
      CHECK(values(own.bytes) == fp32);
      CHECK(own2.bytes == own.bytes);
    }
    const auto expected = Expected(k, b, input, false);
    REQUIRE(expected.size() == fp32.size());
    int worst = 0;
    for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(fp32[i] - expected[i]));
    CHECK(worst <= 1);
  }
}

#if defined(__aarch64__)
// The NEON kernel sums two int8 products in int16, exact only while no
// filter byte is -128 (TFLite's int8 scheme uses [-127, 127]); a filter
// holding one goes to XNNPACK.
TEST_CASE("on arm64, an int8 DEPTHWISE_CONV_2D filter holding -128 stays with XNNPACK", "[kernels][depthwise]") {
  std::mt19937 rng(20261201);
  for (const bool min_weight : {false, true}) {
    Case k{8, 9, 32, 3, 3, 1, 1, Padding::SAME, true, true, ActivationFunctionType::NONE};
    k.int8_min_weight = min_weight;
    const Built b = Build(k, rng);
    std::vector<uint8_t> input(static_cast<size_t>(k.h * k.w * k.c), 0x80);  // all -128: the worst products
    const Output own = RunNode(b.model, input, lr::InterpreterOptions{});
    INFO(own.error);
    REQUIRE(own.error.empty());
    CHECK(own.family == (min_weight ? lt::XnnpackFamily() : lr::KernelFamily::kOwnArm));
  }
}
#endif
