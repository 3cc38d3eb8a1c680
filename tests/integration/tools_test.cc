// The lookout model tools as a user runs them: inspect, bench and export-c
// on real models. Expected facts come from the model files themselves
// (op counts read with flatc from the published MobileNet V2 model) and
// from the MobileNet V2 paper (300M multiply-adds at 1.0/224), never from
// the code under test.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using lookout::testing::BinaryDir;
using lookout::testing::ReadFileBytes;
using lookout::testing::RunToEnd;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using nlohmann::json;

std::string Lookout() { return (BinaryDir() / "bin/lookout").string(); }
std::string DefaultModel() { return (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string(); }

}  // namespace

TEST_CASE("lookout inspect reports tensors, ops, MACs and backends", "[integration][tools]") {
  TempDir dir;
  for (const std::string backend : {"xnnpack", "reference"}) {
    const auto r = RunToEnd({Lookout(), "inspect", "--json", "--backend", backend, DefaultModel()}, dir.path());
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json j = json::parse(r.out);
    const auto& in = j.at("inputs").at(0);
    CHECK(in.at("shape") == json::array({1, 224, 224, 3}));
    CHECK(in.at("dtype") == "UINT8");
    // The quantized MobileNet's input maps [0, 255] to [-1, 1]: scale 1/128, zero point 128.
    CHECK(in.at("scale").get<double>() == Approx(1.0 / 128));
    CHECK(in.at("zero_point") == 128);
    CHECK(j.at("outputs").at(0).at("shape") == json::array({1, 1001}));
    std::map<std::string, int> ops;
    for (const auto& op : j.at("ops")) ops[op.at("op").get<std::string>()] += op.at("count").get<int>();
    // Counted from the file with `flatc --json`.
    CHECK(ops == std::map<std::string, int>{{"ADD", 10}, {"AVERAGE_POOL_2D", 1}, {"CONV_2D", 36},
                                            {"DEPTHWISE_CONV_2D", 17}, {"RESHAPE", 1}, {"SOFTMAX", 1}});
    const auto& totals = j.at("totals");
    // MobileNet V2 paper, Table 3: 300M multiply-adds at width 1.0, 224x224.
    CHECK(totals.at("macs").get<double>() == Approx(300e6).epsilon(0.03));
    // 3.47M parameters (same table), plus biases counted as parameters here.
    CHECK(totals.at("parameters").get<double>() == Approx(3.5e6).epsilon(0.03));
    CHECK(totals.at("arena_bytes").get<uint64_t>() < totals.at("activation_bytes").get<uint64_t>());
    for (const auto& node : j.at("nodes")) {
      const std::string op = node.at("op");
      if (backend == "reference") {
        CHECK(node.at("backend") == "reference");
      } else if (op == "CONV_2D" || op == "DEPTHWISE_CONV_2D" || op == "ADD") {
        // XNNPACK's operator, or Lookout's own kernel where the CPU has one.
        CHECK((node.at("backend") == "xnnpack" || node.at("backend") == "lookout-x86" || node.at("backend") == "lookout-arm"));
      }
    }
    CHECK(j.at("unsupported").empty());
  }
  const auto text = RunToEnd({Lookout(), "inspect", DefaultModel()}, dir.path());
  CHECK(text.status == 0);
  CHECK(text.out.find("CONV_2D") != std::string::npos);
  CHECK(text.out.find("MACs") != std::string::npos);
}

TEST_CASE("lookout inspect and bench refuse a truncated model naming the problem", "[integration][tools]") {
  TempDir dir;
  const auto bytes = ReadFileBytes(DefaultModel());
  const fs::path cut = dir.path() / "cut.tflite";
  std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), 5000);
  for (const std::string tool : {"inspect", "bench"}) {
    const auto r = tool == "inspect" ? RunToEnd({Lookout(), "inspect", cut.string()}, dir.path())
                                     : RunToEnd({Lookout(), "bench", "--model", cut.string()}, dir.path());
    CHECK(r.status == 1);
    CHECK_FALSE(r.err.empty());
  }
}

