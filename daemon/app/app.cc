#include "app/app.h"

#include <systemd/sd-daemon.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace lookout::daemon {
namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

capture::SourceOptions ToSourceOptions(const config::CameraConfig& camera) {
  capture::SourceOptions options;
  options.type = camera.type;
  options.device = camera.device;
  options.width = camera.width;
  options.height = camera.height;
  options.fps = camera.fps;
  options.loop = camera.loop;
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

App::App(config::Config config) : App(config, std::make_unique<Classifier>(ToClassifierOptions(config))) {}

App::App(config::Config config, std::unique_ptr<Classifier> classifier)
    : config_(std::move(config)),
      signals_(io_, SIGINT, SIGTERM),
      watchdog_timer_(io_),
      classifier_(std::move(classifier)) {
  if (!classifier_) throw std::invalid_argument("App: no classifier");
  spdlog::info("model {}: input {} {}, arena {} bytes; preprocess: {}", config_.model.path.string(),
               runtime::DataTypeName(classifier_->input_details().type),
               classifier_->input_details().name, classifier_->arena_bytes(),
               classifier_->preprocessor().Describe());
  capture::SourceOptions source_options = ToSourceOptions(config_.camera);
  // Cameras with a scaler (libcamera) deliver frames at the model's scale.
  source_options.target_width = classifier_->preprocessor().width();
  source_options.target_height = classifier_->preprocessor().height();
  source_ = capture::CreateFrameSource(source_options);
  if (config_.socket.enabled) {
    socket_ = std::make_unique<SocketServer>(
        io_, config_.socket,
        [this](const std::string& cmd, const nlohmann::json& request) { return HandleRequest(cmd, request); });
  }
  if (config_.mqtt.enabled) {
    mqtt_ = std::make_unique<MqttPublisher>(
        io_, config_.mqtt, DeviceInfo{config_.camera.name, classifier_->model_name(), LOOKOUT_VERSION});
  }
}

App::~App() {
  if (!shut_down_) {
    stopping_ = true;
    if (source_) source_->Stop();
    slot_.Close();
    if (worker_.joinable()) worker_.join();
  }
}

int App::Run() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (!ec) Shutdown(std::string("signal ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
  });
  if (socket_) socket_->Start();
  if (mqtt_) mqtt_->Start();
  worker_ = std::thread([this] { WorkerLoop(); });
  try {
    source_->Start([this](capture::FramePtr frame) { OnFrame(std::move(frame)); },
                   [this](const std::string& reason) { OnSourceEnd(reason); });
  } catch (const std::exception& e) {
    spdlog::error("capture: {}", e.what());
    exit_code_ = 1;
    Shutdown(std::string("capture failed: ") + e.what());
    io_.run();
    return exit_code_;
  }
  camera_state_ = "running";
  spdlog::info("lookoutd {} running: camera '{}' ({})", LOOKOUT_VERSION, config_.camera.name, source_->Describe());
  Notify("READY=1\nSTATUS=running: " + source_->Describe());
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    ScheduleWatchdog();
  }
  io_.run();
  return exit_code_;
}

void App::RequestStop(const std::string& reason) {
  boost::asio::post(io_, [this, reason] { Shutdown(reason); });
}

void App::OnFrame(capture::FramePtr frame) {
  if (stopping_ || capture_limit_reached_) return;
  const uint64_t n = ++frames_captured_;
  last_frame_ns_ = SteadyNowNs();
  if (frame->capture_cpu) {
    std::lock_guard lock(capture_cpu_mutex_);
    capture_cpu_ms_.Add(std::chrono::duration<double, std::milli>(*frame->capture_cpu).count());
  }
  slot_.Put(std::move(frame));
  if (config_.camera.max_frames > 0 && n >= static_cast<uint64_t>(config_.camera.max_frames)) {
    capture_limit_reached_ = true;
    boost::asio::post(io_, [this] {
      spdlog::info("captured {} frames (camera.max_frames): finishing", config_.camera.max_frames);
      camera_state_ = "ended";
      source_->Stop();
      slot_.Close();
    });
  }
}

