#include "app/app.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <spdlog/spdlog.h>

#include "log/log.h"
#include "zones/label_groups.h"
#include "zones/snapshot.h"

namespace lookout::daemon {
namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// RFC 4648 base64. The input is padded with zero bytes to a multiple of 3
// so the encoder never reads past its end; those bytes' characters become '='.
std::string Base64(std::string bytes) {
  using namespace boost::archive::iterators;
  using Encoder = base64_from_binary<transform_width<std::string::const_iterator, 6, 8>>;
  const size_t padding = (3 - bytes.size() % 3) % 3;
  bytes.append(padding, '\0');
  std::string out(Encoder(bytes.cbegin()), Encoder(bytes.cend()));
  std::fill(out.end() - static_cast<std::ptrdiff_t>(padding), out.end(), '=');
  return out;
}

nlohmann::json TopKJson(const std::vector<ClassScore>& top_k) {
  nlohmann::json out = nlohmann::json::array();
  for (const ClassScore& c : top_k) {
    out.push_back({{"index", c.index}, {"label", c.label}, {"score", Round3(c.score)}});
  }
  return out;
}

// The zones lookoutd runs, groups resolved against the model's labels.
// Throws std::runtime_error naming the JSON pointer of a group that is not
// in the groups file.
std::vector<ZoneSpec> ResolveZones(const config::Config& config, const Labels& labels) {
  LabelGroups groups;
  if (!config.model.groups.empty()) groups = LabelGroups::Load(config.model.groups, labels);
  std::vector<ZoneSpec> specs;
  const std::vector<config::ZoneConfig> zones = config::ZonesOrDefault(config);
  for (size_t z = 0; z < zones.size(); ++z) {
    const config::ZoneConfig& zone = zones[z];
    ZoneSpec spec;
    spec.name = zone.name;
    spec.region = zone.region;
    spec.threshold = zone.threshold;
    spec.confirm_frames = zone.confirm_frames;
    spec.min_hold_s = zone.min_hold_s;
    for (size_t g = 0; g < zone.groups.size(); ++g) {
      const std::string pointer = "/zones/" + std::to_string(z) + "/groups/" + std::to_string(g);
      const LabelGroup* group = groups.Find(zone.groups[g]);
      if (group == nullptr) {
        throw std::runtime_error(pointer + ": no group \"" + zone.groups[g] + "\" in " +
                                 config.model.groups.string());
      }
      if (IsReservedZoneLeaf(group->name)) {
        throw std::runtime_error(pointer + ": a group may not be named \"" + group->name +
                                 "\" (state, attributes, event and snapshot are the zone's own topics)");
      }
      spec.groups.push_back(*group);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

// Throws ConfigError(pointer, ...) unless `path` can be read (a folder:
// listed) by the calling user.
void CheckReadable(const std::string& pointer, const std::filesystem::path& path, bool folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw config::ConfigError(pointer, path.string() + ": " + (ec ? ec.message() : std::strerror(ENOENT)));
  }
  if (folder && !fs::is_directory(status)) throw config::ConfigError(pointer, path.string() + " is not a folder");
  if (!folder && fs::is_directory(status)) throw config::ConfigError(pointer, path.string() + " is a folder, not a file");
  if (::access(path.c_str(), folder ? (R_OK | X_OK) : R_OK) != 0) {
    throw config::ConfigError(pointer, "cannot read " + path.string() + ": " + std::strerror(errno));
  }
}

}  // namespace

void CheckFiles(const config::Config& config) {
  CheckReadable("/model/path", config.model.path, false);
  if (!config.model.labels.empty()) CheckReadable("/model/labels", config.model.labels, false);
  if (!config.model.groups.empty()) CheckReadable("/model/groups", config.model.groups, false);
  if (config.camera.type == config::SourceType::kImages) CheckReadable("/camera/device", config.camera.device, true);
  if (config.camera.type == config::SourceType::kVideo) CheckReadable("/camera/device", config.camera.device, false);
  if (config.mqtt.enabled && config.mqtt.tls.enabled) {
    if (!config.mqtt.tls.ca_file.empty()) CheckReadable("/mqtt/tls/ca_file", config.mqtt.tls.ca_file, false);
    if (!config.mqtt.tls.cert_file.empty()) CheckReadable("/mqtt/tls/cert_file", config.mqtt.tls.cert_file, false);
    if (!config.mqtt.tls.key_file.empty()) CheckReadable("/mqtt/tls/key_file", config.mqtt.tls.key_file, false);
  }
}

void CheckStartable(const config::Config& config) {
  namespace fs = std::filesystem;
  CheckFiles(config);
  // The model first without labels, so that a failure is the model's.
  ClassifierOptions options = ToClassifierOptions(config);
  options.labels.clear();
  std::unique_ptr<Classifier> classifier;
  try {
    classifier = std::make_unique<Classifier>(options);
  } catch (const std::exception& e) {
    throw config::ConfigError("/model/path", e.what());
  }
  Labels labels;
  if (!config.model.labels.empty()) {
    const auto& shape = classifier->interpreter().output_details(0).shape;
    try {
      labels = Labels::Load(config.model.labels);
      labels.FitTo(shape.empty() ? 1 : static_cast<size_t>(shape.back()), config.model.labels.string());
    } catch (const std::exception& e) {
      throw config::ConfigError("/model/labels", e.what());
    }
  }
  if (!config.model.groups.empty()) {
    try {
      LabelGroups::Load(config.model.groups, labels);
    } catch (const std::exception& e) {
      throw config::ConfigError("/model/groups", e.what());
    }
  }
  try {
    ResolveZones(config, labels);
  } catch (const std::exception& e) {
    const std::string what = e.what();  // "/zones/0/groups/1: no group ..."
    const size_t colon = what.find(": ");
    if (what.rfind("/zones/", 0) == 0 && colon != std::string::npos) {
      throw config::ConfigError(what.substr(0, colon), what.substr(colon + 2));
    }
    throw config::ConfigError("/zones", what);
  }
  if (config.socket.enabled) {
    const fs::path folder = fs::path(config.socket.path).parent_path();
    std::error_code ec;
    if (fs::is_directory(folder, ec)) {
      if (::access(folder.c_str(), W_OK | X_OK) != 0) {
        throw config::ConfigError("/socket/path", "cannot create the socket in " + folder.string() + ": " +
                                                      std::strerror(errno));
      }
    } else {
      const char* runtime_directory = std::getenv("RUNTIME_DIRECTORY");
      const bool made_by_systemd = folder == "/run/lookout" || folder.parent_path() == "/run/lookout" ||
                                   (runtime_directory != nullptr && folder == runtime_directory);
      if (!made_by_systemd) {
        throw config::ConfigError("/socket/path", "folder " + folder.string() + ": " +
                                                      (ec ? ec.message() : std::string(std::strerror(ENOENT))) +
                                                      " (create it, or use /run/lookout/, which the service creates)");
      }
    }
  }
}

capture::SourceOptions ToSourceOptions(const config::CameraConfig& camera) {
  capture::SourceOptions options;
  options.type = camera.type;
  options.device = camera.device;
  options.width = camera.width;
  options.height = camera.height;
  options.fps = camera.fps;
  options.loop = camera.loop;
  options.max_frame_pixels = static_cast<uint64_t>(camera.max_frame_pixels);
  return options;
}

ClassifierOptions ToClassifierOptions(const config::Config& config) {
  ClassifierOptions options;
  options.model = config.model.path;
  options.labels = config.model.labels;
  options.interpreter.num_threads = config.model.threads;
  runtime::ParseBackend(config.model.backend, &options.interpreter.kernels);  // validated by the config parser
  options.top_k = config.output.top_k;
  options.score_threshold = config.output.score_threshold;
  options.preprocess.center_crop = config.model.center_crop;
  for (int c = 0; c < 3; ++c) {
    options.preprocess.mean[c] = static_cast<float>(config.model.mean[c]);
    options.preprocess.std[c] = static_cast<float>(config.model.std[c]);
  }
  return options;
}

App::App(config::Config config, std::filesystem::path config_path)
    : App(std::move(config), nullptr, std::move(config_path)) {}

App::App(config::Config config, std::unique_ptr<Classifier> classifier, std::filesystem::path config_path)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      signals_(io_),
      watchdog_timer_(io_),
      diagnostics_timer_(io_) {
  // From here on these signals are asio's: none of them ends the process
  // before Run() has had a chance to stop it cleanly.
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) signals_.add(signo);
  for (int signo : {SIGUSR2, SIGPIPE, SIGALRM, SIGIO, SIGVTALRM, SIGPWR}) std::signal(signo, SIG_IGN);
  pipeline_ = BuildPipeline(config_, std::move(classifier));
  generation_ = pipeline_->generation;
  zone_states_.assign(pipeline_->trackers.size(), nullptr);
  snapshots_.assign(pipeline_->trackers.size(), nullptr);
  snapshot_info_.assign(pipeline_->trackers.size(), nullptr);
  if (config_.socket.enabled) {
    socket_ = std::make_unique<SocketServer>(
        io_, config_.socket,
        [this](const std::string& cmd, const nlohmann::json& request) { return HandleRequest(cmd, request); });
  }
  if (config_.mqtt.enabled) {
    mqtt_ = std::make_unique<MqttPublisher>(
        io_, config_.mqtt,
        DeviceInfo{config_.camera.name, pipeline_->classifier->model_name(), LOOKOUT_VERSION, ""}, ZoneInfos(*pipeline_));
  }
}

App::~App() {
  if (!shut_down_) StopPipeline();
}

std::unique_ptr<App::Pipeline> App::BuildPipeline(const config::Config& config,
                                                  std::unique_ptr<Classifier> classifier) {
  auto p = std::make_unique<Pipeline>();
  p->generation = ++generation_counter_;
  p->config = config;
  p->classifier = classifier ? std::move(classifier) : std::make_unique<Classifier>(ToClassifierOptions(config));
  const Classifier& c = *p->classifier;
  spdlog::info("model {}: input {} {}, arena {} bytes; preprocess: {}", config.model.path.string(),
               runtime::DataTypeName(c.input_details().type), c.input_details().name, c.arena_bytes(),
               c.preprocessor().Describe());
  capture::SourceOptions source_options = ToSourceOptions(config.camera);
  // Cameras with a scaler (libcamera) deliver frames at the model's scale.
  source_options.target_width = c.preprocessor().width();
  source_options.target_height = c.preprocessor().height();
  p->source = capture::CreateFrameSource(source_options);
  Pipeline* raw = p.get();
  p->source->SetEventCallback([this, raw](const capture::SourceEvent& event) { OnSourceEvent(*raw, event); });
  for (ZoneSpec& spec : ResolveZones(config, c.labels())) p->trackers.emplace_back(std::move(spec));
  return p;
}

std::vector<ZoneInfo> App::ZoneInfos(const Pipeline& p) {
  std::vector<ZoneInfo> infos;
  for (const ZoneTracker& tracker : p.trackers) {
    ZoneInfo info{tracker.spec().name, {}};
    for (const LabelGroup& group : tracker.spec().groups) info.groups.push_back(group.name);
    infos.push_back(std::move(info));
  }
  return infos;
}

void App::StartPipeline() {
  Pipeline& p = *pipeline_;
  p.worker = std::thread([this, &p] { WorkerLoop(p); });
  try {
    p.source->Start([this, &p](capture::FramePtr frame) { OnFrame(p, std::move(frame)); },
                    [this, &p](const std::string& reason) { OnSourceEnd(p, reason); });
  } catch (...) {
    p.stopping = true;
    p.slot.Close();
    p.worker.join();
    throw;
  }
}

void App::StopPipeline() {
  if (!pipeline_) return;
  Pipeline& p = *pipeline_;
  p.stopping = true;
  p.source->Stop();
  p.slot.Close();
  if (p.worker.joinable()) p.worker.join();
}

int App::Run() {
  WaitForSignal();
  if (socket_) socket_->Start();
  if (mqtt_) mqtt_->Start();
  try {
    StartPipeline();
  } catch (const std::exception& e) {
    spdlog::error("capture: {}", e.what());
    exit_code_ = 1;
    Shutdown(std::string("capture failed: ") + e.what());
    io_.run();
    return exit_code_;
  }
  running_ = true;
  camera_state_ = "running";
  spdlog::info("lookoutd {} running: camera '{}' ({})", LOOKOUT_VERSION, config_.camera.name,
               pipeline_->source->Describe());
  Notify("READY=1\nSTATUS=running: " + pipeline_->source->Describe());
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    ScheduleWatchdog();
  }
  if (mqtt_) ScheduleDiagnostics();
  io_.run();
  return exit_code_;
}

