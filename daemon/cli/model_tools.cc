#include "cli/model_tools.h"

#include <cstring>
#include <cerrno>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookout/runtime/model.h"

namespace lookout::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// This process image's peak resident set: /proc's VmHWM starts afresh at
// exec, where getrusage's ru_maxrss keeps the parent's peak (a benchmark
// started from a big process would report the parent's size).
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  6328 kB"
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[i];
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void FillInput(runtime::Interpreter& interpreter, const std::string& path) {
  auto input = interpreter.input_data(0);
  if (path.empty()) {
    std::minstd_rand rng(1);
    for (auto& b : input) b = static_cast<uint8_t>(rng() >> 8);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != input.size()) {
    throw std::runtime_error(path + " has " + std::to_string(bytes.size()) + " bytes; input tensor 0 needs exactly " +
                             std::to_string(input.size()));
  }
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(input.data()));
}

std::string Shape(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

json DetailsJson(const runtime::TensorDetails& d) {
  json j = {{"name", d.name},
            {"index", d.index},
            {"shape", d.shape},
            {"dtype", runtime::DataTypeName(d.type)},
            {"bytes", d.bytes}};
  if (d.quantization.quantized()) {
    j["scale"] = d.scale;
    j["zero_point"] = d.zero_point;
    if (d.quantization.scale.size() > 1) {
      j["per_channel"] = {{"count", d.quantization.scale.size()},
                          {"quantized_dimension", d.quantization.quantized_dimension}};
    }
  }
  return j;
}

std::string DetailsText(const runtime::TensorDetails& d) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), "%s %s %s", d.name.c_str(), Shape(d.shape).c_str(),
                runtime::DataTypeName(d.type).c_str());
  std::string s = buffer;
  if (d.quantization.scale.size() == 1) {
    std::snprintf(buffer, sizeof(buffer), " scale=%.9g zero_point=%d", d.scale, d.zero_point);
    s += buffer;
  } else if (d.quantization.scale.size() > 1) {
    std::snprintf(buffer, sizeof(buffer), " per-channel: %zu scales along dimension %d", d.quantization.scale.size(),
                  d.quantization.quantized_dimension);
    s += buffer;
  }
  return s;
}

}  // namespace

std::unique_ptr<runtime::Interpreter> LoadInterpreter(const std::filesystem::path& path,
                                                      const runtime::InterpreterOptions& options) {
  auto model = runtime::Model::FromFile(path.string());
  if (!model.ok()) throw std::runtime_error(model.status().message());
  auto interpreter = runtime::Interpreter::Create(*model, options);
  if (!interpreter.ok()) throw std::runtime_error("model '" + path.string() + "': " + interpreter.status().message());
  const auto status = (*interpreter)->AllocateTensors();
  if (!status.ok()) throw std::runtime_error("model '" + path.string() + "': " + status.message());
  return std::move(interpreter).value();
}

void ApplyNoOwnKernels(const char* value, runtime::InterpreterOptions* options) {
  if (value == nullptr || value[0] == '\0' || std::string_view(value) == "0") return;
  runtime::OwnKernelOptions& own = options->own_kernels;
  const std::pair<std::string_view, bool*> switches[] = {{"pointwise", &own.pointwise},
                                                         {"depthwise", &own.depthwise},
                                                         {"mul", &own.mul},
                                                         {"dot", &own.dot_product},
                                                         {"defer", &own.defer_to_xnnpack}};
  bool any = false;
  std::string_view rest = value;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    for (const auto& [switch_name, flag] : switches) {
      if (name == switch_name) {
        *flag = false;
        any = true;
      }
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (!any) {
    options->kernels =
        options->kernels.without(runtime::KernelFamily::kOwnX86).without(runtime::KernelFamily::kOwnArm);
  }
}

int RunRaw(const std::string& model_path, const std::string& input_path, const std::string& output_path,
           const runtime::InterpreterOptions& options) {
  auto interpreter = LoadInterpreter(model_path, options);
  std::ifstream in(input_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + input_path + ": " + std::strerror(errno));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto input = interpreter->input_data(0);
  const auto& details = interpreter->input_details(0);
  if (bytes.size() != input.size()) {
    throw std::runtime_error(input_path + " has " + std::to_string(bytes.size()) + " bytes; input tensor 0 ('" +
                             details.name + "', " + runtime::DataTypeName(details.type) + ") needs exactly " +
                             std::to_string(input.size()));
  }
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(input.data()));
  const auto status = interpreter->Invoke();
  if (!status.ok()) throw std::runtime_error(status.message());
  const auto output = interpreter->output_data(0);
  std::ofstream out(output_path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(output.data()), static_cast<std::streamsize>(output.size()));
  if (!out) throw std::runtime_error("cannot write " + output_path + ": " + std::strerror(errno));
  return 0;
}

