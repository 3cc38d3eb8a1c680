// Lookout's own pointwise CONV_2D / FULLY_CONNECTED kernels (families
// "lookout-x86": kernels/x86/ with AVX-512 VNNI, and "lookout-arm":
// kernels/arm/ on 64-bit Arm, each variant this CPU has) against the fp32
// requantization defined here (XNNPACK's: float(acc) x scale in float,
// rounded to nearest even), byte for byte over a sweep of shapes and
// quantizations; XNNPACK's own operator for the node
// (LOOKOUT_NO_OWN_KERNELS=1) against the same definition where it
// requantizes in fp32 (x86-64); within 1 LSB of a double-precision
// computation; and equal to a few results worked out by hand.
#include "support/catch_compat.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
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

struct Run {
  std::string error;
  std::vector<uint8_t> output;
  lr::KernelFamily family = lr::KernelFamily::kReference;  // of node 0
};

// Runs a one-input, one-output model with `options` (own_kernels.h: the
// options selecting XNNPACK or each own kernel).
Run RunOnce(const std::vector<uint8_t>& bytes, const std::vector<uint8_t>& input,
            const lr::InterpreterOptions& options) {
  Run r;
  auto model = lr::Model::FromBuffer(bytes);
  if (!model.ok()) {
    r.error = "load: " + model.status().message();
    return r;
  }
  auto interpreter = lr::Interpreter::Create(*model, options);
  if (!interpreter.ok()) {
    r.error = "create: " + interpreter.status().message();
    return r;
  }
  auto& interp = **interpreter;
  if (auto st = interp.AllocateTensors(); !st.ok()) {
    r.error = "allocate: " + st.message();
    return r;
  }
  auto in = interp.input_data(0);
  if (in.size() != input.size()) {
    r.error = "input size";
    return r;
  }
  std::memcpy(in.data(), input.data(), input.size());
  if (auto st = interp.Invoke(); !st.ok()) {
    r.error = "invoke: " + st.message();
    return r;
  }
  auto out = interp.output_data(0);
  r.output.assign(out.begin(), out.end());
  r.family = interp.node_details(0).family;
  return r;
}

enum class Kind { kUInt8, kInt8, kInt8PerChannel };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kUInt8: return "uint8";
    case Kind::kInt8: return "int8 per-tensor";
    case Kind::kInt8PerChannel: return "int8 per-channel";
  }
  return "?";
}

// One random pointwise problem, and the model computing it.
struct Problem {
  Kind kind = Kind::kUInt8;
  bool fully_connected = false;
  int ic = 1, oc = 1, pixels = 1;
  bool relu6 = false, has_bias = true;
  float in_scale = 0, out_scale = 0;
  std::vector<float> w_scale;
  int32_t in_zp = 0, w_zp = 0, out_zp = 0;
  std::vector<uint8_t> weights;  // [oc][ic], raw bytes
  std::vector<int32_t> bias;
  std::vector<uint8_t> input;    // [pixels][ic]

  bool is_signed() const { return kind != Kind::kUInt8; }
  int32_t qmin() const { return is_signed() ? -128 : 0; }
  int32_t qmax() const { return is_signed() ? 127 : 255; }