void App::OnSourceEnd(const std::string& reason) {
  boost::asio::post(io_, [this, reason] {
    if (reason.empty()) {
      spdlog::info("capture: end of input ({} frames)", frames_captured_.load());
      camera_state_ = "ended";
    } else {
      spdlog::error("capture: {}", reason);
      camera_state_ = "failed: " + reason;
      exit_code_ = 1;
    }
    slot_.Close();  // the worker drains the last frame, then Shutdown() follows
  });
}

void App::WorkerLoop() {
  while (capture::FramePtr frame = slot_.Take()) {
    if (stopping_) break;
    Event event;
    event.camera = config_.camera.name;
    event.seq = frame->sequence;
    event.ts = frame->wall_time;
    event.model = classifier_->model_name();
    try {
      Classification result = classifier_->Classify(*frame);
      event.top_k = std::move(result.top_k);
      event.preprocess_ms = result.preprocess_ms;
      event.inference_ms = result.inference_ms;
    } catch (const std::exception& e) {
      spdlog::warn("frame {}: {}", frame->sequence, e.what());
      boost::asio::post(io_, [this] { ++inference_errors_; });
      continue;
    }
    event.capture_to_result_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame->captured).count();
    boost::asio::post(io_, [this, event = std::move(event)]() mutable { OnEvent(std::move(event)); });
  }
  boost::asio::post(io_, [this] {
    if (!stopping_) Shutdown(camera_state_ == "ended" ? "end of input" : camera_state_);
  });
}

void App::OnEvent(Event event) {
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
  if (mqtt_) mqtt_->PublishResult(*line);
}

nlohmann::json App::HandleRequest(const std::string& cmd, const nlohmann::json& /*request*/) {
  const auto now = std::chrono::steady_clock::now();
  const double uptime_s = std::chrono::duration<double>(now - started_).count();
  if (cmd == "latest") return latest_ ? *latest_ : nlohmann::json(nullptr);
  if (cmd == "version") {
    return {{"version", LOOKOUT_VERSION}, {"model", classifier_->model_name()}, {"event_schema", kEventSchemaVersion}};
  }
  if (cmd == "stats") {
    nlohmann::json stats = {
        {"frames_captured", frames_captured_.load()},
        {"frames_inferred", frames_inferred_},
        {"frames_dropped", slot_.dropped()},
        {"inference_errors", inference_errors_},
        {"fps", Round3(rate_.PerSecond(now))},
        {"uptime_s", Round3(uptime_s)},
        {"arena_bytes", classifier_->arena_bytes()},
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
    if (socket_) stats["socket_clients"] = socket_->client_count();
    return stats;
  }
  if (cmd == "health") {
    const int64_t last = last_frame_ns_.load();
    nlohmann::json camera = {{"name", config_.camera.name}, {"state", camera_state_}};
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
                           "\" (expected one of latest, subscribe, unsubscribe, stats, health, version)");
}

void App::Shutdown(const std::string& reason) {
  if (shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  spdlog::info("stopping: {}", reason);
  Notify("STOPPING=1\nSTATUS=stopping: " + reason);
  source_->Stop();
  slot_.Close();
  if (worker_.joinable()) worker_.join();
  watchdog_timer_.cancel();
  signals_.cancel();
  if (mqtt_) mqtt_->Stop();
  if (socket_) socket_->Stop();
  io_.stop();
}

void App::ScheduleWatchdog() {
  watchdog_timer_.expires_after(watchdog_interval_);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shut_down_) return;
    // Ping only while frames flow: a stalled camera lets systemd restart us.
    const int64_t age_ns = SteadyNowNs() - last_frame_ns_.load();
    if (age_ns < std::chrono::duration_cast<std::chrono::nanoseconds>(watchdog_interval_ * 2).count()) {
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