int RunBench(const BenchOptions& o) {
  const auto init_start = Clock::now();
  auto interpreter = LoadInterpreter(o.model, o.interpreter);
  const double init_ms = Micros(Clock::now() - init_start) / 1000.0;
  FillInput(*interpreter, o.input);

  const size_t nodes = interpreter->node_count();
  std::vector<int64_t> node_ns(nodes);
  const auto invoke = [&]() {
    const auto status = o.profile ? interpreter->InvokeProfiled(node_ns) : interpreter->Invoke();
    if (!status.ok()) throw std::runtime_error(status.message());
  };
  const auto first_start = Clock::now();
  invoke();
  const double first_us = Micros(Clock::now() - first_start);
  for (int i = 0; i < o.warmup; ++i) invoke();

  const int runs = o.runs > 0 ? o.runs : (o.min_secs > 0 ? 1 : 50);
  std::vector<double> us;
  std::vector<std::vector<double>> per_node(nodes);
  const auto start = Clock::now();
  auto next_progress = start + std::chrono::seconds(2);
  bool progressed = false;
  for (;;) {
    const auto t0 = Clock::now();
    invoke();
    const auto t1 = Clock::now();
    us.push_back(Micros(t1 - t0));
    if (o.profile) {
      for (size_t n = 0; n < nodes; ++n) per_node[n].push_back(static_cast<double>(node_ns[n]) / 1000.0);
    }
    const double elapsed = Micros(t1 - start) / 1e6;
    if (static_cast<int>(us.size()) >= runs && elapsed >= o.min_secs) break;
    if (elapsed >= o.max_secs) break;
    if (t1 >= next_progress) {
      std::fprintf(stderr, "\rbench: %zu runs, %.0f s, last %.0f us ", us.size(), elapsed, us.back());
      next_progress = t1 + std::chrono::seconds(2);
      progressed = true;
    }
  }
  if (progressed) std::fprintf(stderr, "\n");

  std::vector<double> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  double mean = 0;
  for (double v : us) mean += v;
  mean /= static_cast<double>(us.size());
  double var = 0;
  for (double v : us) var += (v - mean) * (v - mean);
  const double stddev = std::sqrt(var / static_cast<double>(us.size()));
  const double median = Median(us);

  json report = {{"model", o.model},
                 {"backend", runtime::BackendName(o.interpreter.kernels)},
                 {"threads", o.interpreter.num_threads},
                 {"init_ms", init_ms},
                 {"first_invoke_us", first_us},
                 {"warmup", o.warmup},
                 {"count", us.size()},
                 {"min_us", sorted.front()},
                 {"median_us", median},
                 {"mean_us", mean},
                 {"std_us", stddev},
                 {"p90_us", Percentile(sorted, 0.90)},
                 {"p99_us", Percentile(sorted, 0.99)},
                 {"max_us", sorted.back()},
                 {"arena_bytes", interpreter->arena_bytes()},
                 {"activation_bytes", interpreter->activation_bytes()},
                 {"peak_rss_bytes", PeakRssBytes()}};

  struct NodeRow {
    size_t index;
    std::string op, backend;
    double median_us;
  };
  std::vector<NodeRow> rows;
  double profiled_total = 0;
  if (o.profile) {
    for (size_t n = 0; n < nodes; ++n) {
      const auto& d = interpreter->node_details(n);
      rows.push_back({n, d.op_name, runtime::KernelFamilyName(d.family), Median(per_node[n])});
      profiled_total += rows.back().median_us;
    }
    std::sort(rows.begin(), rows.end(), [](const NodeRow& a, const NodeRow& b) { return a.median_us > b.median_us; });
    struct OpRow {
      size_t count = 0;
      double us = 0;
    };
    std::map<std::pair<std::string, std::string>, OpRow> ops;
    for (const auto& r : rows) {
      auto& op = ops[{r.op, r.backend}];
      ++op.count;
      op.us += r.median_us;
    }
    std::vector<std::pair<std::pair<std::string, std::string>, OpRow>> op_rows(ops.begin(), ops.end());
    std::sort(op_rows.begin(), op_rows.end(), [](const auto& a, const auto& b) { return a.second.us > b.second.us; });
    json jn = json::array(), jo = json::array();
    for (const auto& r : rows) {
      jn.push_back({{"index", r.index}, {"op", r.op}, {"backend", r.backend}, {"median_us", r.median_us},
                    {"share", profiled_total > 0 ? r.median_us / profiled_total : 0.0}});
    }
    for (const auto& [key, v] : op_rows) {
      jo.push_back({{"op", key.first}, {"backend", key.second}, {"count", v.count}, {"median_us", v.us},
                    {"share", profiled_total > 0 ? v.us / profiled_total : 0.0}});
    }
    report["profile"] = {{"nodes", jn}, {"ops", jo}, {"sum_of_node_medians_us", profiled_total}};
  }

  if (o.json) {
    std::cout << report.dump() << std::endl;
    return 0;
  }
  std::printf("model: %s\nbackend: %s, threads: %d\n", o.model.c_str(), runtime::BackendName(o.interpreter.kernels).c_str(),
              o.interpreter.num_threads);
  std::printf("init: %.2f ms   first invoke: %.0f us   warmup: %d\n", init_ms, first_us, o.warmup);
  std::printf("count=%zu min=%.0f median=%.0f mean=%.0f std=%.0f p90=%.0f p99=%.0f max=%.0f (us)\n", us.size(),
              sorted.front(), median, mean, stddev, Percentile(sorted, 0.90), Percentile(sorted, 0.99),
              sorted.back());
  std::printf("arena: %zu bytes (activations: %zu bytes without sharing)   peak RSS: %.1f MiB\n",
              interpreter->arena_bytes(), interpreter->activation_bytes(),
              static_cast<double>(PeakRssBytes()) / (1024.0 * 1024.0));
  if (o.profile) {
    std::printf("\nper node (median us over %zu runs, sorted):\n  %5s  %-20s %-10s %10s %7s\n", us.size(), "node",
                "op", "backend", "us", "share");
    for (const auto& r : rows) {
      std::printf("  %5zu  %-20s %-10s %10.1f %6.1f%%\n", r.index, r.op.c_str(), r.backend.c_str(), r.median_us,
                  profiled_total > 0 ? 100.0 * r.median_us / profiled_total : 0.0);
    }
    std::printf("\nper op:\n  %-20s %-10s %5s %10s %7s\n", "op", "backend", "count", "us", "share");
    for (const auto& jo : report["profile"]["ops"]) {
      std::printf("  %-20s %-10s %5d %10.1f %6.1f%%\n", jo["op"].get<std::string>().c_str(),
                  jo["backend"].get<std::string>().c_str(), jo["count"].get<int>(), jo["median_us"].get<double>(),
                  100.0 * jo["share"].get<double>());
    }
    std::printf("  sum of node medians: %.0f us\n", profiled_total);
  }
  return 0;
}

