// Golden cases: our reference kernels must reproduce TensorFlow Lite 2.21's
// reference-kernel output byte for byte, and our XNNPACK backend must be no
// further from that reference than TensorFlow Lite's own XNNPACK delegate
// (*.xnnpack.out): as many top-1 agreements or more, and a max |difference|
// no larger, per model. The repository carries five cases of the default
// model (tests/data/golden); ../shared/golden has 13 for each shared model.
#include "support/catch_compat.h"

#include <filesystem>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "lookout/runtime/interpreter.h"
#include "support/test_support.h"

namespace lr = lookout::runtime;
namespace fs = std::filesystem;
using lookout::testing::HaveShared;
using lookout::testing::ReadFileBytes;
using lookout::testing::SharedDir;
using lookout::testing::SourceDir;

namespace {

// model -> image names, from the *.in.raw files.
std::map<std::string, std::vector<std::string>> GoldenCases(const fs::path& golden) {
  std::map<std::string, std::vector<std::string>> cases;
  for (const auto& entry : fs::directory_iterator(golden)) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".in.raw";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string stem = name.substr(0, name.size() - suffix.size());
    const size_t sep = stem.find("__");
    if (sep == std::string::npos) continue;
    cases[stem.substr(0, sep)].push_back(stem.substr(sep + 2));
  }
  return cases;
}

// Output values as integers, read as the output's dtype.
std::vector<int> Values(std::span<const uint8_t> bytes, lr::DataType type) {
  std::vector<int> v(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    v[i] = type == lr::DataType::kInt8 ? static_cast<int>(static_cast<int8_t>(bytes[i])) : static_cast<int>(bytes[i]);
  }
  return v;
}

size_t ArgMax(const std::vector<int>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

int MaxAbsDiff(const std::vector<int>& a, const std::vector<int>& b) {
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

fs::path BundledGolden() { return SourceDir() / "tests/data/golden"; }

// The repository's own model when it is one of them, else the shared one.
fs::path ModelPath(const std::string& model_name) {
  const fs::path bundled = SourceDir() / "models" / (model_name + ".tflite");
  return fs::exists(bundled) ? bundled : SharedDir() / "models" / (model_name + ".tflite");
}

std::unique_ptr<lr::Interpreter> Open(const std::string& model_name, lr::KernelFamilies backend, int threads) {
  const fs::path model_path = ModelPath(model_name);
  auto model = lr::Model::FromFile(model_path.string());
  INFO("model " << model_name << ": " << model.status().message());
  REQUIRE(model.ok());
  lr::InterpreterOptions options;
  options.kernels = backend;
  options.num_threads = threads;
  auto interpreter = lr::Interpreter::Create(*model, options);
  INFO(interpreter.status().message());
  REQUIRE(interpreter.ok());
  const auto status = (*interpreter)->AllocateTensors();
  INFO(status.message());
  REQUIRE(status.ok());
  return std::move(interpreter).value();
}

std::vector<uint8_t> Run(lr::Interpreter& interp, const std::vector<uint8_t>& input) {
  auto in = interp.input_data(0);
  REQUIRE(in.size() == input.size());
  std::copy(input.begin(), input.end(), in.begin());
  REQUIRE(interp.Invoke().ok());
  auto out = interp.output_data(0);
  return {out.begin(), out.end()};
}

// Every case of `golden` on the reference kernels; returns how many ran.
size_t CheckReference(const fs::path& golden) {
  REQUIRE(fs::is_directory(golden));
  const auto cases = GoldenCases(golden);

  size_t total = 0;
  for (const auto& [model_name, images] : cases) {
    auto interpreter = Open(model_name, lr::KernelFamilies::ReferenceOnly(), 1);
    auto& interp = *interpreter;
    for (const auto& image : images) {
      const auto input = ReadFileBytes(golden / (model_name + "__" + image + ".in.raw"));
      const auto expected = ReadFileBytes(golden / (model_name + "__" + image + ".ref.out"));
      auto in = interp.input_data(0);
      REQUIRE(in.size() == input.size());
      std::copy(input.begin(), input.end(), in.begin());
      REQUIRE(interp.Invoke().ok());
      auto out = interp.output_data(0);
      REQUIRE(out.size() == expected.size());
      size_t differing = 0;
      int max_diff = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] != expected[i]) {
          ++differing;
          max_diff = std::max(max_diff, std::abs(static_cast<int>(out[i]) - static_cast<int>(expected[i])));
        }
      }
      INFO(model_name << " / " << image << ": " << differing << " bytes differ, max |diff| " << max_diff);
      CHECK(differing == 0);
      ++total;
    }
  }
  return total;
}

