// A model file is untrusted input: truncated, randomly corrupted and
// deliberately malformed models must be refused with a message that names the
// culprit, or run; never crash, hang or hit undefined behaviour (this binary
// also runs under ASan/UBSan).
#include "support/catch_compat.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "runtime/model_builder.h"
#include "src/model_access.h"
#include "support/splitmix64.h"
#include "support/test_support.h"
#include "tflite_schema_generated.h"

namespace lr = lookout::runtime;
namespace lt = lookout::testing;
namespace fs = std::filesystem;
using lookout::testing::Contains;
using lt::ModelBuilder;
using tflite::TensorType;

namespace {

struct RealModel {
  std::string name;
  std::vector<uint8_t> bytes;
};

// The repository's default model, and every shared model when ../shared is
// there.
const std::vector<RealModel>& RealModels() {
  static const std::vector<RealModel> models = [] {
    std::vector<RealModel> out;
    const fs::path bundled = lt::SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite";
    out.push_back({bundled.filename().string(), lt::ReadFileBytes(bundled)});
    if (lt::HaveShared("models", nullptr)) {
      for (const auto& entry : fs::directory_iterator(lt::SharedDir() / "models")) {
        if (entry.path().extension() != ".tflite" || entry.path().filename() == bundled.filename()) continue;
        out.push_back({entry.path().filename().string(), lt::ReadFileBytes(entry.path())});
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }();
  return models;
}

enum class Stage { kLoad, kCreate, kAllocate, kInvoke, kRan };

struct Outcome {
  Stage stage;          // the stage that failed, or kRan
  std::string message;  // its message
};

// Load -> Create -> AllocateTensors -> Invoke on a fixed input pattern.
Outcome Exercise(std::span<const uint8_t> bytes, lr::KernelFamilies backend = lr::KernelFamilies::All()) {
  auto model = lr::Model::FromBuffer(bytes);
  if (!model.ok()) return {Stage::kLoad, model.status().message()};
  lr::InterpreterOptions options;
  options.kernels = backend;
  auto interpreter = lr::Interpreter::Create(*model, options);
  if (!interpreter.ok()) return {Stage::kCreate, interpreter.status().message()};
  auto& interp = **interpreter;
  if (auto s = interp.AllocateTensors(); !s.ok()) return {Stage::kAllocate, s.message()};
  for (size_t i = 0; i < interp.input_count(); ++i) {
    auto in = interp.input_data(i);
    for (size_t k = 0; k < in.size(); ++k) in[k] = static_cast<uint8_t>(k * 37 + 11);
  }
  if (auto s = interp.Invoke(); !s.ok()) return {Stage::kInvoke, s.message()};
  return {Stage::kRan, {}};
}

using Rng = lookout::testing::SplitMix64;

// Byte ranges of a model that hold constant tensor data; everything else is
// the graph's structure (tables, vtables, offsets, shapes, quantization).
std::vector<std::pair<size_t, size_t>> WeightRanges(const lr::Model& model) {
  std::vector<std::pair<size_t, size_t>> ranges;
  const auto* buffers = lookout::runtime::internal::ModelAccess::Root(model)->buffers();
  if (buffers == nullptr) return ranges;
  for (const auto* b : *buffers) {
    if (b->data() == nullptr || b->data()->size() == 0) continue;
    const size_t begin = static_cast<size_t>(b->data()->data() - model.bytes().data());
    ranges.emplace_back(begin, begin + b->data()->size());
  }
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

std::vector<size_t> StructureOffsets(size_t size, const std::vector<std::pair<size_t, size_t>>& weights) {
  std::vector<size_t> out;
  size_t pos = 0;
  for (const auto& [begin, end] : weights) {
    for (; pos < begin; ++pos) out.push_back(pos);
    pos = std::max(pos, end);
  }
  for (; pos < size; ++pos) out.push_back(pos);
  return out;
}

// Every byte of every field present in `table` (as its vtable lists them),
// 4 bytes from each field's start: the field itself, or the start of a wider
// one (the exact widths are the schema's, not the vtable's).
void AddFieldBytes(const lr::Model& model, const void* table, std::vector<size_t>* out) {
  if (table == nullptr) return;
  const auto* t = static_cast<const flatbuffers::Table*>(table);
  const uint8_t* vtable = t->GetVTable();
  const auto vsize = flatbuffers::ReadScalar<flatbuffers::voffset_t>(vtable);
  for (flatbuffers::voffset_t field = 4; field < vsize; field += 2) {
    const uint8_t* p = t->GetAddressOf(field);
    if (p == nullptr) continue;
    const size_t begin = static_cast<size_t>(p - model.bytes().data());
    for (size_t k = begin; k < std::min(begin + 4, model.bytes().size()); ++k) out->push_back(k);
  }
}

template <typename T>
void AddVectorBytes(const lr::Model& model, const flatbuffers::Vector<T>* v, std::vector<size_t>* out) {
  if (v == nullptr) return;
  const size_t begin = static_cast<size_t>(v->Data() - model.bytes().data());
  for (size_t k = begin; k < begin + v->size() * sizeof(T); ++k) out->push_back(k);
}

// Bytes holding the graph's meaning: table fields (indices, types, options,
// quantization_dimension, ...) and the shape, index and quantization vectors.
struct Fields {
  std::vector<size_t> table;   // bytes of table fields
  std::vector<size_t> vector;  // bytes of shape, index and quantization vectors
};

Fields FieldOffsets(const lr::Model& model) {
  Fields f;
  std::vector<size_t>* out = &f.table;
  std::vector<size_t>* vec = &f.vector;
  const tflite::Model* root = lookout::runtime::internal::ModelAccess::Root(model);
  AddFieldBytes(model, root, out);
  for (const auto* oc : *root->operator_codes()) AddFieldBytes(model, oc, out);
  for (const auto* b : *root->buffers()) AddFieldBytes(model, b, out);
  const auto* sg = root->subgraphs()->Get(0);
  AddFieldBytes(model, sg, out);
  AddVectorBytes(model, sg->inputs(), vec);
  AddVectorBytes(model, sg->outputs(), vec);
  for (const auto* t : *sg->tensors()) {
    AddFieldBytes(model, t, out);
    AddVectorBytes(model, t->shape(), vec);
    if (const auto* q = t->quantization()) {
      AddFieldBytes(model, q, out);
      AddVectorBytes(model, q->scale(), vec);
      AddVectorBytes(model, q->zero_point(), vec);
    }
  }
  for (const auto* op : *sg->operators()) {
    AddFieldBytes(model, op, out);
    AddFieldBytes(model, op->builtin_options(), out);
    AddVectorBytes(model, op->inputs(), vec);
    AddVectorBytes(model, op->outputs(), vec);
  }
  return f;
}

// Offset of `p` (a pointer into `model`'s bytes) from the start of the model.
[[maybe_unused]] size_t OffsetIn(const lr::Model& model, const void* p) {
  return static_cast<size_t>(static_cast<const uint8_t*>(p) - model.bytes().data());
}

// Address of a scalar field of a verified table, or nullptr when the field is
// absent (holds its default). Generated tables inherit flatbuffers::Table
// privately; their bytes are the Table.
template <typename T>
const uint8_t* FieldAddress(const T* table, flatbuffers::voffset_t field) {
  return reinterpret_cast<const flatbuffers::Table*>(table)->GetAddressOf(field);
}

[[maybe_unused]] void PutInt32(std::vector<uint8_t>& bytes, size_t offset, int32_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(value));
}

std::shared_ptr<const lr::Model> Load(const std::vector<uint8_t>& bytes) {
  auto model = lr::Model::FromBuffer(bytes);
  INFO(model.status().message());
  REQUIRE(model.ok());
  return *model;
}

[[maybe_unused]] std::string ModelError(const std::vector<uint8_t>& bytes) {
  const Outcome outcome = Exercise(bytes);
  return outcome.stage == Stage::kRan ? std::string() : outcome.message;
}

// input [1,2,2,1] -> AVERAGE_POOL_2D 2x2 -> [1,1,1,1]: the smallest useful
// model.
std::vector<uint8_t> SmallModel() {
  ModelBuilder b;
  const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 0.5f, 0);
  const int32_t out = b.AddUInt8("out", {1, 1, 1, 1}, 0.5f, 0);
  b.AddOperator(lt::op::kAveragePool2D, {in}, {out},
                lt::Pool2DOptions(tflite::Padding::VALID, 1, 1, 2, 2));
  b.SetInputs({in});
  b.SetOutputs({out});
  return b.Build();
}

}  // namespace

TEST_CASE("the real models load and run unmodified", "[model_errors]") {
  std::string why;
  if (!lt::HaveShared("models", &why)) LOOKOUT_SKIP(why);
  REQUIRE(RealModels().size() >= 8);
  for (const auto& m : RealModels()) {
    INFO(m.name);
    const Outcome outcome = Exercise(m.bytes);
    INFO(outcome.message);
    CHECK(outcome.stage == Stage::kRan);
  }
}

TEST_CASE("truncated models are refused at load with a message", "[model_errors]") {
  for (const auto& m : RealModels()) {
    const size_t size = m.bytes.size();
    for (size_t cut : {size_t{0}, size_t{4}, size_t{8}, size_t{100}, size / 2}) {
      INFO(m.name << " cut to " << cut << " of " << size << " bytes");
      auto model = lr::Model::FromBuffer(std::span<const uint8_t>(m.bytes.data(), cut));
      CHECK_FALSE(model.ok());
      CHECK_FALSE(model.status().message().empty());
    }
    // Most of these files end in bytes the flatbuffer does not reference (a
    // ZIP of labels appended as TFLite metadata, or alignment padding), so
    // losing the last byte may leave a complete model: then it must be the
    // same model.
    INFO(m.name << " cut to " << size - 1 << " of " << size << " bytes");
    auto cut = lr::Model::FromBuffer(std::span<const uint8_t>(m.bytes.data(), size - 1));
    if (!cut.ok()) {
      CHECK_FALSE(cut.status().message().empty());
      continue;
    }
    auto full = Load(m.bytes);
    auto a = lr::Interpreter::Create(*cut);
    auto b = lr::Interpreter::Create(full);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE((*a)->AllocateTensors().ok());
    REQUIRE((*b)->AllocateTensors().ok());
    CHECK((*a)->node_count() == (*b)->node_count());
    CHECK((*a)->arena_bytes() == (*b)->arena_bytes());
    CHECK((*a)->input_details(0).shape == (*b)->input_details(0).shape);
    CHECK((*a)->output_details(0).shape == (*b)->output_details(0).shape);
  }
}

TEST_CASE("a model whose last byte is flatbuffer data is refused without it", "[model_errors]") {
  const auto bytes = SmallModel();
  REQUIRE(Exercise(bytes).stage == Stage::kRan);
  for (size_t cut = bytes.size() - 4; cut < bytes.size(); ++cut) {
    INFO("cut to " << cut << " of " << bytes.size());
    auto model = lr::Model::FromBuffer(std::span<const uint8_t>(bytes.data(), cut));
    CHECK_FALSE(model.ok());
    CHECK_THAT(model.status().message(), Contains("truncated or corrupt"));
  }
}

TEST_CASE("truncated model files are refused by FromFile", "[model_errors]") {
  const fs::path dir = fs::temp_directory_path() / ("lookout_trunc_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto bytes = SmallModel();
  for (size_t cut : {size_t{0}, size_t{7}, size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    const fs::path path = dir / ("cut_" + std::to_string(cut) + ".tflite");
    {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(cut));
    }
    INFO("cut to " << cut << " of " << bytes.size());
    auto model = lr::Model::FromFile(path.string());
    CHECK_FALSE(model.ok());
    CHECK_THAT(model.status().message(), Contains(path.string()));
  }
  auto missing = lr::Model::FromFile((dir / "missing.tflite").string());
  CHECK_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Contains("cannot open"));
  fs::remove_all(dir);
}

TEST_CASE("randomly corrupted models are refused with a message or run", "[model_errors][fuzz]") {
  // Copies per model, fewer for the models whose Invoke() is slow.
  const std::map<std::string, int> copies_for = {
      {"mobilenet_v1_0.25_128_quant.tflite", 300}, {"v3-small_224_1.0_uint8.tflite", 60}};
  // Without ../shared the default model alone must still reach every stage.
  const int kDefaultCopies = RealModels().size() > 1 ? 14 : 600;
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
  Rng rng(0x10C0017ull);
  std::map<Stage, int> stages;
  int total = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& m : RealModels()) {
    auto original = Load(m.bytes);
    const auto structure = StructureOffsets(m.bytes.size(), WeightRanges(*original));
    const auto fields = FieldOffsets(*original);
    REQUIRE(structure.size() > 1000);
    REQUIRE(fields.table.size() > 1000);
    REQUIRE(fields.vector.size() > 1000);
    const auto it = copies_for.find(m.name);
    const int copies = it != copies_for.end() ? it->second : kDefaultCopies;
    for (int copy = 0; copy < copies; ++copy, ++total) {
      std::vector<uint8_t> bytes = m.bytes;
      // Mostly one or two mutations: many more rarely get past the verifier.
      const size_t mutations = rng.Below(2) != 0 ? 1 + rng.Below(2) : 1 + rng.Below(16);
      std::string log;
      for (size_t k = 0; k < mutations; ++k) {
        size_t pos = 0;
        switch (rng.Below(8)) {
          case 0: pos = rng.Below(bytes.size()); break;
          case 1: case 2: pos = structure[rng.Below(structure.size())]; break;
          case 3: case 4: pos = fields.table[rng.Below(fields.table.size())]; break;
          default: pos = fields.vector[rng.Below(fields.vector.size())]; break;
        }
        const uint8_t old = bytes[pos];
        switch (rng.Below(3)) {
          case 0: bytes[pos] ^= static_cast<uint8_t>(1u << rng.Below(8)); break;
          case 1: bytes[pos] = static_cast<uint8_t>(rng.Next()); break;
          default: bytes[pos] = kInteresting[rng.Below(sizeof(kInteresting))]; break;
        }
        log += " @" + std::to_string(pos) + ":" + std::to_string(old) + "->" + std::to_string(bytes[pos]);
      }
      INFO(m.name << " copy " << copy << ":" << log);
      const Outcome outcome = Exercise(bytes);
      ++stages[outcome.stage];
      if (outcome.stage != Stage::kRan) {
        INFO("stage " << static_cast<int>(outcome.stage) << ": " << outcome.message);
        CHECK(outcome.stage != Stage::kInvoke);
        CHECK_FALSE(outcome.message.empty());
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(total << " corrupted copies: " << stages[Stage::kLoad] << " refused at load, "
       << stages[Stage::kCreate] << " at Create, " << stages[Stage::kAllocate]
       << " at AllocateTensors, " << stages[Stage::kRan] << " ran; " << seconds << " s");
  // The fixed seed must keep reaching every stage, or the test stops testing.
  CHECK(stages[Stage::kLoad] > 0);
  CHECK(stages[Stage::kCreate] > 0);
  CHECK(stages[Stage::kAllocate] > 0);
  CHECK(stages[Stage::kRan] > 0);
}

TEST_CASE("broken fields are refused with a message naming the tensor, node and field",
          "[model_errors]") {
  const auto pool = lt::Pool2DOptions(tflite::Padding::VALID, 1, 1, 2, 2);
  SECTION("a tensor's buffer index out of range") {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 0.5f, 0);
    const int32_t out = b.AddUInt8("pooled", {1, 1, 1, 1}, 0.5f, 0);
    b.SetBufferIndex(out, 99);
    b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, pool);
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("pooled") && Contains("buffer") && Contains("99"));
  }
  SECTION("an operator input index out of range") {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 1}, 0.5f, 0);
    b.AddOperator(lt::op::kAveragePool2D, {42}, {out}, pool);
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("node 0") && Contains("AVERAGE_POOL_2D") && Contains("42"));
  }
  SECTION("a negative dimension") {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, -2, 2, 1}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 1}, 0.5f, 0);
    b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, pool);
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("'in'") || Contains("\"in\"") || Contains("tensor 0"));
    CHECK_THAT(message, Contains("-2"));
  }
  SECTION("an operator we do not implement") {
    ModelBuilder b;
    const int32_t x = b.AddUInt8("x", {1, 4}, 0.5f, 0);
    const int32_t y = b.AddUInt8("y", {1, 4}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 0);
    b.AddOperator(lt::op::kSub, {x, y}, {out});
    b.SetInputs({x, y});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("node 0") && Contains("SUB"));
  }
  SECTION("a custom operator") {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 4}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 0);
    b.AddOperator(lt::op::kCustom, {in}, {out}, {}, 1, "MyFancyOp");
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("node 0") && Contains("MyFancyOp"));
  }
  SECTION("per-channel scales that do not match the quantized dimension") {
    ModelBuilder b;
    const int32_t in = b.AddInt8("in", {1, 1, 1, 2}, 1.0f, 0);
    // 3 scales for a quantized_dimension (0) of size 2.
    const int32_t w = b.AddTensor("weights", {2, 1, 1, 2}, tflite::TensorType::INT8,
                                  {{1.0f, 1.0f, 1.0f}, {0, 0, 0}, 0}, lt::Bytes({1, 2, 3, 4}));
    const int32_t out = b.AddInt8("out", {1, 1, 1, 2}, 1.0f, 0);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(tflite::Padding::VALID, 1, 1), 3);
    b.SetInputs({in});
    b.SetOutputs({out});
    const std::string message = ModelError(b.Build());
    CHECK_THAT(message, Contains("weights") && Contains("scale"));
  }
}