  std::vector<uint8_t> Build() const {
    lt::ModelBuilder b;
    const auto type = is_signed() ? tflite::TensorType::INT8 : tflite::TensorType::UINT8;
    // Pixels laid out as a 1 x H x W image (or a batch for FULLY_CONNECTED).
    int h = 1, w = pixels;
    for (int d = static_cast<int>(std::sqrt(pixels)); d >= 1; --d) {
      if (pixels % d == 0) {
        h = d;
        w = pixels / d;
        break;
      }
    }
    const std::vector<int32_t> in_shape =
        fully_connected ? std::vector<int32_t>{pixels, ic} : std::vector<int32_t>{1, h, w, ic};
    const std::vector<int32_t> out_shape =
        fully_connected ? std::vector<int32_t>{pixels, oc} : std::vector<int32_t>{1, h, w, oc};
    const std::vector<int32_t> w_shape =
        fully_connected ? std::vector<int32_t>{oc, ic} : std::vector<int32_t>{oc, 1, 1, ic};
    const int32_t in = b.AddTensor("in", in_shape, type, {{in_scale}, {in_zp}, 0});
    lt::Quant wq;
    wq.scale = w_scale;
    wq.zero_point.assign(w_scale.size(), w_zp);
    const int32_t wt = b.AddTensor("w", w_shape, type, wq, weights);
    int32_t bi = -1;
    if (has_bias) {
      std::vector<uint8_t> bytes(bias.size() * 4);
      std::memcpy(bytes.data(), bias.data(), bytes.size());
      lt::Quant bq;
      for (float s : w_scale) {
        bq.scale.push_back(in_scale * s);
        bq.zero_point.push_back(0);
      }
      bi = b.AddTensor("b", {oc}, tflite::TensorType::INT32, bq, bytes);
    }
    const int32_t out = b.AddTensor("out", out_shape, type, {{out_scale}, {out_zp}, 0});
    const auto act = relu6 ? ActivationFunctionType::RELU6 : ActivationFunctionType::NONE;
    if (fully_connected) {
      b.AddOperator(lt::op::kFullyConnected, {in, wt, bi}, {out}, lt::FullyConnectedOptions(act),
                    is_signed() ? 4 : 1);
    } else {
      b.AddOperator(lt::op::kConv2D, {in, wt, bi}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1, act),
                    is_signed() ? 3 : 1);
    }
    b.SetInputs({in});
    b.SetOutputs({out});
    return b.Build();
  }

  int32_t Value(uint8_t byte) const {
    return is_signed() ? static_cast<int32_t>(static_cast<int8_t>(byte)) : static_cast<int32_t>(byte);
  }

  // The fused activation's range as TFLite computes it.
  void Range(int32_t* lo, int32_t* hi) const {
    *lo = qmin();
    *hi = qmax();
    if (relu6) {
      *lo = std::max(*lo, out_zp);
      *hi = std::min(*hi, out_zp + static_cast<int32_t>(std::round(6.0 / out_scale)));
    }
  }

  // The output with fp32 requantization: the exact int32 accumulator
  // (wrapping), times (in_scale x w_scale) / out_scale formed in float,
  // rounded to nearest even, plus the zero point, clamped.
  std::vector<int32_t> Fp32Expected() const {
    int32_t lo, hi;
    Range(&lo, &hi);
    std::vector<int32_t> out(static_cast<size_t>(pixels) * oc);
    for (int p = 0; p < pixels; ++p) {
      for (int o = 0; o < oc; ++o) {
        int64_t acc = has_bias ? bias[o] : 0;
        for (int k = 0; k < ic; ++k) {
          acc += static_cast<int64_t>(Value(input[p * ic + k]) - in_zp) * (Value(weights[o * ic + k]) - w_zp);
        }
        out[p * oc + o] = Fp32Requantize(acc, w_scale.size() > 1 ? w_scale[o] : w_scale[0], lo, hi);
      }
    }
    return out;
  }

  int32_t Fp32Requantize(int64_t acc, float ws, int32_t lo, int32_t hi) const {
    const int32_t wrapped = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(acc)));
    const float scale = in_scale * ws / out_scale;
    const float f = static_cast<float>(wrapped) * scale;
    const float clamped = std::clamp(f, static_cast<float>(lo - out_zp), static_cast<float>(hi - out_zp));
    return static_cast<int32_t>(std::nearbyint(clamped)) + out_zp;
  }

  // The output computed in double precision, rounded to nearest, clamped to
  // the activation range TFLite computes.
  std::vector<int32_t> Expected() const {
    int32_t lo, hi;
    Range(&lo, &hi);
    std::vector<int32_t> out(static_cast<size_t>(pixels) * oc);
    for (int p = 0; p < pixels; ++p) {
      for (int o = 0; o < oc; ++o) {
        int64_t acc = has_bias ? bias[o] : 0;
        for (int k = 0; k < ic; ++k) {
          acc += static_cast<int64_t>(Value(input[p * ic + k]) - in_zp) *
                 (Value(weights[o * ic + k]) - w_zp);
        }
        const double ws = w_scale.size() > 1 ? w_scale[o] : w_scale[0];
        const double real = static_cast<double>(acc) * in_scale * ws / out_scale;
        const double q = std::nearbyint(real) + out_zp;
        out[p * oc + o] = static_cast<int32_t>(std::clamp<double>(q, lo, hi));
      }
    }
    return out;
  }
};

