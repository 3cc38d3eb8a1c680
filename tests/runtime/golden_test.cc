// Every golden case in ../shared/golden: our reference kernels must reproduce
// TensorFlow Lite 2.21's reference-kernel output byte for byte.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "lookout/runtime/interpreter.h"
#include "test_support.h"

namespace lr = lookout::runtime;
namespace fs = std::filesystem;
using lookout::testing::ReadFileBytes;
using lookout::testing::SharedDir;

TEST_CASE("reference kernels reproduce TFLite's reference outputs byte for byte", "[golden]") {
  const fs::path golden = SharedDir() / "golden";
  REQUIRE(fs::is_directory(golden));
  std::map<std::string, std::vector<std::string>> cases;  // model -> images
  for (const auto& entry : fs::directory_iterator(golden)) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".in.raw";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string stem = name.substr(0, name.size() - suffix.size());
    const size_t sep = stem.find("__");
    REQUIRE(sep != std::string::npos);
    cases[stem.substr(0, sep)].push_back(stem.substr(sep + 2));
  }
  REQUIRE(cases.size() >= 8);

  size_t total = 0;
  for (const auto& [model_name, images] : cases) {
    const fs::path model_path = SharedDir() / "models" / (model_name + ".tflite");
    auto model = lr::Model::FromFile(model_path.string());
    INFO("model " << model_name << ": " << model.status().message());
    REQUIRE(model.ok());
    auto interpreter = lr::Interpreter::Create(*model);
    INFO(interpreter.status().message());
    REQUIRE(interpreter.ok());
    auto& interp = **interpreter;
    const auto status = interp.AllocateTensors();
    INFO(status.message());
    REQUIRE(status.ok());
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
  CHECK(total >= 100);
}