void App::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec || shut_down_) return;
    switch (signo) {
      case SIGHUP:
        Reload();
        break;
      case SIGUSR1: {
        const nlohmann::json stats = Stats();
        spdlog::info("status: camera {} ({}), {} frames captured, {} inferred, {} dropped, {} bad, "
                     "{} inference errors, {} fps",
                     config_.camera.name, camera_state_, stats["frames_captured"].dump(),
                     stats["frames_inferred"].dump(), stats["frames_dropped"].dump(), stats["frames_bad"].dump(),
                     stats["inference_errors"].dump(), stats["fps"].dump());
        break;
      }
      default:
        Shutdown(std::string("signal ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
        return;
    }
    WaitForSignal();
  });
}

void App::RequestStop(const std::string& reason) {
  boost::asio::post(io_, [this, reason] { Shutdown(reason); });
}

void App::RequestReload() {
  boost::asio::post(io_, [this] {
    if (!shut_down_) Reload();
  });
}

void App::Reload() {
  const auto t0 = std::chrono::steady_clock::now();
  const auto monotonic_us =
      std::chrono::duration_cast<std::chrono::microseconds>(t0.time_since_epoch()).count();
  Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_us) + "\nSTATUS=reloading " +
         config_path_.string());
  const auto refuse = [&](const std::string& why) {
    ++reloads_refused_;
    spdlog::error("reload refused, the running configuration stays: {}", why);
    Notify("READY=1\nSTATUS=running; reload refused: " + why);
  };
  if (config_path_.empty()) return refuse("no configuration file to read again");
  if (!running_) return refuse("still starting");
  config::Config next;
  try {
    next = config::LoadConfigFile(config_path_);
    CheckFiles(next);
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
  // camera.name is in every event, so the pipeline and the MQTT client
  // (client id, topics, device) follow it.
  const bool pipeline = next.camera != config_.camera || next.model != config_.model ||
                        next.output != config_.output || next.zones != config_.zones ||
                        next.snapshot != config_.snapshot;
  config::MqttConfig mqtt_live_keys = next.mqtt;  // The keys only the io thread reads.
  mqtt_live_keys.results = config_.mqtt.results;
  mqtt_live_keys.results_max_per_s = config_.mqtt.results_max_per_s;
  mqtt_live_keys.diagnostics_interval_s = config_.mqtt.diagnostics_interval_s;
  const bool mqtt = mqtt_live_keys != config_.mqtt || next.camera.name != config_.camera.name;
  const bool socket = next.socket != config_.socket;
  if (next == config_) {
    spdlog::info("reload: {} has not changed", config_path_.string());
    Notify("READY=1\nSTATUS=running: " + pipeline_->source->Describe());
    return;
  }

  // Everything that can fail is built before anything running is touched.
  std::unique_ptr<Pipeline> next_pipeline;
  std::unique_ptr<MqttPublisher> next_mqtt;
  try {
    if (pipeline) next_pipeline = BuildPipeline(next, nullptr);
    if (mqtt && next.mqtt.enabled) {
      const Pipeline& zones_from = next_pipeline ? *next_pipeline : *pipeline_;
      next_mqtt = std::make_unique<MqttPublisher>(
          io_, next.mqtt, DeviceInfo{next.camera.name, zones_from.classifier->model_name(), LOOKOUT_VERSION, ""},
          ZoneInfos(zones_from));
    }
  } catch (const std::exception& e) {
    return refuse(e.what());
  }

  std::vector<std::string> applied;
  if (pipeline) {
    StopPipeline();
    frames_dropped_before_ += pipeline_->slot.dropped();
    std::unique_ptr<Pipeline> previous = std::move(pipeline_);
    pipeline_ = std::move(next_pipeline);
    // Zones that watch the same thing keep their confirmed state.
    std::vector<nlohmann::json> states(pipeline_->trackers.size(), nullptr);
    std::vector<std::shared_ptr<const std::string>> snapshots(pipeline_->trackers.size());
    std::vector<nlohmann::json> snapshot_info(pipeline_->trackers.size(), nullptr);
    for (size_t z = 0; z < pipeline_->trackers.size(); ++z) {
      for (size_t old = 0; old < previous->trackers.size(); ++old) {
        if (!pipeline_->trackers[z].SameZone(previous->trackers[old].spec())) continue;
        pipeline_->trackers[z].Restore(previous->trackers[old]);
        states[z] = std::move(zone_states_[old]);
        snapshots[z] = std::move(snapshots_[old]);
        snapshot_info[z] = std::move(snapshot_info_[old]);
      }
    }
    zone_states_ = std::move(states);
    snapshots_ = std::move(snapshots);
    snapshot_info_ = std::move(snapshot_info);
    latest_.reset();
    try {
      StartPipeline();
    } catch (const std::exception& e) {
      // The new source cannot start (its checks passed a moment ago): the
      // old pipeline is still whole, so it takes over again.
      spdlog::error("reload: capture: {}; going back to the running configuration", e.what());
      pipeline_ = std::move(previous);
      pipeline_->generation = ++generation_counter_;  // What the stopped run posted is stale.
      generation_ = pipeline_->generation;
      pipeline_->stopping = false;
      pipeline_->slot.Reopen();
      // The zone states moved above are not worth restoring; they come back
      // as frames are confirmed.
      zone_states_.assign(pipeline_->trackers.size(), nullptr);
      snapshots_.assign(pipeline_->trackers.size(), nullptr);
      snapshot_info_.assign(pipeline_->trackers.size(), nullptr);
      camera_state_ = "running";  // A new run: its source reports afresh.
      camera_error_.clear();
      try {
        StartPipeline();
      } catch (const std::exception& again) {
        // Its input has gone too (e.g. the video file was removed): as when
        // lookoutd cannot start.
        spdlog::error("reload: capture: {}", again.what());
        refuse(std::string("capture: ") + e.what());
        exit_code_ = 1;
        Shutdown(std::string("capture failed: ") + again.what());
        return;
      }
      return refuse(std::string("capture: ") + e.what());
    }
    generation_ = pipeline_->generation;
    camera_state_ = "running";  // A new run: its source reports afresh.
    camera_error_.clear();
    std::string sections;
    for (const auto& [name, changed] :
         {std::pair{"camera", next.camera != config_.camera}, std::pair{"model", next.model != config_.model},
          std::pair{"output", next.output != config_.output}, std::pair{"zones", next.zones != config_.zones},
          std::pair{"snapshot", next.snapshot != config_.snapshot}}) {
      if (changed) sections += std::string(sections.empty() ? "" : ", ") + name;
    }
    applied.push_back("pipeline rebuilt (" + sections + " changed)");
  }
  if (socket) {
    std::unique_ptr<SocketServer> previous = std::move(socket_);
    if (previous) previous->Stop();
    if (next.socket.enabled) {
      try {
        socket_ = std::make_unique<SocketServer>(
            io_, next.socket,
            [this](const std::string& cmd, const nlohmann::json& request) { return HandleRequest(cmd, request); });
        socket_->Start();
      } catch (const std::exception& e) {
        spdlog::error("reload: {}; the socket stays closed until the next reload", e.what());
        socket_.reset();
      }
    }
    applied.push_back("socket reopened (its clients were disconnected)");
  }
  if (mqtt) {
    if (mqtt_) mqtt_->Stop();
    mqtt_ = std::move(next_mqtt);
    diagnostics_timer_.cancel();
    if (mqtt_) {
      mqtt_->Start();
      RepublishZoneStates();
      ScheduleDiagnostics();
    }
    applied.push_back("MQTT client restarted");
  } else if (mqtt_ && pipeline) {
    mqtt_->SetZones(ZoneInfos(*pipeline_), pipeline_->classifier->model_name());
    RepublishZoneStates();
  }
  if (next.log != config_.log) {
    SetLogLevel(log_level_override_.value_or(spdlog::level::from_str(next.log.level)), next.log.repeats_per_minute);
    applied.push_back("log settings applied live");
  }
  if (next.mqtt.results != config_.mqtt.results || next.mqtt.results_max_per_s != config_.mqtt.results_max_per_s ||
      next.mqtt.diagnostics_interval_s != config_.mqtt.diagnostics_interval_s) {
    applied.push_back("MQTT results and diagnostics settings applied live");
  }
  config_ = std::move(next);
  ++reloads_;
  std::string what;
  for (size_t i = 0; i < applied.size(); ++i) what += (i ? "; " : "") + applied[i];
  spdlog::info("reload: applied in {:.0f} ms: {}",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), what);
  Notify("READY=1\nSTATUS=running: " + pipeline_->source->Describe());
}