int RunInspect(const std::string& path, const runtime::InterpreterOptions& options, bool as_json) {
  auto model = runtime::Model::FromFile(path);
  if (!model.ok()) throw std::runtime_error(model.status().message());
  const auto unsupported = runtime::UnsupportedOperators(**model);
  json report = {{"model", path},
                 {"file_bytes", (*model)->bytes().size()},
                 {"description", (*model)->description()},
                 {"schema_version", (*model)->schema_version()},
                 {"unsupported", unsupported}};
  std::unique_ptr<runtime::Interpreter> interpreter;
  std::string error;
  if (unsupported.empty()) {
    try {
      interpreter = LoadInterpreter(path, options);
    } catch (const std::exception& e) {
      error = e.what();
      report["error"] = error;
    }
  }
  if (interpreter != nullptr) {
    auto& in = *interpreter;
    report["backend"] = runtime::BackendName(options.kernels);
    json inputs = json::array(), outputs = json::array(), nodes = json::array();
    for (size_t i = 0; i < in.input_count(); ++i) inputs.push_back(DetailsJson(in.input_details(i)));
    for (size_t i = 0; i < in.output_count(); ++i) outputs.push_back(DetailsJson(in.output_details(i)));
    std::map<std::pair<std::string, int>, int> histogram;
    uint64_t macs = 0;
    for (size_t n = 0; n < in.node_count(); ++n) {
      const auto& d = in.node_details(n);
      ++histogram[{d.op_name, d.version}];
      macs += d.macs;
      nodes.push_back({{"index", d.index}, {"op", d.op_name}, {"version", d.version}, {"inputs", d.inputs},
                       {"outputs", d.outputs}, {"macs", d.macs}, {"backend", runtime::KernelFamilyName(d.family)}});
    }
    json ops = json::array();
    for (const auto& [key, count] : histogram) ops.push_back({{"op", key.first}, {"version", key.second}, {"count", count}});
    report["inputs"] = inputs;
    report["outputs"] = outputs;
    report["ops"] = ops;
    report["nodes"] = nodes;
    report["totals"] = {{"nodes", in.node_count()},
                        {"tensors", in.tensor_count()},
                        {"macs", macs},
                        {"parameters", in.parameter_count()},
                        {"arena_bytes", in.arena_bytes()},
                        {"activation_bytes", in.activation_bytes()}};
  }
  const bool ok = unsupported.empty() && interpreter != nullptr;
  if (as_json) {
    std::cout << report.dump() << std::endl;
    return ok ? 0 : 1;
  }
  std::printf("model: %s (%zu bytes, schema version %u)\n", path.c_str(), (*model)->bytes().size(),
              (*model)->schema_version());
  if (!(*model)->description().empty()) std::printf("description: %s\n", (*model)->description().c_str());
  for (const auto& u : unsupported) std::printf("cannot run: %s\n", u.c_str());
  if (!error.empty()) std::printf("refused: %s\n", error.c_str());
  if (interpreter == nullptr) return 1;
  auto& in = *interpreter;
  for (size_t i = 0; i < in.input_count(); ++i) std::printf("input %zu: %s\n", i, DetailsText(in.input_details(i)).c_str());
  for (size_t i = 0; i < in.output_count(); ++i) std::printf("output %zu: %s\n", i, DetailsText(in.output_details(i)).c_str());
  std::printf("\nops:\n");
  for (const auto& op : report["ops"]) {
    std::printf("  %-20s v%-2d x %d\n", op["op"].get<std::string>().c_str(), op["version"].get<int>(),
                op["count"].get<int>());
  }
  std::printf("\nnodes (backend: %s):\n  %5s  %-20s %-11s %12s  %s\n", runtime::BackendName(options.kernels).c_str(), "node", "op",
              "backend", "MACs", "inputs -> outputs");
  for (size_t n = 0; n < in.node_count(); ++n) {
    const auto& d = in.node_details(n);
    std::string tensors;
    for (size_t k = 0; k < d.inputs.size(); ++k) {
      if (k) tensors += ", ";
      if (d.inputs[k] < 0) {
        tensors += "-";
        continue;
      }
      const auto t = in.tensor_details(d.inputs[k]);
      tensors += std::to_string(d.inputs[k]) + Shape(t.shape);
    }
    tensors += " -> ";
    for (size_t k = 0; k < d.outputs.size(); ++k) {
      const auto t = in.tensor_details(d.outputs[k]);
      tensors += (k ? ", " : "") + std::to_string(d.outputs[k]) + Shape(t.shape);
    }
    std::printf("  %5d  %-20s %-11s %12llu  %s\n", d.index, d.op_name.c_str(), runtime::KernelFamilyName(d.family),
                static_cast<unsigned long long>(d.macs), tensors.c_str());
  }
  const auto& t = report["totals"];
  std::printf("\ntotals: %zu nodes, %llu MACs, %llu parameters, arena %zu bytes (activations %zu bytes without sharing)\n",
              in.node_count(), static_cast<unsigned long long>(t["macs"].get<uint64_t>()),
              static_cast<unsigned long long>(in.parameter_count()), in.arena_bytes(), in.activation_bytes());
  return 0;
}