TEST_CASE("models Lookout cannot run are refused saying exactly what and where", "[model_errors]") {
  struct Case {
    const char* what;
    std::vector<uint8_t> model;
    bool at_load;
    std::vector<std::string> words;
  };
  std::vector<Case> cases;
  {
    ModelBuilder b;
    const int32_t in = b.AddTensor("image", {1, 1, 1, 2}, tflite::TensorType::FLOAT32);
    std::vector<uint8_t> weights(2 * 2 * sizeof(float), 0);
    const int32_t w = b.AddTensor("kernel", {2, 1, 1, 2}, tflite::TensorType::FLOAT32, {}, weights);
    const int32_t out = b.AddTensor("features", {1, 1, 1, 2}, tflite::TensorType::FLOAT32);
    b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(tflite::Padding::VALID, 1, 1));
    b.SetInputs({in});
    b.SetOutputs({out});
    cases.push_back({"float32 weights", b.Build(), false, {"node 0", "CONV_2D", "image", "FLOAT32"}});
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 1}, 0.5f, 0);
    b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, lt::Pool2DOptions(tflite::Padding::VALID, 1, 1, 2, 2), 9);
    b.SetInputs({in});
    b.SetOutputs({out});
    cases.push_back({"an op version newer than Lookout implements", b.Build(), false,
                     {"node 0", "AVERAGE_POOL_2D", "version 9"}});
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 224, 224, 3}, 0.0078125f, 128);
    const int32_t out = b.AddUInt8("out", {1, 1001}, 0.00390625f, 0);
    b.AddOperator(lt::op::kCustom, {in}, {out}, {}, 1, "edgetpu-custom-op");
    b.SetInputs({in});
    b.SetOutputs({out});
    cases.push_back({"an Edge TPU-compiled model", b.Build(), true, {"node 0", "edgetpu-custom-op", "Edge TPU"}});
  }
  {
    ModelBuilder b;
    const int32_t in = b.AddUInt8("in", {1, 2, 2, 1}, 0.5f, 0);
    const int32_t out = b.AddUInt8("out", {1, 1, 1, 1}, 0.5f, 0);
    b.AddOperator(lt::op::kAveragePool2D, {in}, {out}, lt::Pool2DOptions(tflite::Padding::VALID, 1, 1, 2, 2));
    b.SetInputs({in});
    b.SetOutputs({out});
    b.SetSubgraphCount(2);
    cases.push_back({"more than one subgraph", b.Build(), true, {"2 subgraphs"}});
  }
  for (const auto backend : {lr::KernelFamilies::ReferenceOnly(), lr::KernelFamilies::All()}) {
    for (const Case& c : cases) {
      const Outcome o = Exercise(c.model, backend);
      INFO(lr::BackendName(backend) << ", " << c.what << ": " << o.message);
      CHECK(o.stage != Stage::kRan);
      if (c.at_load) CHECK(o.stage == Stage::kLoad);
      for (const auto& word : c.words) CHECK_THAT(o.message, Contains(word));
    }
  }
}