Problem RandomProblem(std::mt19937& rng, Kind kind, int ic, int oc, int pixels, bool fc) {
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto integer = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  Problem p;
  p.kind = kind;
  p.fully_connected = fc;
  p.ic = ic;
  p.oc = oc;
  p.pixels = pixels;
  p.relu6 = integer(0, 1) == 1;
  p.has_bias = integer(0, 3) != 0;
  p.in_scale = static_cast<float>(uniform(0.01, 0.1));
  const int channels = kind == Kind::kInt8PerChannel ? oc : 1;
  for (int c = 0; c < channels; ++c) p.w_scale.push_back(static_cast<float>(uniform(0.002, 0.02)));
  // Outputs spread over the range, with some saturation.
  p.out_scale = static_cast<float>(p.in_scale * p.w_scale[0] * std::sqrt(ic) * uniform(40, 250));
  if (p.is_signed()) {
    p.in_zp = integer(-128, 127);
    p.w_zp = 0;
    p.out_zp = integer(-40, 40);
  } else {
    p.in_zp = integer(0, 255);
    p.w_zp = integer(0, 255);
    p.out_zp = integer(60, 200);
  }
  p.weights.resize(static_cast<size_t>(oc) * ic);
  for (auto& w : p.weights) w = static_cast<uint8_t>(integer(0, 255));
  p.bias.resize(static_cast<size_t>(oc));
  for (auto& b : p.bias) b = integer(-30000, 30000);
  p.input.resize(static_cast<size_t>(pixels) * ic);
  for (auto& x : p.input) x = static_cast<uint8_t>(integer(0, 255));
  return p;
}

std::vector<int32_t> Values(const Problem& p, const std::vector<uint8_t>& bytes) {
  std::vector<int32_t> v(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) v[i] = p.Value(bytes[i]);
  return v;
}

// Every own kernel of this CPU and (on x86-64) XNNPACK equal the fp32
// definition byte for byte, which is within 1 LSB of double precision.
void CheckOutputs(const Problem& p, const std::vector<uint8_t>& model, const std::vector<int32_t>& fp32,
                  int threads) {
  const Run xnn = RunOnce(model, p.input, lt::XnnpackOptions(threads));
  INFO(xnn.error);
  REQUIRE(xnn.error.empty());
  CHECK(xnn.family == lt::XnnpackFamily());
  if (lt::XnnpackRequantizesInFp32()) CHECK(Values(p, xnn.output) == fp32);
  for (const auto& variant : lt::OwnPointwiseVariants()) {
    INFO("own kernel: " << variant.name);
    const Run own = RunOnce(model, p.input, variant.Options(threads));
    INFO(own.error);
    REQUIRE(own.error.empty());
    CHECK(own.family == variant.family);
    CHECK(Values(p, own.output) == fp32);
  }
}

void CheckProblem(const Problem& p, int threads = 1) {
  INFO(KindName(p.kind) << (p.fully_connected ? " FULLY_CONNECTED" : " CONV_2D") << " ic=" << p.ic
                        << " oc=" << p.oc << " pixels=" << p.pixels << " relu6=" << p.relu6
                        << " bias=" << p.has_bias << " threads=" << threads);
  const std::vector<int32_t> fp32 = p.Fp32Expected();
  CheckOutputs(p, p.Build(), fp32, threads);
  const std::vector<int32_t> expected = p.Expected();
  int32_t worst = 0;
  for (size_t i = 0; i < fp32.size(); ++i) worst = std::max(worst, std::abs(fp32[i] - expected[i]));
  CHECK(worst <= 1);
}

}  // namespace

