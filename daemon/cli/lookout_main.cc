// lookout: command-line tools around the Lookout interpreter and daemon.
//   classify  classify image files (runs lookout-classify, beside this binary)
//   run       raw input tensor bytes in, raw output tensor bytes out
//   bench     time Invoke() of a model (benchmark_model's figures, --profile)
//   inspect   a model's tensors, ops, nodes, MACs and backends
//   export-c  a model as an aligned C array (.h/.cc) for firmware builds
//   query     send one command to a running lookoutd over its Unix socket
//             (snapshot --output FILE writes the zone's JPEG)
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <utility>  // Boost 1.74 Asio uses std::exchange without including it
#include <boost/archive/iterators/binary_from_base64.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "cli/model_tools.h"

namespace lookout::daemon {
namespace {

// The bytes of RFC 4648 base64 text (a multiple of 4 characters, '='
// padded). The padding is decoded as 'A' (zero bits) and its bytes dropped
// after: the decoder then never needs a character past the end.
std::string DecodeBase64(std::string text) {
  using namespace boost::archive::iterators;
  using Decoder = transform_width<binary_from_base64<std::string::const_iterator>, 8, 6>;
  if (text.size() % 4 != 0) throw std::runtime_error("snapshot: base64 text of " + std::to_string(text.size()) + " characters");
  size_t padding = 0;
  while (padding < 2 && !text.empty() && text[text.size() - 1 - padding] == '=') ++padding;
  std::replace(text.end() - static_cast<std::ptrdiff_t>(padding), text.end(), '=', 'A');
  std::string out(Decoder(text.cbegin()), Decoder(text.cend()));
  out.resize(out.size() - padding);
  return out;
}

struct QueryOptions {
  std::string zone;             // Sent as "zone" (state, snapshot).
  std::string snapshot_output;  // snapshot: write the JPEG here.
};

int RunQuery(const std::string& socket_path, const std::string& command, int count, double timeout_s,
             const QueryOptions& options) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) throw std::runtime_error("cannot connect to " + socket_path + ": " + ec.message());
  nlohmann::json request_json = {{"cmd", command}};
  if (!options.zone.empty()) request_json["zone"] = options.zone;
  const std::string request = request_json.dump() + "\n";
  asio::write(socket, asio::buffer(request), ec);
  if (ec) throw std::runtime_error("cannot send to " + socket_path + ": " + ec.message());
  const bool streaming = command == "subscribe";
  // One reply, or for subscribe the reply plus `count` events (0: until EOF).
  const int wanted = streaming ? (count > 0 ? count + 1 : -1) : 1;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  asio::streambuf buffer;
  int lines = 0;
  bool ok = true;
  while (wanted < 0 || lines < wanted) {
    if (timeout_s > 0) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      // Bounded wait: poll for readability before each blocking read.
      struct timeval tv {};
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      tv.tv_sec = static_cast<time_t>(us / 1000000);
      tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
      fd_set set;
      FD_ZERO(&set);
      FD_SET(socket.native_handle(), &set);
      if (buffer.size() == 0 && select(socket.native_handle() + 1, &set, nullptr, nullptr, &tv) <= 0) break;
    }
    asio::read_until(socket, buffer, '\n', ec);
    if (ec) break;
    std::istream stream(&buffer);
    std::string line;
    std::getline(stream, line);
    if (lines == 0) {
      const auto reply = nlohmann::json::parse(line, nullptr, false);
      ok = reply.is_object() && reply.value("ok", false);
      if (ok && !options.snapshot_output.empty()) {
        // The JPEG goes to the file; the reply is printed without it.
        const nlohmann::json& result = reply.at("result");
        if (!result.is_object() || !result.contains("jpeg_base64")) {
          std::cerr << "lookout: no snapshot yet\n";
          return 1;
        }
        std::ofstream out(options.snapshot_output, std::ios::binary);
        const std::string jpeg = DecodeBase64(result["jpeg_base64"].get<std::string>());
        out.write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
        if (!out) throw std::runtime_error("cannot write " + options.snapshot_output + ": " + std::strerror(errno));
        nlohmann::json shown = reply;
        shown["result"].erase("jpeg_base64");
        shown["result"]["file"] = options.snapshot_output;
        line = shown.dump();
      }
      std::cout << line << std::endl;
      if (!ok) break;
    } else {
      std::cout << line << std::endl;
    }
    ++lines;
  }
  return ok && lines > 0 ? 0 : 1;
}