TEST_CASE("every unsupported op of a model is named, not just the first", "[model_errors]") {
  ModelBuilder b;
  const int32_t x = b.AddUInt8("x", {1, 4}, 0.5f, 0);
  const int32_t y = b.AddUInt8("y", {1, 4}, 0.5f, 0);
  const int32_t d = b.AddUInt8("d", {1, 4}, 0.5f, 0);
  const int32_t out = b.AddUInt8("out", {1, 4}, 0.5f, 0);
  b.AddOperator(lt::op::kSub, {x, y}, {d});
  b.AddOperator(lt::op::kHardSwish, {d}, {out}, {}, 7);
  b.SetInputs({x, y});
  b.SetOutputs({out});
  auto model = lr::Model::FromBuffer(b.Build());
  REQUIRE(model.ok());
  const auto problems = lr::UnsupportedOperators(**model);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0], Contains("node 0") && Contains("SUB"));
  CHECK_THAT(problems[1], Contains("node 1") && Contains("HARD_SWISH") && Contains("version 7"));
}

TEST_CASE("a model file is mapped read-only, not copied", "[model]") {
  // The model's bytes must lie inside a mapping of the file itself
  // (/proc/self/maps names it), so weights are paged in from the file and
  // shared, never duplicated on the heap.
  const fs::path path = lt::SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite";
  auto model = lr::Model::FromFile(path.string());
  REQUIRE(model.ok());
  const auto address = reinterpret_cast<uintptr_t>((*model)->bytes().data());
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool found = false;
  while (std::getline(maps, line)) {
    uintptr_t begin = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &begin, &end, perms) != 3) continue;
    if (address >= begin && address < end) {
      found = line.find(fs::canonical(path).string()) != std::string::npos;
      CHECK(perms[0] == 'r');
      CHECK(perms[1] == '-');  // not writable
      break;
    }
  }
  CHECK(found);
  CHECK((*model)->bytes().size() == fs::file_size(path));
}

