// lookout: command-line tools around the Lookout interpreter and daemon.
//   classify  classify image files with a model (top-k, text or JSON lines)
//   run       raw input tensor bytes in, raw output tensor bytes out
//   bench     time Invoke() of a model
//   query     send one command to a running lookoutd over its Unix socket
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <utility>  // Boost 1.74 Asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "daemon/classifier.h"

namespace lookout::daemon {
namespace {

struct ClassifyArgs {
  std::string model;
  std::string labels;
  int top_k = 5;
  int threads = 1;
  bool json = false;
  std::string crop = "none";
  std::vector<float> mean = {127.5f, 127.5f, 127.5f};
  std::vector<float> std = {127.5f, 127.5f, 127.5f};
  std::vector<std::string> images;
};

int RunClassify(const ClassifyArgs& args) {
  ClassifierOptions options;
  options.model = args.model;
  options.labels = args.labels;
  options.threads = args.threads;
  options.top_k = args.top_k;
  options.preprocess.center_crop = args.crop == "center";
  for (int c = 0; c < 3; ++c) {
    options.preprocess.mean[c] = args.mean[c];
    options.preprocess.std[c] = args.std[c];
  }
  Classifier classifier(options);
  if (!args.json) std::printf("preprocess: %s\n", classifier.preprocessor().Describe().c_str());
  int failures = 0;
  for (const auto& path : args.images) {
    cv::Mat image;
    std::string error;
    try {
      image = cv::imread(path, cv::IMREAD_COLOR);
      if (image.empty()) error = "cannot decode image";
    } catch (const cv::Exception& e) {
      error = std::string("cannot decode image: ") + e.what();
    }
    if (!error.empty()) {
      ++failures;
      if (args.json) {
        std::cout << nlohmann::json{{"image", path}, {"error", error}}.dump() << std::endl;
      } else {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), error.c_str());
      }
      continue;
    }
    const Classification result = classifier.Classify(image);
    if (args.json) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& c : result.top_k) top.push_back({{"index", c.index}, {"label", c.label}, {"score", c.score}});
      std::cout << nlohmann::json{{"image", path}, {"top_k", top}}.dump() << std::endl;
    } else {
      std::printf("%s  (preprocess %.1f ms, inference %.1f ms)\n", path.c_str(), result.preprocess_ms,
                  result.inference_ms);
      for (const auto& c : result.top_k) std::printf("  %8.5f  %4d  %s\n", c.score, c.index, c.label.c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}

int RunRaw(const std::string& model_path, const std::string& input_path, const std::string& output_path,
           int threads) {
  auto interpreter = LoadInterpreter(model_path, threads);
  std::ifstream in(input_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + input_path);
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
  if (!out) throw std::runtime_error("cannot write " + output_path);
  return 0;
}

struct BenchArgs {
  std::string model;
  std::string input;
  int threads = 1;
  int runs = 20;
  int warmup = 2;
  bool json = false;
};

// Times Invoke() alone (no load, no preprocessing), `runs` times after
// `warmup` untimed calls, on IN.raw or on a fixed pseudo-random input.
int RunBench(const BenchArgs& args) {
  const auto load_start = std::chrono::steady_clock::now();
  auto interpreter = LoadInterpreter(args.model, args.threads);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  auto input = interpreter->input_data(0);
  if (!args.input.empty()) {
    std::ifstream in(args.input, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() != input.size()) {
      throw std::runtime_error(args.input + " has " + std::to_string(bytes.size()) +
                               " bytes; input tensor 0 needs exactly " + std::to_string(input.size()));
    }
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(input.data()));
  } else {
    std::minstd_rand rng(1);
    for (auto& b : input) b = static_cast<uint8_t>(rng() >> 8);
  }
  std::vector<double> ms;
  for (int i = 0; i < args.warmup + args.runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto status = interpreter->Invoke();
    const auto end = std::chrono::steady_clock::now();
    if (!status.ok()) throw std::runtime_error(status.message());
    if (i >= args.warmup) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1) + 0.5)]; };
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const nlohmann::json report = {
      {"model", args.model},     {"threads", args.threads},        {"runs", args.runs},
      {"load_ms", load_ms},      {"median_ms", at(0.5)},           {"p10_ms", at(0.1)},
      {"p90_ms", at(0.9)},       {"min_ms", ms.front()},           {"max_ms", ms.back()},
      {"arena_bytes", interpreter->arena_bytes()},
      {"peak_rss_bytes", static_cast<int64_t>(usage.ru_maxrss) * 1024}};
  if (args.json) {
    std::cout << report.dump() << std::endl;
  } else {
    std::printf("%s: %d runs, %d thread(s): median %.2f ms (p10 %.2f, p90 %.2f, min %.2f, max %.2f); "
                "load %.1f ms; arena %zu bytes; peak RSS %.1f MiB\n",
                args.model.c_str(), args.runs, args.threads, at(0.5), at(0.1), at(0.9), ms.front(), ms.back(),
                load_ms, interpreter->arena_bytes(), static_cast<double>(usage.ru_maxrss) / 1024.0);
  }
  return 0;
}

