// lookoutd: the Lookout camera inference daemon.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/app.h"
#include "classifier/classifier.h"
#include "cli/model_tools.h"
#include "log/log.h"
#include "lookout/config/config.h"

namespace {

// Signals that arrive while the model loads, before App's signal_set takes
// them over: without a handler SIGTERM would end the process (status 143)
// and SIGHUP too (129).
volatile std::sig_atomic_t early_signal = 0;

void RememberSignal(int signo) {
  if (early_signal != SIGTERM && early_signal != SIGINT) early_signal = signo;
}

// lookoutd itself; exceptions are main()'s to report.
int Run(const std::string& config_path, const std::string& check_path, const std::string& log_level) {
  if (!check_path.empty()) {
    const auto config = lookout::config::LoadConfigFile(check_path);
    lookout::daemon::CheckStartable(config);
    std::cout << lookout::config::ConfigToJson(config).dump(2) << std::endl;
    return 0;
  }
  auto config = lookout::config::LoadConfigFile(config_path);
  lookout::daemon::LogOptions log;
  log.level = spdlog::level::from_str(log_level.empty() ? config.log.level : log_level);
  log.repeats_per_minute = config.log.repeats_per_minute;
  lookout::daemon::SetUpLogging(log);
  spdlog::info("lookoutd {} starting: loading {}", LOOKOUT_VERSION, config.model.path.string());
  auto options = lookout::daemon::ToClassifierOptions(config);
  lookout::daemon::ApplyNoOwnKernels(std::getenv("LOOKOUT_NO_OWN_KERNELS"), &options.interpreter);
  if (early_signal == SIGTERM || early_signal == SIGINT) {
    spdlog::info("stopping: {} while starting", early_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    return 0;
  }
  lookout::daemon::App app(config, std::make_unique<lookout::daemon::Classifier>(options), config_path);
  if (!log_level.empty()) app.KeepLogLevel(log.level);
  // App's signal_set now has them; what came while the model loaded is honoured here.
  if (early_signal == SIGTERM || early_signal == SIGINT) {
    spdlog::info("stopping: {} while starting", early_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    return 0;
  }
  if (early_signal == SIGHUP) app.RequestReload();
  return app.Run();
}

}  // namespace

int main(int argc, char** argv) {
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) std::signal(signo, RememberSignal);
  for (int signo : {SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGIO, SIGVTALRM, SIGPWR}) std::signal(signo, SIG_IGN);
  CLI::App cli{"lookoutd: camera frames in, top-k labels out on a Unix socket and MQTT"};
  std::string config_path;
  std::string check_path;
  std::string log_level;
  auto* run = cli.add_option("--config", config_path, "Configuration file (JSON)")->check(CLI::ExistingFile);
  auto* check = cli.add_option("--check-config", check_path,
                               "Check the configuration file and what it names (files, model, labels, "
                               "groups, socket folder) without starting; print the effective configuration "
                               "and exit (0), or name the bad key and exit 2");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error (default: /log/level, info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  run->excludes(check);
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level.empty() ? "info" : log_level));
  spdlog::set_pattern("%^%l%$: %v");  // journald adds time and unit
  if (config_path.empty() && check_path.empty()) {
    std::fprintf(stderr, "lookoutd: --config FILE or --check-config FILE is required\n");
    return 2;
  }
  int status = 0;
  try {
    status = Run(config_path, check_path, log_level);
  } catch (const lookout::config::ConfigError& e) {
    lookout::daemon::FinishLogging();
    std::fprintf(stderr, "lookoutd: bad configuration: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    lookout::daemon::FinishLogging();
    std::fprintf(stderr, "lookoutd: %s\n", e.what());
    return 1;
  }
  lookout::daemon::FinishLogging();
  return status;
}