TEST_CASE("pointwise CONV_2D: own kernels equal the fp32 definition over a sweep of shapes", "[pointwise]") {
  std::mt19937 rng(20240611);
  const int ics[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 32, 33, 63, 64, 65, 67};
  const int ocs[] = {1, 3, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 70};
  const int pixel_counts[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 50};
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (int ic : ics) {
      for (int oc : ocs) {
        const int pixels = pixel_counts[std::uniform_int_distribution<size_t>(0, 12)(rng)];
        CheckProblem(RandomProblem(rng, kind, ic, oc, pixels, false));
      }
    }
  }
}

TEST_CASE("pointwise CONV_2D: every pixel remainder, larger channels, 2 threads", "[pointwise]") {
  std::mt19937 rng(7);
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (int pixels = 1; pixels <= 50; ++pixels) {
      CheckProblem(RandomProblem(rng, kind, 19, 37, pixels, false), pixels % 2 + 1);
    }
    CheckProblem(RandomProblem(rng, kind, 144, 24, 56 * 56, false), 2);
    CheckProblem(RandomProblem(rng, kind, 320, 1280, 49, false), 2);
    CheckProblem(RandomProblem(rng, kind, 130, 200, 64, false), 1);
  }
}

TEST_CASE("pointwise FULLY_CONNECTED: own kernels equal the fp32 definition", "[pointwise]") {
  std::mt19937 rng(99);
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (int batch : {1, 3, 9}) {
      for (int ic : {1, 6, 64, 257}) {
        for (int oc : {1, 10, 33, 1001}) CheckProblem(RandomProblem(rng, kind, ic, oc, batch, true));
      }
    }
  }
}

// A CONV_2D with any window: gathered patches through the same kernel.
struct WindowCase {
  int h, w, ic, oc, kh, kw, stride, dilation;
  Padding padding;
};

void CheckWindow(std::mt19937& rng, Kind kind, const WindowCase& c, int threads) {
  // Reuse RandomProblem for the quantization and data: a problem with
  // K = kh * kw * ic "input channels" and h * w pixels gives the weights and
  // scales; the input is an h x w x ic image.
  Problem p = RandomProblem(rng, kind, c.kh * c.kw * c.ic, c.oc, 1, false);
  p.input.resize(static_cast<size_t>(c.h) * c.w * c.ic);
  for (auto& x : p.input) x = static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
  const int eff_h = (c.kh - 1) * c.dilation + 1, eff_w = (c.kw - 1) * c.dilation + 1;
  const bool same = c.padding == Padding::SAME;
  const int oh = same ? (c.h + c.stride - 1) / c.stride : (c.h - eff_h + c.stride) / c.stride;
  const int ow = same ? (c.w + c.stride - 1) / c.stride : (c.w - eff_w + c.stride) / c.stride;
  const int pad_top = same ? std::max(0, ((oh - 1) * c.stride + eff_h - c.h) / 2) : 0;
  const int pad_left = same ? std::max(0, ((ow - 1) * c.stride + eff_w - c.w) / 2) : 0;
  INFO(KindName(kind) << " window " << c.h << "x" << c.w << "x" << c.ic << " -> " << oh << "x" << ow << "x"
                      << c.oc << " kernel " << c.kh << "x" << c.kw << " stride " << c.stride << " dilation "
                      << c.dilation << (same ? " SAME" : " VALID") << " threads " << threads);
  REQUIRE(oh > 0);
  REQUIRE(ow > 0);

  lt::ModelBuilder b;
  const auto type = p.is_signed() ? tflite::TensorType::INT8 : tflite::TensorType::UINT8;
  const int32_t in = b.AddTensor("in", {1, c.h, c.w, c.ic}, type, {{p.in_scale}, {p.in_zp}, 0});
  lt::Quant wq;
  wq.scale = p.w_scale;
  wq.zero_point.assign(p.w_scale.size(), p.w_zp);
  const int32_t wt = b.AddTensor("w", {c.oc, c.kh, c.kw, c.ic}, type, wq, p.weights);
  std::vector<uint8_t> bias_bytes(p.bias.size() * 4);
  std::memcpy(bias_bytes.data(), p.bias.data(), bias_bytes.size());
  const int32_t bi = b.AddTensor("b", {c.oc}, tflite::TensorType::INT32, {}, bias_bytes);
  const int32_t out = b.AddTensor("out", {1, oh, ow, c.oc}, type, {{p.out_scale}, {p.out_zp}, 0});
  const auto act = p.relu6 ? ActivationFunctionType::RELU6 : ActivationFunctionType::NONE;
  b.AddOperator(lt::op::kConv2D, {in, wt, bi}, {out},
                lt::Conv2DOptions(c.padding, c.stride, c.stride, act, c.dilation, c.dilation),
                p.is_signed() ? 3 : 1);
  b.SetInputs({in});
  b.SetOutputs({out});
  const std::vector<uint8_t> model = b.Build();

  // The fp32 definition and double precision, directly.
  int32_t lo, hi;
  p.Range(&lo, &hi);
  std::vector<int32_t> fp32(static_cast<size_t>(oh) * ow * c.oc);
  int32_t worst = 0;
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      for (int o = 0; o < c.oc; ++o) {
        int64_t acc = p.bias[o];
        for (int ky = 0; ky < c.kh; ++ky) {
          for (int kx = 0; kx < c.kw; ++kx) {
            const int iy = oy * c.stride - pad_top + ky * c.dilation;
            const int ix = ox * c.stride - pad_left + kx * c.dilation;
            if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
            for (int i = 0; i < c.ic; ++i) {
              const int32_t a = p.Value(p.input[(iy * c.w + ix) * c.ic + i]) - p.in_zp;
              const int32_t w = p.Value(p.weights[((o * c.kh + ky) * c.kw + kx) * c.ic + i]) - p.w_zp;
              acc += static_cast<int64_t>(a) * w;
            }
          }
        }
        const float ws = p.w_scale.size() > 1 ? p.w_scale[o] : p.w_scale[0];
        const size_t at = static_cast<size_t>((oy * ow + ox) * c.oc + o);
        fp32[at] = p.Fp32Requantize(acc, ws, lo, hi);
        const double q = std::nearbyint(static_cast<double>(acc) * p.in_scale * ws / p.out_scale) + p.out_zp;
        const int32_t e = static_cast<int32_t>(std::clamp<double>(q, lo, hi));
        worst = std::max(worst, std::abs(fp32[at] - e));
      }
    }
  }
  CHECK(worst <= 1);
  CheckOutputs(p, model, fp32, threads);
}

