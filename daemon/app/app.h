// App: lookoutd's wiring. One frame's path:
//
//   FrameSource (capture thread) -> FrameSlot (newest wins, drops counted)
//     -> inference worker thread: Preprocessor, Interpreter::Invoke, TopK
//     -> asio::post to the io_context thread: SocketServer broadcast,
//        MqttPublisher, `latest`, stats.
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
  void OnEvent(Event event);                    // io thread
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
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<capture::FrameSource> source_;
  std::unique_ptr<SocketServer> socket_;
  std::unique_ptr<MqttPublisher> mqtt_;
  FrameSlot slot_;
  std::thread worker_;

  // Written by the capture thread, read anywhere.
  std::atomic<uint64_t> frames_captured_{0};
  std::atomic<int64_t> last_frame_ns_{0};  // steady_clock time of the last capture
  std::atomic<bool> capture_limit_reached_{false};
  std::atomic<bool> stopping_{false};
  std::mutex capture_cpu_mutex_;
  LatencyWindow capture_cpu_ms_;  // Capture thread CPU per frame; guarded by capture_cpu_mutex_.

  // io thread only.
  bool shut_down_ = false;
  int exit_code_ = 0;
  std::string camera_state_ = "starting";
  std::optional<nlohmann::json> latest_;
  uint64_t frames_inferred_ = 0;
  uint64_t inference_errors_ = 0;
  LatencyWindow capture_to_result_ms_, preprocess_ms_, inference_ms_;
  RateMeter rate_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_APP_APP_H_
