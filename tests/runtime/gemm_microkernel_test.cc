// The GEMM microkernels alone, outside any node: one tile call on inputs
// small enough to work out by hand, packed as each kernel's header
// documents (kernels/x86/gemm.h, kernels/arm/gemm.h), checked for every
// tile height.
#include "support/catch_compat.h"

#include <cstdint>
#include <vector>

#include "runtime/own_kernels.h"
#include "src/graph.h"
#if defined(__x86_64__)
#include "kernels/x86/gemm.h"
#include "kernels/x86/gemm_packing.h"
#elif defined(__aarch64__)
#include "kernels/arm/gemm.h"
#endif

namespace lt = lookout::testing;
namespace lr = lookout::runtime;
namespace li = lookout::runtime::internal;

// Two output channels over K = 4 input bytes, worked out by hand.
//   uint8, za = 3, zw = 1, a = {5, 3, 1, 7}: a - za = {2, 0, -2, 4}.
//   channel 0: w = {2, 1, 0, 3}, w - zw = {1, 0, -1, 2}: 2 + 0 + 2 + 8 = 12,
//     + bias 3 = 15; x 0.5 = 7.5 -> 8 (ties to even); + zero point 10 = 18.
//   channel 1: w = {1, 1, 1, 1}, w - zw = 0: bias -5; x 0.5 = -2.5 -> -2;
//     + 10 = 8.
//   int8, za = -1, a = {-3, 4, 0, 127}: a - za = {-2, 5, 1, 128}.
//   channel 0: w = {1, -1, 2, 1}: -2 - 5 + 2 + 128 = 123; x 0.5 = 61.5 ->
//     62; + zero point -5 = 57.
//   channel 1: w = {-127, 0, 0, 0}: 254; x 0.5 = 127; - 5 = 122, clamped to
//     act_max 100.
struct HandCase {
  bool int8;
  std::vector<uint8_t> a, w;  // w: [channel][k]
  int32_t za, zw, zo, bias[2];
  int32_t act_max;
  uint8_t expected[2];
};

const HandCase kCases[] = {
    {false, {5, 3, 1, 7}, {2, 1, 0, 3, 1, 1, 1, 1}, 3, 1, 10, {3, -5}, 255, {18, 8}},
    {true,
     {0xfd, 4, 0, 127},
     {1, 0xff, 2, 1, 0x81, 0, 0, 0},
     -1,
     0,
     -5,
     {0, 0},
     100,
     {57, 100}},
};

#if defined(__x86_64__)
TEST_CASE("x86 AVX-512 VNNI GEMM tile: two channels by hand, 1 to 8 pixels", "[kernels][gemm]") {
  if (!lt::CpuHasAvx512Vnni()) LOOKOUT_SKIP("needs a CPU with AVX-512 VNNI");
  for (const HandCase& c : kCases) {
    INFO((c.int8 ? "int8" : "uint8"));
    li::Tensor filter;
    filter.type = c.int8 ? lr::DataType::kInt8 : lr::DataType::kUInt8;
    filter.shape = {2, 1, 1, 4};
    filter.elements = 8;
    filter.zero_point = c.zw;
    std::vector<uint8_t> w = c.w;
    filter.data = w.data();
    li::Tensor bias;
    bias.type = lr::DataType::kInt32;
    std::vector<int32_t> bias_values = {c.bias[0], c.bias[1]};
    bias.data = reinterpret_cast<uint8_t*>(bias_values.data());
    const li::x86::PackedGemm packed = li::x86::PackVnniGemm(filter, &bias, {0.5f, 0.5f}, c.za, false);
    for (int pixels = 1; pixels <= li::x86::kGemmMr; ++pixels) {
      INFO(pixels << " pixels");
      std::vector<uint8_t> input, output(static_cast<size_t>(pixels) * 2, 0xee);
      std::vector<int32_t> corr;
      for (int p = 0; p < pixels; ++p) {
        input.insert(input.end(), c.a.begin(), c.a.end());
        corr.push_back(packed.row_coeff * li::x86::VnniRowSum(c.int8, c.a.data(), 4));
      }
      li::x86::GemmArgs t{};
      t.input = input.data();
      t.input_stride = 4;
      t.groups = 1;
      t.tail = 0;
      t.weights = packed.weights.get();
      t.corr = corr.data();
      t.row_coeff = packed.row_coeff;
      t.bias = packed.bias.data();
      t.scale = packed.scale.data();
      t.output = output.data();
      t.output_stride = 2;
      t.channels = 2;
      t.zero_point = c.zo;
      t.hi = static_cast<float>(c.act_max - c.zo);
      t.act_min = c.int8 ? -128 : 0;
      t.signed_out = c.int8;
      li::x86::VnniGemm(c.int8, false, 1, pixels)(t);
      for (int p = 0; p < pixels; ++p) {
        CHECK(static_cast<int>(output[static_cast<size_t>(p) * 2]) == c.expected[0]);
        CHECK(static_cast<int>(output[static_cast<size_t>(p) * 2 + 1]) == c.expected[1]);
      }
      if (!c.int8) {
        // The tile that sums each pixel's bytes itself gives the same.
        std::fill(output.begin(), output.end(), 0xee);
        li::x86::VnniGemm(false, true, 1, pixels)(t);
        for (int p = 0; p < pixels; ++p) CHECK(output[static_cast<size_t>(p) * 2] == c.expected[0]);
      }
    }
  }
}
#endif