int RunQuery(const std::string& socket_path, const std::string& command, int count, double timeout_s) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  boost::system::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) throw std::runtime_error("cannot connect to " + socket_path + ": " + ec.message());
  const std::string request = nlohmann::json{{"cmd", command}}.dump() + "\n";
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
    std::cout << line << std::endl;
    if (lines == 0) {
      const auto reply = nlohmann::json::parse(line, nullptr, false);
      ok = reply.is_object() && reply.value("ok", false);
      if (!ok) break;
    }
    ++lines;
  }
  return ok && lines > 0 ? 0 : 1;
}

}  // namespace
}  // namespace lookout::daemon

int main(int argc, char** argv) {
  using namespace lookout::daemon;
  CLI::App app{"lookout: Lookout's command-line tools"};
  app.require_subcommand(1);

  ClassifyArgs classify;
  auto* cmd_classify = app.add_subcommand(
      "classify",
      "Classify images. Each image is decoded (OpenCV), optionally centre-cropped to the input's aspect\n"
      "ratio (--crop center), resized to the input's height x width (area when shrinking, bilinear when\n"
      "enlarging), converted BGR -> RGB, normalised real = (pixel - mean) / std per channel, and quantized\n"
      "with the input tensor's scale/zero_point: q = round(real / scale) + zero_point (saturated; NHWC or\n"
      "NCHW as the input tensor says). Scores are the output dequantized: scale * (q - zero_point).");
  cmd_classify->add_option("--model", classify.model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_classify->add_option("--labels", classify.labels, "Label file, one label per line")->check(CLI::ExistingFile);
  cmd_classify->add_option("--top-k", classify.top_k, "Classes to print per image")->check(CLI::Range(1, 1000));
  cmd_classify->add_option("--threads", classify.threads, "Inference threads")->check(CLI::Range(1, 64));
  cmd_classify->add_flag("--json", classify.json, "One JSON line per image: {\"image\",\"top_k\":[{index,label,score}]}");
  cmd_classify->add_option("--crop", classify.crop, "Crop before resize")->check(CLI::IsMember({"none", "center"}));
  cmd_classify->add_option("--mean", classify.mean, "Per-channel R,G,B mean (pixel units)")->delimiter(',')->expected(3)->allow_extra_args(false);
  cmd_classify->add_option("--std", classify.std, "Per-channel R,G,B std (pixel units)")->delimiter(',')->expected(3)->allow_extra_args(false);
  cmd_classify->add_option("images", classify.images, "Image files")->required();

  std::string run_model, run_input, run_output;
  int run_threads = 1;
  auto* cmd_run = app.add_subcommand(
      "run", "Copy IN.raw (exactly input tensor 0's bytes) into input tensor 0, invoke, write output tensor 0's bytes");
  cmd_run->add_option("--model", run_model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_run->add_option("--input", run_input, "Raw input tensor bytes")->required()->check(CLI::ExistingFile);
  cmd_run->add_option("--output", run_output, "Where to write the raw output tensor bytes")->required();
  cmd_run->add_option("--threads", run_threads, "Inference threads")->check(CLI::Range(1, 64));

  BenchArgs bench;
  auto* cmd_bench = app.add_subcommand(
      "bench", "Time Invoke() of a model (no loading or preprocessing in the timing): median, p10, p90, min,\n"
               "max in ms over --runs calls after --warmup untimed ones; also load time, arena bytes, peak RSS");
  cmd_bench->add_option("--model", bench.model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  cmd_bench->add_option("--input", bench.input, "Raw input tensor bytes (default: fixed pseudo-random bytes)")
      ->check(CLI::ExistingFile);
  cmd_bench->add_option("--threads", bench.threads, "Inference threads")->check(CLI::Range(1, 64));
  cmd_bench->add_option("--runs", bench.runs, "Timed Invoke() calls")->check(CLI::Range(1, 100000));
  cmd_bench->add_option("--warmup", bench.warmup, "Untimed Invoke() calls first")->check(CLI::Range(0, 1000));
  cmd_bench->add_flag("--json", bench.json, "One JSON object instead of text");

  std::string socket_path = "/run/lookout/lookoutd.sock";
  std::string command;
  int count = 0;
  double timeout_s = 0;
  auto* cmd_query = app.add_subcommand(
      "query", "Send one command to lookoutd (latest, stats, health, version, subscribe) and print the reply;\n"
               "subscribe prints every event as one JSON line");
  cmd_query->add_option("--socket", socket_path, "lookoutd's Unix socket");
  cmd_query->add_option("--count", count, "subscribe: stop after this many events (0: until the daemon stops)");
  cmd_query->add_option("--timeout", timeout_s, "Give up after this many seconds (0: no limit)");
  cmd_query->add_option("command", command, "Command")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*cmd_classify) return RunClassify(classify);
    if (*cmd_run) return RunRaw(run_model, run_input, run_output, run_threads);
    if (*cmd_bench) return RunBench(bench);
    if (*cmd_query) return RunQuery(socket_path, command, count, timeout_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout: %s\n", e.what());
    return 1;
  }
  return 0;
}