void App::RepublishZoneStates() {
  if (!mqtt_) return;
  const CameraTopics& topics = mqtt_->topics();
  for (size_t z = 0; z < zone_states_.size(); ++z) {
    const nlohmann::json& state = zone_states_[z];
    if (state.is_null() || !state["state"].is_string()) continue;
    const std::string& zone = pipeline_->trackers[z].spec().name;
    mqtt_->PublishState(topics.ZoneState(zone), state["state"].get<std::string>());
    nlohmann::json attributes = state;
    attributes.erase("zone");
    attributes.erase("state");
    mqtt_->PublishState(topics.ZoneAttributes(zone), attributes.dump());
    if (snapshots_[z]) mqtt_->PublishState(topics.ZoneSnapshot(zone), *snapshots_[z]);
    for (const auto& [group, value] : state["groups"].items()) {
      mqtt_->PublishState(topics.ZoneGroup(zone, group), value.get<std::string>());
    }
  }
}

void App::OnFrame(Pipeline& p, capture::FramePtr frame) {
  if (p.stopping || p.capture_limit_reached) return;
  const uint64_t n = ++frames_captured_;
  last_frame_ns_ = SteadyNowNs();
  if (frame->capture_cpu) {
    std::lock_guard lock(capture_cpu_mutex_);
    capture_cpu_ms_.Add(std::chrono::duration<double, std::milli>(*frame->capture_cpu).count());
  }
  p.slot.Put(std::move(frame));
  if (p.config.camera.max_frames > 0 && n >= static_cast<uint64_t>(p.config.camera.max_frames)) {
    p.capture_limit_reached = true;
    boost::asio::post(io_, [this, generation = p.generation] {
      if (generation != generation_ || shut_down_) return;
      spdlog::info("captured {} frames (camera.max_frames): finishing", config_.camera.max_frames);
      camera_state_ = "ended";
      pipeline_->source->Stop();
      pipeline_->slot.Close();
    });
  }
}

