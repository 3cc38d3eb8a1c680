// lookoutd: the Lookout camera inference daemon.
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
#include "lookout/config/config.h"

int main(int argc, char** argv) {
  CLI::App cli{"lookoutd: camera frames in, top-k labels out on a Unix socket and MQTT"};
  std::string config_path;
  std::string check_path;
  std::string log_level = "info";
  auto* run = cli.add_option("--config", config_path, "Configuration file (JSON)")->check(CLI::ExistingFile);
  auto* check = cli.add_option("--check-config", check_path,
                               "Validate the configuration file, print the effective configuration, and exit");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  run->excludes(check);
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%^%l%$: %v");  // journald adds time and unit
  if (config_path.empty() && check_path.empty()) {
    std::fprintf(stderr, "lookoutd: --config FILE or --check-config FILE is required\n");
    return 2;
  }
  try {
    if (!check_path.empty()) {
      const auto config = lookout::config::LoadConfigFile(check_path);
      std::cout << lookout::config::ConfigToJson(config).dump(2) << std::endl;
      return 0;
    }
    auto config = lookout::config::LoadConfigFile(config_path);
    auto options = lookout::daemon::ToClassifierOptions(config);
    lookout::daemon::ApplyNoOwnKernels(std::getenv("LOOKOUT_NO_OWN_KERNELS"), &options.interpreter);
    lookout::daemon::App app(config, std::make_unique<lookout::daemon::Classifier>(options));
    return app.Run();
  } catch (const lookout::config::ConfigError& e) {
    std::fprintf(stderr, "lookoutd: bad configuration: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookoutd: %s\n", e.what());
    return 1;
  }
}
