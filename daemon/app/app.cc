#include "app/app.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstring>

#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <spdlog/spdlog.h>

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
      diagnostics_timer_(io_),
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
  std::vector<ZoneInfo> zone_infos;
  for (ZoneSpec& spec : ResolveZones(config_, classifier_->labels())) {
    ZoneInfo info{spec.name, {}};
    for (const LabelGroup& group : spec.groups) info.groups.push_back(group.name);
    zone_infos.push_back(std::move(info));
    trackers_.emplace_back(std::move(spec));
  }
  zone_states_.assign(trackers_.size(), nullptr);
  snapshots_.assign(trackers_.size(), nullptr);
  snapshot_info_.assign(trackers_.size(), nullptr);
  if (config_.socket.enabled) {
    socket_ = std::make_unique<SocketServer>(
        io_, config_.socket,
        [this](const std::string& cmd, const nlohmann::json& request) { return HandleRequest(cmd, request); });
  }
  if (config_.mqtt.enabled) {
    mqtt_ = std::make_unique<MqttPublisher>(
        io_, config_.mqtt, DeviceInfo{config_.camera.name, classifier_->model_name(), LOOKOUT_VERSION, ""},
        std::move(zone_infos));
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
  if (mqtt_) ScheduleDiagnostics();
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
  const auto min_interval = config_.camera.max_fps > 0
                                ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(1.0 / config_.camera.max_fps))
                                : std::chrono::steady_clock::duration::zero();
  while (capture::FramePtr frame = slot_.Take()) {
    if (stopping_) break;
    if (processed_any_ && frame->captured - last_processed_ < min_interval) {
      ++frames_skipped_;
      continue;
    }
    processed_any_ = true;
    last_processed_ = frame->captured;
    Event event;
    event.camera = config_.camera.name;
    event.seq = frame->sequence;
    event.ts = frame->wall_time;
    event.model = classifier_->model_name();
    std::vector<ZoneUpdate> updates;
    try {
      const auto convert_start = std::chrono::steady_clock::now();
      const cv::Mat* bgr = &frame->image;
      if (frame->layout != capture::PixelLayout::kBgr) {
        capture::ToBgr(*frame, &bgr_);
        bgr = &bgr_;
      }
      event.preprocess_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - convert_start).count();
      const auto now = std::chrono::steady_clock::now();
      for (size_t z = 0; z < trackers_.size(); ++z) {
        ZoneTracker& tracker = trackers_[z];
        const cv::Rect box = RegionRect(tracker.spec().region, bgr->size());
        Classification result = classifier_->Classify((*bgr)(box));
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
                        {"camera", config_.camera.name},
                        {"zone", tracker.spec().name},
                        {"state", update.state["state"]},
                        {"previous", previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous)},
                        {"state_changed", changes.state},
                        {"score", Round3(tracker.score())},
                        {"seq", frame->sequence},
                        {"ts", FormatTimestamp(frame->wall_time)},
                        {"groups", groups}};
        if (changes.state && config_.snapshot.enabled) {
          try {
            update.snapshot = std::make_shared<const std::string>(
                EncodeSnapshot(*bgr, tracker.spec().region, config_.snapshot.max_size, config_.snapshot.quality));
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
    boost::asio::post(io_, [this, event = std::move(event), updates = std::move(updates)]() mutable {
      OnEvent(std::move(event), std::move(updates));
    });
  }
  boost::asio::post(io_, [this] {
    if (!stopping_) Shutdown(camera_state_ == "ended" ? "end of input" : camera_state_);
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
  const std::string& zone = trackers_[update.zone].spec().name;
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
          {"frames_dropped", slot_.dropped()},
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

nlohmann::json App::HandleRequest(const std::string& cmd, const nlohmann::json& request) {
  const auto now = std::chrono::steady_clock::now();
  const double uptime_s = std::chrono::duration<double>(now - started_).count();
  if (cmd == "latest") return latest_ ? *latest_ : nlohmann::json(nullptr);
  if (cmd == "state") {
    nlohmann::json zones = nlohmann::json::object();
    for (size_t z = 0; z < trackers_.size(); ++z) {
      zones[trackers_[z].spec().name] =
          zone_states_[z].is_null() ? nlohmann::json{{"zone", trackers_[z].spec().name}, {"state", nullptr}}
                                    : zone_states_[z];
    }
    return {{"camera", config_.camera.name}, {"zones", zones}};
  }
  if (cmd == "snapshot") {
    size_t z = 0;
    if (request.contains("zone")) {
      if (!request["zone"].is_string()) throw std::runtime_error("\"zone\" must be a zone name");
      const std::string name = request["zone"].get<std::string>();
      while (z < trackers_.size() && trackers_[z].spec().name != name) ++z;
      if (z == trackers_.size()) throw std::runtime_error("no zone \"" + name + "\"");
    }
    if (!snapshots_[z]) return nullptr;
    nlohmann::json out = snapshot_info_[z];
    out["zone"] = trackers_[z].spec().name;
    out["content_type"] = "image/jpeg";
    out["bytes"] = snapshots_[z]->size();
    out["jpeg_base64"] = Base64(*snapshots_[z]);
    return out;
  }
  if (cmd == "version") {
    return {{"version", LOOKOUT_VERSION}, {"model", classifier_->model_name()}, {"event_schema", kEventSchemaVersion}};
  }
  if (cmd == "stats") {
    nlohmann::json stats = {
        {"frames_captured", frames_captured_.load()},
        {"frames_inferred", frames_inferred_},
        {"frames_dropped", slot_.dropped()},
        {"frames_skipped", frames_skipped_.load()},
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
                           "\" (expected one of latest, state, snapshot, subscribe, unsubscribe, stats, health, version)");
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