void App::OnSourceEnd(Pipeline& p, const std::string& reason) {
  boost::asio::post(io_, [this, reason, generation = p.generation] {
    if (generation != generation_ || shut_down_) return;
    if (reason.empty()) {
      spdlog::info("capture: end of input ({} frames)", frames_captured_.load());
      camera_state_ = "ended";
    } else {
      spdlog::error("capture: {}", reason);
      camera_state_ = "failed: " + reason;
      exit_code_ = 1;
    }
    pipeline_->slot.Close();  // the worker drains the last frame, then Shutdown() follows
  });
}

void App::OnSourceEvent(Pipeline& p, const capture::SourceEvent& event) {
  // The source has logged it; here it is counted and shown in `health`.
  using Kind = capture::SourceEvent::Kind;
  switch (event.kind) {
    case Kind::kBadFrame:
      ++frames_bad_;
      return;
    case Kind::kError:
      ++source_errors_;
      break;
    case Kind::kReconnecting:
      ++source_retries_;
      break;
    case Kind::kRecovered:
      break;
  }
  boost::asio::post(io_, [this, generation = p.generation, kind = event.kind, message = event.message] {
    if (generation != generation_ || shut_down_ || camera_state_ == "ended") return;
    if (kind == Kind::kRecovered) {
      camera_state_ = "running";
      camera_error_.clear();
      Notify("STATUS=running: " + pipeline_->source->Describe());
      return;
    }
    camera_state_ = kind == Kind::kReconnecting ? "reconnecting" : "error";
    camera_error_ = message;
    Notify("STATUS=" + camera_state_ + ": " + message);
  });
}