TEST_CASE("gathered CONV_2D windows: own kernels equal the fp32 definition", "[pointwise]") {
  std::mt19937 rng(31337);
  const WindowCase cases[] = {
      {24, 24, 3, 32, 3, 3, 2, 1, Padding::SAME},   // MobileNet's first layer, smaller
      {23, 17, 3, 16, 3, 3, 2, 1, Padding::SAME},   // odd sizes
      {9, 11, 5, 17, 3, 3, 1, 1, Padding::SAME},
      {9, 11, 5, 17, 3, 3, 1, 1, Padding::VALID},
      {10, 10, 4, 33, 3, 3, 1, 2, Padding::SAME},   // dilation
      {12, 9, 8, 20, 1, 1, 2, 1, Padding::VALID},   // 1x1 stride 2
      {12, 9, 7, 20, 1, 1, 2, 1, Padding::SAME},
      {8, 8, 2, 9, 5, 5, 2, 1, Padding::SAME},
      {7, 6, 3, 50, 2, 3, 1, 1, Padding::VALID},
  };
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    int threads = 1;
    for (const WindowCase& c : cases) {
      CheckWindow(rng, kind, c, threads);
      threads = 3 - threads;
    }
  }
}

// The first-layer shape family: 3x3 stride 2 over 1..5 input channels
// (patches of 9..45 bytes, padded to whole groups of 4), odd and even image
// sizes, SAME and VALID, both types, channel tails; the last rows lie within
// 16 bytes of the input's end (the short-row copy falls back there).
TEST_CASE("gathered 3x3 stride 2 windows over few input channels", "[pointwise]") {
  std::mt19937 rng(4242);
  const int sizes[][2] = {{7, 7}, {9, 12}, {16, 15}, {21, 19}};
  const int ocs[] = {8, 32, 47};
  int threads = 1, pick = 0;
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (int ic = 1; ic <= 5; ++ic) {
      for (Padding padding : {Padding::SAME, Padding::VALID}) {
        const auto& hw = sizes[pick % 4];
        const int oc = ocs[pick % 3];
        ++pick;
        CheckWindow(rng, kind, {hw[0], hw[1], ic, oc, 3, 3, 2, 1, padding}, threads);
        threads = 3 - threads;
      }
    }
  }
  // A whole MobileNet-sized first layer, both types.
  CheckWindow(rng, Kind::kInt8PerChannel, {224, 224, 3, 32, 3, 3, 2, 1, Padding::SAME}, 2);
  CheckWindow(rng, Kind::kUInt8, {113, 225, 3, 32, 3, 3, 2, 1, Padding::SAME}, 1);
}