TEST_CASE("a failed AllocateTensors() fails again with the same message", "[model_errors]") {
  ModelBuilder b;
  const int32_t in = b.AddTensor("image", {1, 1, 1, 2}, tflite::TensorType::FLOAT32);
  const int32_t w = b.AddTensor("kernel", {2, 1, 1, 2}, tflite::TensorType::FLOAT32, {},
                                std::vector<uint8_t>(16, 0));
  const int32_t out = b.AddTensor("features", {1, 1, 1, 2}, tflite::TensorType::FLOAT32);
  b.AddOperator(lt::op::kConv2D, {in, w, -1}, {out}, lt::Conv2DOptions(tflite::Padding::VALID, 1, 1));
  b.SetInputs({in});
  b.SetOutputs({out});
  auto model = lr::Model::FromBuffer(b.Build());
  REQUIRE(model.ok());
  auto interpreter = lr::Interpreter::Create(*model);
  REQUIRE(interpreter.ok());
  const auto first = (*interpreter)->AllocateTensors();
  const auto second = (*interpreter)->AllocateTensors();
  CHECK_FALSE(first.ok());
  CHECK_FALSE(second.ok());
  CHECK(second.message() == first.message());
  CHECK((*interpreter)->input_data(0).empty());
  CHECK_FALSE((*interpreter)->Invoke().ok());
}