void App::WorkerLoop(Pipeline& p) {
  const config::Config& config = p.config;
  const auto min_interval = config.camera.max_fps > 0
                                ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(1.0 / config.camera.max_fps))
                                : std::chrono::steady_clock::duration::zero();
  while (capture::FramePtr frame = p.slot.Take()) {
    if (p.stopping) break;
    if (p.processed_any && frame->captured - p.last_processed < min_interval) {
      ++frames_skipped_;
      continue;
    }
    p.processed_any = true;
    p.last_processed = frame->captured;
    Event event;
    event.camera = config.camera.name;
    event.seq = frame->sequence;
    event.ts = frame->wall_time;
    event.model = p.classifier->model_name();
    std::vector<ZoneUpdate> updates;
    try {
      const auto convert_start = std::chrono::steady_clock::now();
      const cv::Mat* bgr = &frame->image;
      if (frame->layout != capture::PixelLayout::kBgr) {
        capture::ToBgr(*frame, &p.bgr);
        bgr = &p.bgr;
      }
      event.preprocess_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - convert_start).count();
      const auto now = std::chrono::steady_clock::now();
      for (size_t z = 0; z < p.trackers.size(); ++z) {
        ZoneTracker& tracker = p.trackers[z];
        const cv::Rect box = RegionRect(tracker.spec().region, bgr->size());
        Classification result = p.classifier->Classify((*bgr)(box));
        event.preprocess_ms += result.preprocess_ms;
        event.inference_ms += result.inference_ms;
        const ZoneCandidate candidate = Candidate(tracker.spec(), result.scores, result.top_k);
        const std::string previous = tracker.state();
        const ZoneTracker::Changes changes = tracker.Update(candidate, result.top_k, frame->sequence, frame->wall_time, now);
        ZoneResult zone_result{tracker.spec().name, candidate.state, candidate.score, result.top_k};
        if (z == 0) event.top_k = result.top_k;
        event.zones.push_back(std::move(zone_result));
        if (!changes.any()) continue;
        ZoneUpdate update;
        update.zone = z;
        update.state_changed = changes.state;
        nlohmann::json groups = nlohmann::json::object();
        for (size_t g = 0; g < tracker.spec().groups.size(); ++g) {
          if (!tracker.group_state(g).empty()) groups[tracker.spec().groups[g].name] = tracker.group_state(g);
        }
        for (size_t g : changes.groups) {
          update.groups.emplace_back(tracker.spec().groups[g].name, tracker.group_state(g));
        }
        update.state = {{"zone", tracker.spec().name},
                        {"state", tracker.state().empty() ? nlohmann::json(nullptr) : nlohmann::json(tracker.state())},
                        {"score", Round3(tracker.score())},
                        {"since", FormatTimestamp(tracker.since())},
                        {"seq", tracker.seq()},
                        {"top_k", TopKJson(tracker.top_k())},
                        {"groups", groups}};
        update.event = {{"v", kEventSchemaVersion},
                        {"type", "state"},
                        {"camera", config.camera.name},
                        {"zone", tracker.spec().name},
                        {"state", update.state["state"]},
                        {"previous", previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous)},
                        {"state_changed", changes.state},
                        {"score", Round3(tracker.score())},
                        {"seq", frame->sequence},
                        {"ts", FormatTimestamp(frame->wall_time)},
                        {"groups", groups}};
        if (changes.state && config.snapshot.enabled) {
          try {
            update.snapshot = std::make_shared<const std::string>(
                EncodeSnapshot(*bgr, tracker.spec().region, config.snapshot.max_size, config.snapshot.quality));
          } catch (const std::exception& e) {
            spdlog::warn("frame {}: {}", frame->sequence, e.what());
          }
        }
        updates.push_back(std::move(update));
      }
    } catch (const std::exception& e) {
      spdlog::warn("frame {}: {}", frame->sequence, e.what());
      boost::asio::post(io_, [this] { ++inference_errors_; });
      continue;
    }
    event.capture_to_result_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame->captured).count();
    boost::asio::post(io_, [this, generation = p.generation, event = std::move(event),
                            updates = std::move(updates)]() mutable {
      if (generation == generation_) OnEvent(std::move(event), std::move(updates));
    });
  }
  if (p.stopping) return;  // Stopped on purpose: Shutdown() or a reload.
  boost::asio::post(io_, [this, generation = p.generation] {
    if (generation == generation_ && !shut_down_) Shutdown(camera_state_ == "ended" ? "end of input" : camera_state_);
  });
}