std::string CIdentifier(const std::string& text) {
  std::string id;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    id += ok ? c : '_';
  }
  if (id.empty() || (id[0] >= '0' && id[0] <= '9')) id = "_" + id;
  return id;
}

int RunExportC(const std::string& model_path, const std::string& name_arg, const std::string& out_dir) {
  // The bytes are exported as they are, but only a model Lookout accepts.
  auto model = runtime::Model::FromFile(model_path);
  if (!model.ok()) throw std::runtime_error(model.status().message());
  const auto bytes = (*model)->bytes();
  const std::string name = CIdentifier(name_arg.empty() ? std::filesystem::path(model_path).stem().string() : name_arg);
  const std::filesystem::path dir = out_dir.empty() ? std::filesystem::path(".") : std::filesystem::path(out_dir);
  std::filesystem::create_directories(dir);
  const auto header = dir / (name + ".h");
  const auto source = dir / (name + ".cc");
  std::string guard = name + "_H_";
  std::transform(guard.begin(), guard.end(), guard.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  {
    std::ofstream h(header, std::ios::trunc);
    h << "// " << std::filesystem::path(model_path).filename().string() << " (" << bytes.size()
      << " bytes) as a C array, written by `lookout export-c`.\n"
      << "#ifndef " << guard << "\n#define " << guard << "\n\n"
      << "#include <cstddef>\n\n"
      << "// The .tflite flatbuffer, 16-byte aligned as the flatbuffer's tables need.\n"
      << "alignas(16) extern const unsigned char " << name << "[];\n"
      << "// Its length in bytes.\n"
      << "extern const std::size_t " << name << "_len;\n\n"
      << "#endif  // " << guard << "\n";
    if (!h) throw std::runtime_error("cannot write " + header.string() + ": " + std::strerror(errno));
  }
  {
    std::ofstream c(source, std::ios::trunc);
    c << "#include \"" << name << ".h\"\n\n"
      << "alignas(16) const unsigned char " << name << "[] = {";
    char hex[8];
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (i % 12 == 0) c << "\n   ";
      std::snprintf(hex, sizeof(hex), " 0x%02x", bytes[i]);
      c << hex << (i + 1 < bytes.size() ? "," : "");
    }
    c << "\n};\n\nconst std::size_t " << name << "_len = " << bytes.size() << ";\n";
    if (!c) throw std::runtime_error("cannot write " + source.string() + ": " + std::strerror(errno));
  }
  std::printf("%s\n%s\n", header.string().c_str(), source.string().c_str());
  return 0;
}

}  // namespace lookout::daemon