// The packed requantization groups 4, 2 or 1 pixels per 64 bytes (blocks of
// 1, 2 or 3 vectors): every block width and pixel remainder, with outputs
// saturating at both ends and RELU6 on and off.
TEST_CASE("pointwise requantization over block widths and pixel remainders", "[pointwise]") {
  std::mt19937 rng(515);
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (int oc : {5, 16, 20, 32, 40, 48, 64, 96, 100}) {
      for (int pixels : {1, 2, 3, 4, 5, 6, 7, 8, 13}) {
        Problem p = RandomProblem(rng, kind, 16, oc, pixels, false);
        p.out_scale *= 0.25f;  // more saturation
        CheckProblem(p);
      }
    }
  }
}

TEST_CASE("pointwise CONV_2D by hand", "[pointwise]") {
  SECTION("uint8: zero points, bias, ties to even") {
    // Input scale 0.5 zp 128; filter scale 0.25 zp 100; output scale 0.5 zp
    // 10: the requantization scale is 0.5 × 0.25 / 0.5 = 0.25. Filter {104,
    // 96} - 100 = {4, -4}, bias 2, so every acc is 2 mod 4 and every
    // acc × 0.25 a tie, rounded to even (TFLite's reference rounds away from
    // zero instead):
    //   {130, 124} -> {2, -4}: 8 + 16 + 2 = 26 -> 6.5 -> 6 -> 16
    //   {130, 130} -> {2, 2}:   8 - 8 + 2 = 2 -> 0.5 -> 0 -> 10
    //   {133, 128} -> {5, 0}:       20 + 2 = 22 -> 5.5 -> 6 -> 16
    //   {129, 128} -> {1, 0}:        4 + 2 = 6 -> 1.5 -> 2 -> 12
    //   {130, 127} -> {2, -1}:   8 + 4 + 2 = 14 -> 3.5 -> 4 -> 14
    //   {130, 128} -> {2, 0}:        8 + 2 = 10 -> 2.5 -> 2 -> 12
    //   {128, 129} -> {0, 1}:       -4 + 2 = -2 -> -0.5 -> 0 -> 10
    //   {128, 130} -> {0, 2}:       -8 + 2 = -6 -> -1.5 -> -2 -> 8
    //   {129, 130} -> {1, 2}:   4 - 8 + 2 = -2 -> -0.5 -> 0 -> 10
    //   {131, 128} -> {3, 0}:       12 + 2 = 14 -> 3.5 -> 4 -> 14
    const std::vector<uint8_t> input = {130, 124, 130, 130, 133, 128, 129, 128, 130, 127,
                                        130, 128, 128, 129, 128, 130, 129, 130, 131, 128};
    lt::ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 1, 10, 2}, 0.5f, 128);
    const int32_t w = b.AddUInt8("w", {1, 1, 1, 2}, 0.25f, 100, {104, 96});
    const int32_t bi = b.AddInt32("b", {1}, {2});
    const int32_t out = b.AddUInt8("out", {1, 1, 10, 1}, 0.5f, 10);
    b.AddOperator(lt::op::kConv2D, {in, w, bi}, {out}, lt::Conv2DOptions(Padding::VALID, 1, 1));
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::vector<uint8_t> expected = {16, 10, 16, 12, 14, 12, 10, 8, 10, 14};
    for (const auto& variant : lt::OwnPointwiseVariants()) {
      INFO("own kernel: " << variant.name);
      const Run r = RunOnce(b.Build(), input, variant.Options());
      INFO(r.error);
      REQUIRE(r.error.empty());
      CHECK(r.family == variant.family);
      CHECK(r.output == expected);
    }
    if (lt::XnnpackRequantizesInFp32()) CHECK(RunOnce(b.Build(), input, lt::XnnpackOptions()).output == expected);
  }
  SECTION("int8 per-channel: scales per output channel, ties to even, RELU6") {
    // Input scale 1 zp -1; filter channel 0 scale 0.5, channel 1 scale 0.25;
    // output scale 1 zp 0: requantization scales 0.5 and 0.25.
    // Pixel {4, 2} - (-1) = {5, 3}. Channel 0 filter {1, 0}: acc 5 × 0.5 =
    // 2.5 -> 2 (to even; TFLite's reference would give 3). Channel 1 filter
    // {2, 4}: 10 + 12 = 22 × 0.25 = 5.5 -> 6.
    // Pixel {6, -1} -> {7, 0}: channel 0: 7 × 0.5 = 3.5 -> 4; channel 1: 14
    // × 0.25 = 3.5 -> 4. Pixel {20, 20} -> {21, 21}: channel 0: 10.5 -> 10,
    // RELU6 clamps to 6; channel 1: (42 + 84) × 0.25 = 31.5 -> 6.
    // Pixel {-9, -1} -> {-8, 0}: channel 0: -4 -> RELU6 floor 0.
    const std::vector<int8_t> input = {4, 2, 6, -1, 20, 20, -9, -1};
    lt::ModelBuilder b;
    const int32_t in = b.AddInt8("in", {1, 2, 2, 2}, 1.0f, -1);
    lt::Quant wq{{0.5f, 0.25f}, {0, 0}, 0};
    const int32_t w = b.AddTensor("w", {2, 1, 1, 2}, tflite::TensorType::INT8, wq, lt::Bytes({1, 0, 2, 4}));
    const int32_t out = b.AddInt8("out", {1, 2, 2, 2}, 1.0f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out},
                  lt::Conv2DOptions(Padding::VALID, 1, 1, ActivationFunctionType::RELU6), 3);
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::vector<int8_t> expected = {2, 6, 4, 4, 6, 6, 0, 0};
    for (const auto& variant : lt::OwnPointwiseVariants()) {
      INFO("own kernel: " << variant.name);
      const Run r = RunOnce(b.Build(), lt::Bytes(input), variant.Options());
      INFO(r.error);
      REQUIRE(r.error.empty());
      CHECK(r.family == variant.family);
      CHECK(lt::AsInt8(r.output) == expected);
    }
    if (lt::XnnpackRequantizesInFp32()) CHECK(lt::AsInt8(RunOnce(b.Build(), lt::Bytes(input), lt::XnnpackOptions()).output) == expected);
  }
}

