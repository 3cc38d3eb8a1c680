// App: lookoutd's wiring. One frame's path:
//
//   FrameSource (capture thread) -> FrameSlot (newest wins, drops counted)
//     -> inference worker thread: /camera/max_fps gate, then per zone the
//        crop, Preprocessor, Interpreter::Invoke, TopK, the zone's
//        ZoneTracker (confirmed state) and, on a change, the snapshot JPEG
//     -> asio::post to the io_context thread: SocketServer broadcast,
//        MqttPublisher (states retained; results per /mqtt/results),
//        `latest`, `state`, `snapshot`, stats.
//
// The io_context thread (the one calling Run()) also owns the signal_set
// (SIGINT/SIGTERM stop cleanly, SIGHUP reloads), the systemd notifications (READY=1 once the
// model is prepared and capture runs, WATCHDOG=1 while frames flow, STATUS=)
// and the socket's request handler. Construction loads and prepares
// everything and throws std::runtime_error on any failure, before anything
// starts.
#ifndef LOOKOUT_DAEMON_APP_APP_H_
#define LOOKOUT_DAEMON_APP_APP_H_

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <utility>  // Boost 1.74 Asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/common.h>

#include "app/event.h"
#include "app/frame_slot.h"
#include "app/stats.h"
#include "classifier/classifier.h"
#include "mqtt/mqtt_publisher.h"
#include "zones/zone_state.h"
#include "server/socket_server.h"
#include "lookout/capture/frame_source.h"
#include "lookout/config/config.h"

