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
// (SIGINT/SIGTERM stop cleanly), the systemd notifications (READY=1 once the
// model is prepared and capture runs, WATCHDOG=1 while frames flow, STATUS=)
// and the socket's request handler. Construction loads and prepares
// everything and throws std::runtime_error on any failure, before anything
// starts.
#ifndef LOOKOUT_DAEMON_APP_APP_H_
#define LOOKOUT_DAEMON_APP_APP_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <utility>  // Boost 1.74 Asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

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

class App {
 public:
  explicit App(config::Config config);
  /// With a classifier already made for `config`'s model (non-null), e.g.
  /// by a test that has changed its interpreter.
  App(config::Config config, std::unique_ptr<Classifier> classifier);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Starts capture, inference and publishing; returns when stopped (signal,
  /// end of input, or max_frames) with the process exit code.
  int Run();

  /// Stops everything; callable from any thread.
  void RequestStop(const std::string& reason);

 private:
  void OnFrame(capture::FramePtr frame);        // capture thread
  void OnSourceEnd(const std::string& reason);  // capture thread
  void WorkerLoop();                            // inference thread
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
  void MaybePublishResult(const Event& event, const std::string& line);  // io thread
  void ScheduleDiagnostics();                   // io thread
  nlohmann::json Diagnostics();                 // io thread
  nlohmann::json HandleRequest(const std::string& cmd, const nlohmann::json& request);  // io thread
  void Shutdown(const std::string& reason);     // io thread
  void ScheduleWatchdog();                      // io thread
  // sd_notify(); a failure (negative errno) is logged once, and again after
  // the next success.
  void Notify(const std::string& state);
  std::atomic<bool> notify_failed_{false};

  config::Config config_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer diagnostics_timer_;
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<capture::FrameSource> source_;
  std::unique_ptr<SocketServer> socket_;
  std::unique_ptr<MqttPublisher> mqtt_;
  FrameSlot slot_;
  std::thread worker_;

  // Worker thread only.
  std::vector<ZoneTracker> trackers_;
  cv::Mat bgr_;                              // Reused conversion of non-BGR frames.
  std::chrono::steady_clock::time_point last_processed_{};
  bool processed_any_ = false;

  // Written by the capture thread, read anywhere.
  std::atomic<uint64_t> frames_captured_{0};
  std::atomic<int64_t> last_frame_ns_{0};  // steady_clock time of the last capture
  std::atomic<bool> capture_limit_reached_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> frames_skipped_{0};  // Above /camera/max_fps; written by the worker.
  std::mutex capture_cpu_mutex_;
  LatencyWindow capture_cpu_ms_;  // Capture thread CPU per frame; guarded by capture_cpu_mutex_.

  // io thread only.
  bool shut_down_ = false;
  int exit_code_ = 0;
  std::string camera_state_ = "starting";
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