void App::OnEvent(Event event, std::vector<ZoneUpdate> updates) {
  if (shut_down_) return;
  ++frames_inferred_;
  rate_.Tick(std::chrono::steady_clock::now());
  capture_to_result_ms_.Add(event.capture_to_result_ms);
  preprocess_ms_.Add(event.preprocess_ms);
  inference_ms_.Add(event.inference_ms);
  nlohmann::json json = EventToJson(event);
  auto line = std::make_shared<const std::string>(json.dump());
  latest_ = std::move(json);
  if (socket_) socket_->Broadcast(line);
  if (mqtt_) MaybePublishResult(event, *line);
  for (const ZoneUpdate& update : updates) PublishZoneUpdate(update);
}

void App::MaybePublishResult(const Event& event, const std::string& line) {
  const std::string& mode = config_.mqtt.results;
  if (mode == "off") return;
  const std::string label = event.top_k.empty() ? std::string() : event.top_k.front().label;
  if (mode == "on_change" && result_sent_ && label == last_result_label_) return;
  const auto now = std::chrono::steady_clock::now();
  if (config_.mqtt.results_max_per_s > 0 && result_sent_ &&
      std::chrono::duration<double>(now - last_result_sent_).count() < 1.0 / config_.mqtt.results_max_per_s) {
    return;
  }
  result_sent_ = true;
  last_result_sent_ = now;
  last_result_label_ = label;
  mqtt_->PublishResult(line);
}