// The Arm kernels without dot products add two products per int16 lane
// where no weight is the one value that could overflow it (0 as uint8, -128
// as int8): the largest products, with every input and weight at an end of
// its range, still sum exactly. Blocks holding that weight take single
// products; both kinds meet in one node here.
TEST_CASE("pointwise: products at the ends of the 8-bit ranges", "[pointwise]") {
  std::mt19937 rng(8080);
  for (Kind kind : {Kind::kUInt8, Kind::kInt8, Kind::kInt8PerChannel}) {
    for (bool with_overflow_value : {false, true}) {
      Problem p = RandomProblem(rng, kind, 64, 12, 5, false);
      const bool is_signed = p.is_signed();
      std::uniform_int_distribution<int> coin(0, 1);
      for (auto& x : p.input) x = coin(rng) ? 0x00 : 0xFF;
      if (is_signed) {
        for (auto& x : p.input) x = x ? 0x7F : 0x80;  // 127, -128
      }
      for (auto& w : p.weights) {
        w = is_signed ? (coin(rng) ? 0x81 : 0x7F)   // -127, 127
                      : (coin(rng) ? 0x01 : 0xFF);  // 1, 255
      }
      // The overflow value in the first block of 4 channels only.
      if (with_overflow_value) p.weights[5] = is_signed ? 0x80 : 0x00;
      CheckProblem(p);
    }
  }
}