// `lookout classify ...` runs lookout-classify from this binary's directory.
int ExecClassify(int argc, char** argv) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::perror("lookout: /proc/self/exe");
    return 1;
  }
  self[n] = '\0';
  const std::string path = (std::filesystem::path(self).parent_path() / "lookout-classify").string();
  std::vector<char*> args;
  args.push_back(const_cast<char*>(path.c_str()));
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(path.c_str(), args.data());
  std::fprintf(stderr, "lookout: cannot run %s: %s\n", path.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace
}  // namespace lookout::daemon

int main(int argc, char** argv) {
  using namespace lookout::daemon;
  if (argc > 1 && std::string(argv[1]) == "classify") return ExecClassify(argc, argv);
  CLI::App app{"lookout: Lookout's command-line tools"};
  app.require_subcommand(1);
  app.add_subcommand("classify",
                     "Classify image files: top-k labels per image (text or --json lines); `lookout classify\n"
                     "--help` for its options");

  std::string run_model, run_input, run_output;
  int run_threads = 1;
  auto* cmd_run = app.add_subcommand(
      "run", "Copy IN.raw (exactly input tensor 0's bytes) into input tensor 0, invoke, write output tensor 0's bytes");
  cmd_run->add_option("--model", run_model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_run->add_option("--input", run_input, "Raw input tensor bytes")->required()->check(CLI::ExistingFile);
  cmd_run->add_option("--output", run_output, "Where to write the raw output tensor bytes")->required();
  cmd_run->add_option("--threads", run_threads, "Inference threads")->check(CLI::Range(1, 64));

  const auto backend_option = [](CLI::App* cmd, std::string& target) {
    cmd->add_option("--backend", target,
                    "xnnpack: XNNPACK operators where they run the node (outputs within a few LSB of TFLite's\n"
                    "reference, as TFLite's XNNPACK delegate); reference: TFLite's reference integer arithmetic,\n"
                    "byte-exact. LOOKOUT_NO_OWN_KERNELS=1 in the environment leaves out Lookout's own x86 and\n"
                    "Arm kernels (XNNPACK wherever it runs the node)")
        ->check(CLI::IsMember({"xnnpack", "reference"}));
  };
  std::string run_backend = "xnnpack";
  backend_option(cmd_run, run_backend);

  BenchOptions bench;
  std::string bench_backend = "xnnpack";
  auto* cmd_bench = app.add_subcommand(
      "bench", "Time Invoke() of a model, as TFLite's benchmark_model: init (load + AllocateTensors), first\n"
               "invoke, then count/min/median/mean/std/p90/p99 in us over the counted runs (after --warmup\n"
               "untimed ones); arena bytes against the sum of activation sizes; peak RSS. --runs 50 when\n"
               "neither --runs nor --min-secs is given.");
  cmd_bench->add_option("--model", bench.model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_bench->add_option("--input", bench.input, "Raw input tensor bytes (default: fixed pseudo-random bytes)")
      ->check(CLI::ExistingFile);
  int bench_threads = 1;
  cmd_bench->add_option("--threads", bench_threads, "Inference threads")->check(CLI::Range(1, 64));
  backend_option(cmd_bench, bench_backend);
  cmd_bench->add_option("--warmup", bench.warmup, "Untimed Invoke() calls after the first")->check(CLI::Range(0, 100000));
  cmd_bench->add_option("--runs", bench.runs, "Timed Invoke() calls (at least)")->check(CLI::Range(1, 10000000));
  cmd_bench->add_option("--min-secs", bench.min_secs, "Time for at least this many seconds")->check(CLI::Range(0.0, 3600.0));
  cmd_bench->add_option("--max-secs", bench.max_secs, "Stop timing after this many seconds")->check(CLI::Range(0.001, 86400.0));
  cmd_bench->add_flag("--profile", bench.profile, "Per node (index, op, backend, median us, share) and per op");
  cmd_bench->add_flag("--json", bench.json, "One JSON object instead of text");

  std::string inspect_model, inspect_backend = "xnnpack";
  int inspect_threads = 1;
  bool inspect_json = false;
  auto* cmd_inspect = app.add_subcommand(
      "inspect", "Show a model: inputs/outputs (name, NHWC shape, dtype, scale, zero_point, per-channel\n"
                 "counts), description and schema version, op histogram with versions, per node the op,\n"
                 "tensors, MACs and the backend chosen; totals (MACs, parameters, arena against activations);\n"
                 "every op Lookout cannot run, named (exit 1)");
  cmd_inspect->add_option("model", inspect_model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  backend_option(cmd_inspect, inspect_backend);
  cmd_inspect->add_option("--threads", inspect_threads, "Inference threads")->check(CLI::Range(1, 64));
  cmd_inspect->add_flag("--json", inspect_json, "One JSON object instead of text");

  std::string export_model, export_name, export_dir = ".";
  auto* cmd_export = app.add_subcommand(
      "export-c", "Write the model as NAME.h / NAME.cc: a 16-byte aligned const unsigned char NAME[] and\n"
                  "const std::size_t NAME_len (xxd -i, aligned and const) for firmware builds");
  cmd_export->add_option("model", export_model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_export->add_option("--name", export_name, "Array name (default: the file's stem as a C identifier)");
  cmd_export->add_option("--output-dir", export_dir, "Directory for NAME.h and NAME.cc");

  std::string socket_path = "/run/lookout/lookoutd.sock";
  std::string command;
  int count = 0;
  double timeout_s = 0;
  auto* cmd_query = app.add_subcommand(
      "query", "Send one command to lookoutd (latest, state, snapshot, stats, health, version, subscribe) and\n"
               "print the reply; subscribe prints every event as one JSON line");
  QueryOptions query_options;
  cmd_query->add_option("--socket", socket_path, "lookoutd's Unix socket");
  cmd_query->add_option("--count", count, "subscribe: stop after this many events (0: until the daemon stops)");
  cmd_query->add_option("--timeout", timeout_s, "Give up after this many seconds (0: no limit)");
  cmd_query->add_option("--zone", query_options.zone, "snapshot: the zone (default: the first)");
  cmd_query->add_option("--output", query_options.snapshot_output,
                        "snapshot: write the JPEG to this file (the printed reply leaves it out)");
  cmd_query->add_option("command", command, "Command")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    // The options the --backend and --threads flags and LOOKOUT_NO_OWN_KERNELS ask for.
    const auto interpreter_options = [](const std::string& backend, int threads) {
      lookout::runtime::InterpreterOptions options;
      options.num_threads = threads;
      lookout::runtime::ParseBackend(backend, &options.kernels);  // checked by CLI11
      ApplyNoOwnKernels(std::getenv("LOOKOUT_NO_OWN_KERNELS"), &options);
      return options;
    };
    if (*cmd_run) return RunRaw(run_model, run_input, run_output, interpreter_options(run_backend, run_threads));
    if (*cmd_bench) {
      bench.interpreter = interpreter_options(bench_backend, bench_threads);
      return RunBench(bench);
    }
    if (*cmd_inspect) return RunInspect(inspect_model, interpreter_options(inspect_backend, inspect_threads), inspect_json);
    if (*cmd_export) return RunExportC(export_model, export_name, export_dir);
    if (*cmd_query) return RunQuery(socket_path, command, count, timeout_s, query_options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout: %s\n", e.what());
    return 1;
  }
  return 0;
}