void App::PublishZoneUpdate(const ZoneUpdate& update) {
  const std::string& zone = pipeline_->trackers[update.zone].spec().name;
  zone_states_[update.zone] = update.state;
  if (update.snapshot) {
    snapshots_[update.zone] = update.snapshot;
    snapshot_info_[update.zone] = {{"seq", update.state["seq"]}, {"since", update.state["since"]},
                                   {"state", update.state["state"]}};
  }
  if (socket_) socket_->Broadcast(std::make_shared<const std::string>(update.event.dump()));
  if (!mqtt_) return;
  const CameraTopics& topics = mqtt_->topics();
  if (update.state_changed) {
    mqtt_->PublishState(topics.ZoneState(zone), update.state["state"].get<std::string>());
    nlohmann::json attributes = update.state;
    attributes.erase("zone");
    attributes.erase("state");
    mqtt_->PublishState(topics.ZoneAttributes(zone), attributes.dump());
    nlohmann::json event = update.event;
    event["event_type"] = "state_changed";
    mqtt_->Publish(topics.ZoneEvent(zone), event.dump(), false);
    if (update.snapshot) mqtt_->PublishState(topics.ZoneSnapshot(zone), *update.snapshot);
  }
  for (const auto& [group, value] : update.groups) mqtt_->PublishState(topics.ZoneGroup(zone, group), value);
}

nlohmann::json App::Diagnostics() {
  const auto now = std::chrono::steady_clock::now();
  const nlohmann::json inference = inference_ms_.ToJson();
  return {{"fps", Round3(rate_.PerSecond(now))},
          {"inference_ms", inference.contains("p50") ? inference["p50"] : nlohmann::json(nullptr)},
          {"frames_captured", frames_captured_.load()},
          {"frames_inferred", frames_inferred_},
          {"frames_dropped", frames_dropped_before_ + pipeline_->slot.dropped()},
          {"frames_skipped", frames_skipped_.load()},
          {"camera_state", camera_state_}};
}

void App::ScheduleDiagnostics() {
  // The first soon after start, then every diagnostics_interval_s.
  diagnostics_timer_.expires_after(frames_inferred_ == 0 ? std::chrono::seconds(2)
                                                         : std::chrono::seconds(config_.mqtt.diagnostics_interval_s));
  diagnostics_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shut_down_) return;
    mqtt_->PublishState(mqtt_->topics().diagnostics, Diagnostics().dump());
    ScheduleDiagnostics();
  });
}

nlohmann::json App::Stats() {
  const auto now = std::chrono::steady_clock::now();
  const double uptime_s = std::chrono::duration<double>(now - started_).count();
  nlohmann::json stats = {
      {"frames_captured", frames_captured_.load()},
      {"frames_inferred", frames_inferred_},
      {"frames_dropped", frames_dropped_before_ + pipeline_->slot.dropped()},
      {"frames_skipped", frames_skipped_.load()},
      {"frames_bad", frames_bad_.load()},
      {"inference_errors", inference_errors_},
      {"source_errors", source_errors_.load()},
      {"source_retries", source_retries_.load()},
      {"reloads", reloads_},
      {"reloads_refused", reloads_refused_},
      {"fps", Round3(rate_.PerSecond(now))},
      {"uptime_s", Round3(uptime_s)},
      {"arena_bytes", pipeline_->classifier->arena_bytes()},
      {"latency_ms",
       {{"capture_to_result", capture_to_result_ms_.ToJson()},
        {"preprocess", preprocess_ms_.ToJson()},
        {"inference", inference_ms_.ToJson()}}}};
  {
    std::lock_guard lock(capture_cpu_mutex_);
    stats["capture_cpu_ms"] = capture_cpu_ms_.ToJson();
  }
  if (mqtt_) {
    const auto s = mqtt_->stats();
    stats["mqtt"] = {{"connected", s.connected}, {"published", s.published}, {"queued", s.queued},
                     {"dropped", s.dropped}, {"reconnects", s.reconnects}};
  }
  if (socket_) {
    stats["socket_clients"] = socket_->client_count();
    stats["socket_dropped_clients"] = socket_->dropped_clients();
  }
  return stats;
}