#if defined(__aarch64__)
namespace {

// Runs one arm64 tile over `pixels` copies of the case's row, the weights
// packed as kernels/arm/gemm.h documents for `dot` or the mull kernels'
// plain kU8 / kS8 modes (a* = a, w* = w), the zero-point terms folded by
// hand: acc = bias - za sum w + (za zw K - zw sum a) ... written out per
// channel below.
std::vector<uint8_t> RunArmTile(const HandCase& c, bool dot, int pixels) {
  const size_t block = dot ? li::arm::kDotBlock : li::arm::kMullBlock;
  std::vector<uint8_t> packed(li::arm::kGemmKStep * block, 0);
  for (size_t ch = 0; ch < 2; ++ch) {
    for (size_t k = 0; k < 4; ++k) {
      const size_t at = dot ? (k / 4) * 64 + (ch / 4) * 16 + (ch % 4) * 4 + k % 4 : ch * 16 + k;
      packed[at] = c.w[ch * 4 + k];
    }
  }
  // sum (a - za)(w - zw) = sum a w - zw sum a - za sum w + K za zw.
  const auto value = [&](uint8_t byte) { return c.int8 ? static_cast<int32_t>(static_cast<int8_t>(byte)) : byte; };
  int32_t sum_a = 0;
  for (uint8_t b : c.a) sum_a += value(b);
  std::vector<int32_t> bias(block, 0);
  for (size_t ch = 0; ch < 2; ++ch) {
    int32_t sum_w = 0;
    for (size_t k = 0; k < 4; ++k) sum_w += value(c.w[ch * 4 + k]);
    bias[ch] = c.bias[ch] - c.za * sum_w + 4 * c.za * c.zw;
  }
  std::vector<float> scale(block, 0.5f);
  std::vector<uint8_t> input;
  std::vector<int32_t> corr;
  for (int p = 0; p < pixels; ++p) {
    input.insert(input.end(), c.a.begin(), c.a.end());
    input.resize(input.size() + 12, 0);  // a whole 16-byte step per pixel
    corr.push_back(-c.zw * sum_a);
  }
  input.resize(input.size() + 16, 0);
  std::vector<uint8_t> output(static_cast<size_t>(pixels) * 2, 0xee);
  li::arm::GemmArgs t{};
  t.input = input.data();
  t.input_stride = 16;
  t.steps = 1;
  t.tail_bytes = 0;
  t.weights = packed.data();
  t.block_bytes = packed.size();
  t.blocks = 1;
  t.corr = corr.data();
  t.bias = bias.data();
  t.scale = scale.data();
  t.output = output.data();
  t.output_stride = 2;
  t.channels = 2;
  t.zero_point = c.zo;
  t.act_min = c.int8 ? -128 : 0;
  t.act_max = c.act_max;
  const li::arm::GemmFn fn = dot ? li::arm::DotGemm(c.int8, pixels)
                                 : li::arm::MullGemm(c.int8 ? li::arm::MullMode::kS8 : li::arm::MullMode::kU8, pixels);
  fn(t);
  return output;
}

}  // namespace

TEST_CASE("arm64 NEON GEMM tiles: two channels by hand, 1 to 4 pixels", "[kernels][gemm]") {
  std::vector<bool> kinds = {false};
  if (lt::CpuHasArmDotProduct()) kinds.push_back(true);
  for (const bool dot : kinds) {
    for (const HandCase& c : kCases) {
      INFO((dot ? "dot product, " : "mull, ") << (c.int8 ? "int8" : "uint8"));
      for (int pixels = 1; pixels <= li::arm::kGemmMr; ++pixels) {
        INFO(pixels << " pixels");
        const std::vector<uint8_t> out = RunArmTile(c, dot, pixels);
        for (int p = 0; p < pixels; ++p) {
          CHECK(static_cast<int>(out[static_cast<size_t>(p) * 2]) == c.expected[0]);
          CHECK(static_cast<int>(out[static_cast<size_t>(p) * 2 + 1]) == c.expected[1]);
        }
      }
    }
  }
}
#endif