TEST_CASE("lookout bench reports benchmark_model's figures and a per-node profile", "[integration][tools]") {
  TempDir dir;
  const std::string model = DefaultModel();
  const auto r = RunToEnd({Lookout(), "bench", "--model", model, "--runs", "7", "--warmup", "2", "--threads", "2",
                           "--profile", "--json"},
                          dir.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json j = json::parse(r.out);
  CHECK(j.at("count") == 7);
  CHECK(j.at("threads") == 2);
  CHECK(j.at("backend") == "xnnpack");
  const double min = j.at("min_us"), median = j.at("median_us"), p90 = j.at("p90_us"), p99 = j.at("p99_us"),
               max = j.at("max_us"), mean = j.at("mean_us");
  CHECK(0 < min);
  CHECK(min <= median);
  CHECK(median <= p90);
  CHECK(p90 <= p99);
  CHECK(p99 <= max);
  CHECK(min <= mean);
  CHECK(mean <= max);
  CHECK(j.at("std_us").get<double>() >= 0);
  CHECK(j.at("init_ms").get<double>() > 0);
  CHECK(j.at("first_invoke_us").get<double>() > 0);
  CHECK(j.at("arena_bytes").get<uint64_t>() <= j.at("activation_bytes").get<uint64_t>());
  CHECK(j.at("peak_rss_bytes").get<int64_t>() > 0);
  // 66 nodes (models/MANIFEST.md: 36 CONV_2D, 17 DEPTHWISE_CONV_2D, 10 ADD,
  // AVERAGE_POOL_2D, RESHAPE, SOFTMAX).
  const auto& nodes = j.at("profile").at("nodes");
  REQUIRE(nodes.size() == 66);
  double share = 0;
  for (const auto& n : nodes) share += n.at("share").get<double>();
  CHECK(share == Approx(1.0).epsilon(1e-6));
  for (size_t i = 1; i < nodes.size(); ++i) CHECK(nodes[i - 1].at("median_us") >= nodes[i].at("median_us"));
  int counted = 0;
  for (const auto& op : j.at("profile").at("ops")) counted += op.at("count").get<int>();
  CHECK(counted == 66);

  // --min-secs without --runs: at least that long of runs.
  const auto timed = RunToEnd({Lookout(), "bench", "--model", model, "--min-secs", "0.3", "--json"}, dir.path());
  REQUIRE(timed.status == 0);
  const json t = json::parse(timed.out);
  // The timed invokes fill the 0.3 s but for the loop's own few µs per run.
  CHECK(t.at("count").get<double>() * t.at("mean_us").get<double>() >= 0.27e6);
}

TEST_CASE("lookout export-c writes an aligned C array that compiles and round-trips", "[integration][tools]") {
  TempDir dir;
  // Any model file round-trips; a small one keeps the compile short.
  const fs::path model = SourceDir() / "tests/data/fuzz_corpus/ok_conv_same_u8.tflite";
  const auto r = RunToEnd({Lookout(), "export-c", model.string(), "--name", "tiny model", "--output-dir",
                           dir.path().string()},
                          dir.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  REQUIRE(fs::exists(dir.path() / "tiny_model.h"));
  REQUIRE(fs::exists(dir.path() / "tiny_model.cc"));
  // A firmware-style user: include the header, link the array, check it.
  std::ofstream(dir.path() / "main.cc") << R"(#include "tiny_model.h"
#include <cstdint>
#include <cstdio>
int main(int argc, char** argv) {
  if (argc != 2 || reinterpret_cast<std::uintptr_t>(tiny_model) % 16 != 0) return 2;
  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr || std::fwrite(tiny_model, 1, tiny_model_len, f) != tiny_model_len) return 3;
  return std::fclose(f) == 0 ? 0 : 4;
}
)";
  const fs::path exe = dir.path() / "roundtrip";
  const auto built = RunToEnd({LOOKOUT_CXX_COMPILER, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I",
                               dir.path().string(), (dir.path() / "main.cc").string(),
                               (dir.path() / "tiny_model.cc").string(), "-o", exe.string()},
                              dir.path(), std::chrono::seconds(300));
  INFO(built.err);
  REQUIRE(built.status == 0);
  const fs::path copy = dir.path() / "copy.tflite";
  const auto ran = RunToEnd({exe.string(), copy.string()}, dir.path());
  REQUIRE(ran.status == 0);
  CHECK(ReadFileBytes(copy) == ReadFileBytes(model));
}