nlohmann::json App::HandleRequest(const std::string& cmd, const nlohmann::json& request) {
  if (cmd == "latest") return latest_ ? *latest_ : nlohmann::json(nullptr);
  if (cmd == "state") {
    nlohmann::json zones = nlohmann::json::object();
    for (size_t z = 0; z < pipeline_->trackers.size(); ++z) {
      zones[pipeline_->trackers[z].spec().name] =
          zone_states_[z].is_null() ? nlohmann::json{{"zone", pipeline_->trackers[z].spec().name}, {"state", nullptr}}
                                    : zone_states_[z];
    }
    return {{"camera", config_.camera.name}, {"zones", zones}};
  }
  if (cmd == "snapshot") {
    size_t z = 0;
    if (request.contains("zone")) {
      if (!request["zone"].is_string()) throw std::runtime_error("\"zone\" must be a zone name");
      const std::string name = request["zone"].get<std::string>();
      while (z < pipeline_->trackers.size() && pipeline_->trackers[z].spec().name != name) ++z;
      if (z == pipeline_->trackers.size()) throw std::runtime_error("no zone \"" + name + "\"");
    }
    if (!snapshots_[z]) return nullptr;
    nlohmann::json out = snapshot_info_[z];
    out["zone"] = pipeline_->trackers[z].spec().name;
    out["content_type"] = "image/jpeg";
    out["bytes"] = snapshots_[z]->size();
    out["jpeg_base64"] = Base64(*snapshots_[z]);
    return out;
  }
  if (cmd == "version") {
    return {{"version", LOOKOUT_VERSION}, {"model", pipeline_->classifier->model_name()}, {"event_schema", kEventSchemaVersion}};
  }
  if (cmd == "stats") return Stats();
  if (cmd == "health") {
    const int64_t last = last_frame_ns_.load();
    nlohmann::json camera = {{"name", config_.camera.name}, {"state", camera_state_}};
    if (!camera_error_.empty()) camera["error"] = camera_error_;
    if (last != 0) camera["last_frame_age_ms"] = Round3(static_cast<double>(SteadyNowNs() - last) / 1e6);
    nlohmann::json health = {{"status", camera_state_ == "running" ? "ok" : "degraded"}, {"camera", camera}};
    if (mqtt_) {
      health["mqtt"] = {{"enabled", true}, {"connected", mqtt_->stats().connected}};
    } else {
      health["mqtt"] = {{"enabled", false}};
    }
    return health;
  }
  throw std::runtime_error("unknown command \"" + cmd +
                           "\" (expected one of latest, state, snapshot, subscribe, unsubscribe, stats, health, version)");
}

void App::Shutdown(const std::string& reason) {
  if (shut_down_) return;
  shut_down_ = true;
  spdlog::info("stopping: {}", reason);
  Notify("STOPPING=1\nSTATUS=stopping: " + reason);
  StopPipeline();
  watchdog_timer_.cancel();
  diagnostics_timer_.cancel();
  signals_.cancel();
  if (mqtt_) mqtt_->Stop();
  if (socket_) socket_->Stop();
  io_.stop();
}

void App::ScheduleWatchdog() {
  watchdog_timer_.expires_after(watchdog_interval_);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shut_down_) return;
    // Ping only while frames flow, or while the source is retrying a lost
    // camera with its own backoff (a restart would not bring it back
    // sooner): a stalled camera lets systemd restart us.
    const int64_t age_ns = SteadyNowNs() - last_frame_ns_.load();
    if (camera_state_ == "reconnecting" ||
        age_ns < std::chrono::duration_cast<std::chrono::nanoseconds>(watchdog_interval_ * 2).count()) {
      Notify("WATCHDOG=1");
    } else {
      spdlog::warn("no frame for {:.1f} s: withholding the watchdog ping", static_cast<double>(age_ns) / 1e9);
    }
    ScheduleWatchdog();
  });
}

void App::Notify(const std::string& state) {
  // 0: not started by systemd (no NOTIFY_SOCKET), nothing to tell.
  const int rc = sd_notify(0, state.c_str());
  if (rc >= 0) {
    notify_failed_ = false;
  } else if (!notify_failed_.exchange(true)) {
    spdlog::warn("sd_notify(\"{}\") failed: {}", state.substr(0, state.find('\n')), std::strerror(-rc));
  }
}

}  // namespace lookout::daemon