namespace lookout::daemon {

/// The capture::SourceOptions a camera configuration asks for.
capture::SourceOptions ToSourceOptions(const config::CameraConfig& camera);
/// The classifier options a configuration asks for.
ClassifierOptions ToClassifierOptions(const config::Config& config);

/// Checks, without starting anything, what lookoutd needs to start with
/// `config` (lookoutd --check-config, the units' ExecStartPre): the files it
/// names exist and are readable by the calling user (in the units, the
/// service's user), an image folder is a folder; the model loads and
/// prepares; the label file has one label per class of the model; the zones'
/// groups are in the groups file; the socket's folder exists and is
/// writable, or is where the units' RuntimeDirectory= puts it (/run/lookout
/// or /run/lookout/NAME, created by systemd at start; also $RUNTIME_DIRECTORY).
/// Live sources (v4l2, rtsp, libcamera) are not opened: lookoutd waits for
/// them. Throws config::ConfigError naming the JSON pointer of the key at
/// fault and the reason (errno text for files).
void CheckStartable(const config::Config& config);
/// The file checks of CheckStartable() alone (no model loaded).
void CheckFiles(const config::Config& config);

class App {
 public:
  /// Loads and prepares `config`'s model (throws std::runtime_error on any
  /// failure, before anything starts). `config_path` is the file a reload
  /// (SIGHUP, RequestReload()) reads again; empty = reloads are refused.
  explicit App(config::Config config, std::filesystem::path config_path = {});
  /// With a classifier already made for `config`'s model (non-null), e.g.
  /// by a test that has changed its interpreter. A reload that changes the
  /// model or its preprocessing builds a classifier of its own.
  App(config::Config config, std::unique_ptr<Classifier> classifier, std::filesystem::path config_path = {});
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Starts capture, inference and publishing; returns when stopped (signal,
  /// end of input, or max_frames) with the process exit code. Signals, from
  /// the moment the constructor returns: SIGTERM and SIGINT stop cleanly
  /// (exit 0); SIGHUP reloads; SIGUSR1 logs a status line; SIGUSR2, SIGPIPE,
  /// SIGALRM, SIGIO, SIGVTALRM and SIGPWR are ignored (docs/operations.md).
  int Run();

  /// Stops everything; callable from any thread.
  void RequestStop(const std::string& reason);

  /// The log level stays `level` whatever /log/level says (lookoutd
  /// --log-level). Call before Run().
  void KeepLogLevel(spdlog::level::level_enum level) { log_level_override_ = level; }

  /// Re-reads the configuration file and applies it as SIGHUP does; callable
  /// from any thread. See Reload().
  void RequestReload();

 private:
  // Everything that a change of camera, model, output, zones or snapshot
  // settings replaces: a reload builds a new one beside the running one and
  // swaps them, so the socket and the MQTT session stay.
  struct Pipeline {
    uint64_t generation = 0;
    config::Config config;  // The configuration it was built from; read by its threads.
    std::unique_ptr<Classifier> classifier;
    std::unique_ptr<capture::FrameSource> source;
    FrameSlot slot;
    std::thread worker;
    std::atomic<bool> stopping{false};
    std::atomic<bool> capture_limit_reached{false};
    // Worker thread only.
    std::vector<ZoneTracker> trackers;
    cv::Mat bgr;  // Reused conversion of non-BGR frames.
    std::chrono::steady_clock::time_point last_processed{};
    bool processed_any = false;
  };
  // Builds (does not start) a pipeline for `config`; `classifier` null =
  // make one. Throws std::runtime_error naming what failed.
  std::unique_ptr<Pipeline> BuildPipeline(const config::Config& config, std::unique_ptr<Classifier> classifier);
  // Starts `pipeline_`'s worker and source; throws what Start() throws.
  void StartPipeline();
  // Stops and joins `pipeline_`'s source and worker; nothing it posted runs afterwards.
  void StopPipeline();
  static std::vector<ZoneInfo> ZoneInfos(const Pipeline& p);  // What discovery announces.

  void OnFrame(Pipeline& p, capture::FramePtr frame);        // capture thread
  void OnSourceEnd(Pipeline& p, const std::string& reason);  // capture thread
  void OnSourceEvent(Pipeline& p, const capture::SourceEvent& event);  // capture thread
  void WorkerLoop(Pipeline& p);                            // inference thread
  // What one processed frame produced: the result event and, per zone
  // whose state or groups changed, the messages to publish.
  struct ZoneUpdate {
    size_t zone = 0;
    bool state_changed = false;
    nlohmann::json state;        // The zone's state as `state` shows it.
    nlohmann::json event;        // The change as the socket and <prefix>/<zone>/event carry it.
    std::vector<std::pair<std::string, std::string>> groups;  // Changed groups: name, ON/OFF.
    std::shared_ptr<const std::string> snapshot;  // JPEG; null without a state change or snapshots off.
  };
  void OnEvent(Event event, std::vector<ZoneUpdate> updates);  // io thread
  void PublishZoneUpdate(const ZoneUpdate& update);  // io thread
  void RepublishZoneStates();                        // io thread: every known state to MQTT.
  void MaybePublishResult(const Event& event, const std::string& line);  // io thread
  void ScheduleDiagnostics();                   // io thread
  nlohmann::json Diagnostics();                 // io thread
  nlohmann::json Stats();                       // io thread
  nlohmann::json HandleRequest(const std::string& cmd, const nlohmann::json& request);  // io thread
  void WaitForSignal();                         // io thread
  // Reads config_path_ again and applies what changed: live where it can,
  // else by rebuilding the pipeline, the MQTT client or the socket. A
  // configuration that does not parse, or whose model, labels, groups or
  // socket cannot be set up, is refused with the reason and the running one
  // stays. io thread.
  void Reload();
  void Shutdown(const std::string& reason);     // io thread
  void ScheduleWatchdog();                      // io thread
  // sd_notify(); a failure (negative errno) is logged once, and again after
  // the next success.
  void Notify(const std::string& state);
  std::atomic<bool> notify_failed_{false};

  config::Config config_;  // io thread: the configuration in force.
  std::filesystem::path config_path_;
  std::optional<spdlog::level::level_enum> log_level_override_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer diagnostics_timer_;
  std::unique_ptr<Pipeline> pipeline_;  // Replaced on the io thread only.
  uint64_t generation_ = 0;             // io thread: the current pipeline's.
  uint64_t generation_counter_ = 0;     // io thread: the last generation handed out.
  std::unique_ptr<SocketServer> socket_;
  std::unique_ptr<MqttPublisher> mqtt_;

  // Written by capture threads, read anywhere.
  std::atomic<uint64_t> frames_captured_{0};
  std::atomic<int64_t> last_frame_ns_{0};  // steady_clock time of the last capture
  std::atomic<uint64_t> frames_skipped_{0};  // Above /camera/max_fps; written by workers.
  std::atomic<uint64_t> frames_bad_{0};      // Input frames a source refused (SourceEvent::kBadFrame).
  std::atomic<uint64_t> source_errors_{0};   // SourceEvent::kError: undecodable or truncated input.
  std::atomic<uint64_t> source_retries_{0};  // SourceEvent::kReconnecting: camera, stream or file lost.
  std::mutex capture_cpu_mutex_;
  LatencyWindow capture_cpu_ms_;  // Capture thread CPU per frame; guarded by capture_cpu_mutex_.

  // io thread only.
  bool running_ = false;  // Run() has started the pipeline.
  bool shut_down_ = false;
  int exit_code_ = 0;
  std::string camera_state_ = "starting";
  std::string camera_error_;  // The source's last error or loss, while not recovered.
  uint64_t reloads_ = 0, reloads_refused_ = 0;
  uint64_t frames_dropped_before_ = 0;  // By pipelines a reload replaced.
  std::optional<nlohmann::json> latest_;
  std::vector<nlohmann::json> zone_states_;  // Per zone, as `state` shows it; null before the first.
  std::vector<std::shared_ptr<const std::string>> snapshots_;  // Per zone, latest JPEG.
  std::vector<nlohmann::json> snapshot_info_;  // Per zone: seq, since, state of that JPEG.
  std::string last_result_label_;            // /mqtt/results "on_change".
  std::chrono::steady_clock::time_point last_result_sent_{};
  bool result_sent_ = false;
  uint64_t frames_inferred_ = 0;
  uint64_t inference_errors_ = 0;
  LatencyWindow capture_to_result_ms_, preprocess_ms_, inference_ms_;
  RateMeter rate_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_APP_APP_H_