// Every model of `golden` on the XNNPACK backend, 1 and 2 threads; returns
// how many models were checked.
size_t CheckFastPath(const fs::path& golden) {
  REQUIRE(fs::is_directory(golden));
  const auto cases = GoldenCases(golden);
  for (const auto& [model_name, images] : cases) {
    auto one = Open(model_name, lr::KernelFamilies::All(), 1);
    auto two = Open(model_name, lr::KernelFamilies::All(), 2);
    size_t fast_nodes = 0;
    for (size_t n = 0; n < one->node_count(); ++n) fast_nodes += one->node_details(n).family != lr::KernelFamily::kReference;
    INFO(model_name << ": " << fast_nodes << " of " << one->node_count() << " nodes off the reference kernels");
    CHECK(fast_nodes * 2 > one->node_count());
    const lr::DataType type = one->output_details(0).type;
    size_t ours_agree = 0, tflite_agree = 0;
    int ours_max = 0, tflite_max = 0;
    for (const auto& image : images) {
      const std::string stem = model_name + "__" + image;
      const auto input = ReadFileBytes(golden / (stem + ".in.raw"));
      const auto reference = Values(ReadFileBytes(golden / (stem + ".ref.out")), type);
      const auto tflite = Values(ReadFileBytes(golden / (stem + ".xnnpack.out")), type);
      const auto ours_bytes = Run(*one, input);
      // Threads split the work, never change the arithmetic.
      CHECK(Run(*two, input) == ours_bytes);
      const auto ours = Values(ours_bytes, type);
      REQUIRE(ours.size() == reference.size());
      REQUIRE(tflite.size() == reference.size());
      ours_agree += ArgMax(ours) == ArgMax(reference);
      tflite_agree += ArgMax(tflite) == ArgMax(reference);
      ours_max = std::max(ours_max, MaxAbsDiff(ours, reference));
      tflite_max = std::max(tflite_max, MaxAbsDiff(tflite, reference));
    }
    INFO(model_name << ": top-1 agreement ours " << ours_agree << " / TFLite " << tflite_agree << " of "
                    << images.size() << "; max |diff| ours " << ours_max << " / TFLite " << tflite_max);
    CHECK(ours_agree >= tflite_agree);
    CHECK(ours_max <= tflite_max);
  }  return cases.size();
}

constexpr char kNoXnnpack[] =
    "this build has no XNNPACK (LOOKOUT_WITH_XNNPACK=OFF): no fast path to hold against TFLite's";

bool HaveXnnpack() { return lr::CompiledKernelFamilies().contains(lr::KernelFamily::kXnnpack); }

}  // namespace

TEST_CASE("golden: the reference kernels give TFLite's reference outputs on the bundled cases", "[golden]") {
  CHECK(CheckReference(BundledGolden()) >= 5);
}

TEST_CASE("golden: the fast path is as close to the reference as TFLite's XNNPACK on the bundled cases",
          "[golden]") {
  if (!HaveXnnpack()) LOOKOUT_SKIP(kNoXnnpack);
  CHECK(CheckFastPath(BundledGolden()) >= 1);
}

TEST_CASE("golden: the reference kernels give TFLite's reference outputs on every shared model", "[golden]") {
  std::string why;
  if (!HaveShared("golden", &why)) LOOKOUT_SKIP(why);
  CHECK(CheckReference(SharedDir() / "golden") >= 100);
}

TEST_CASE("golden: the fast path is as close to the reference as TFLite's XNNPACK on every shared model",
          "[golden]") {
  std::string why;
  if (!HaveShared("golden", &why)) LOOKOUT_SKIP(why);
  if (!HaveXnnpack()) LOOKOUT_SKIP(kNoXnnpack);
  CHECK(CheckFastPath(SharedDir() / "golden") >= 8);
}
