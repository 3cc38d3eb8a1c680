// lookoutd's App in this process, with a classifier whose first node fails
// every other Invoke() (as a library call that returns an error would): the
// failed frames are counted in `inference_errors`, the others still come out
// as events, and the daemon keeps serving its socket until it is stopped.
#include "support/catch_compat.h"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "classifier/classifier.h"
#include "src/graph.h"
#include "src/interpreter_testing.h"
#include "support/temp_dir.h"
#include "support/test_support.h"
#include "support/unix_client.h"
#include "support/wait.h"

namespace lr = lookout::runtime;
using lookout::testing::Client;
using lookout::testing::SourceDir;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Fails every other Eval() call, the first included; the others run the
// node's own kernel.
class FlakyKernel : public lr::internal::OpKernel {
 public:
  explicit FlakyKernel(std::unique_ptr<lr::internal::OpKernel> real) : real_(std::move(real)) {}
  lr::Status Prepare(lr::internal::KernelContext& context) override { return real_->Prepare(context); }
  lr::Status Eval() override {
    if (calls_++ % 2 == 0) return lr::Status::Error("injected failure");
    return real_->Eval();
  }

 private:
  std::unique_ptr<lr::internal::OpKernel> real_;
  int calls_ = 0;
};

}  // namespace

TEST_CASE("lookoutd counts failed Invoke() calls in inference_errors and keeps running", "[daemon]") {
  TempDir dir;
  const auto socket_path = dir.path() / "lookoutd.sock";
  const json config_json = {
      {"camera",
       {{"name", "flaky"}, {"type", "images"}, {"device", (SourceDir() / "tests/data/images").string()},
        {"fps", 20}, {"loop", true}}},
      {"model",
       {{"path", (SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite").string()},
        {"labels", (SourceDir() / "models/imagenet_labels.txt").string()}}},
      {"socket", {{"path", socket_path.string()}, {"mode", "0600"}}},
  };
  const lookout::config::Config config = lookout::config::ParseConfig(config_json.dump());
  auto classifier = std::make_unique<lookout::daemon::Classifier>(lookout::daemon::ToClassifierOptions(config));
  lr::Interpreter& interpreter = classifier->interpreter();
  auto real = lr::internal::InterpreterTesting::ReplaceKernel(interpreter, 0, nullptr);
  REQUIRE(real != nullptr);
  lr::internal::InterpreterTesting::ReplaceKernel(interpreter, 0, std::make_unique<FlakyKernel>(std::move(real)));

  lookout::daemon::App app(config, std::move(classifier));
  int exit_code = -1;
  std::thread runner([&] { exit_code = app.Run(); });
  // Stops and joins the daemon however the checks below end.
  class Stop {
   public:
    Stop(lookout::daemon::App& app, std::thread& runner) : app_(app), runner_(runner) {}
    ~Stop() {
      app_.RequestStop("test done");
      if (runner_.joinable()) runner_.join();
    }

   private:
    lookout::daemon::App& app_;
    std::thread& runner_;
  };
  std::optional<Stop> stop(std::in_place, app, runner);

  const bool listening = WaitUntil([&] { return lookout::testing::Accepts(socket_path); }, 60s);
  if (listening) {
    Client stream(socket_path);
    REQUIRE(stream.Request({{"cmd", "subscribe"}, {"id", 1}}).at("ok") == true);
    // Events keep coming between the failures: the first, third, ...
    // Invoke() fail, the others are labelled.
    for (int i = 0; i < 3; ++i) {
      const auto line = stream.ReadLine(60s);
      REQUIRE(line.has_value());
      CHECK(json::parse(*line).at("top_k").size() == 5);
    }
    Client query(socket_path);
    json stats;
    CHECK(WaitUntil(
        [&] {
          stats = query.Request({{"cmd", "stats"}}).at("result");
          return stats.at("inference_errors").get<int64_t>() >= 3;
        },
        60s));
    INFO(stats.dump());
    const int64_t errors = stats.at("inference_errors").get<int64_t>();
    const int64_t inferred = stats.at("frames_inferred").get<int64_t>();
    CHECK(errors >= 3);
    CHECK(inferred >= 3);
    // Every other Invoke() fails, so the two counts differ by at most one
    // (plus frames in flight while `stats` is read).
    CHECK(std::abs(errors - inferred) <= 2);
    CHECK(query.Request({{"cmd", "health"}}).at("result").at("camera").at("state") == "running");
  }
  stop.reset();
  REQUIRE(listening);
  CHECK(exit_code == 0);
}
