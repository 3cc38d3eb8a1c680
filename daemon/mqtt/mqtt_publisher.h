// Publishes result events to an MQTT broker through libmosquitto, with an
// availability topic, a last will and Home Assistant discovery
// (docs/protocol.md lists the topics and payloads).
//
// Threading: the publisher runs one network thread of its own (started by
// Start(), joined by Stop()) that connects, reconnects with exponential
// backoff and runs libmosquitto's loop; libmosquitto's callbacks run on it.
// It does not use libmosquitto's mosquitto_loop_start(): libmosquitto 2.0's
// thread never retries when the very first connection attempt fails (broker
// not up yet), which is the normal case at boot. PublishResult() and stats()
// may be called from any thread and never wait on the network (they take a
// mutex held only for in-memory work). Start() and Stop() are called from the
// owning thread; the DNS lookup of config.host happens on the network thread.
//
// Delivery: while connected, events go straight to libmosquitto. While not,
// they wait in a queue of at most config.queue_limit events (the oldest are
// dropped and counted) and are sent in order right after the next connect,
// before any newer event.
#ifndef LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_
#define LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "lookout/config/config.h"
#include "mqtt/discovery.h"

struct mosquitto;
struct mosquitto_message;

namespace lookout::daemon {

class MqttPublisher {
 public:
  /// Counters since construction.
  struct Stats {
    bool connected = false;  ///< Connected and acknowledged by the broker (CONNACK).
    uint64_t published = 0;  ///< Result events handed to libmosquitto while connected.
    uint64_t queued = 0;     ///< Result events waiting for a connection now.
    uint64_t dropped = 0;    ///< Result events discarded (queue overflow, rejected, after Stop).
    uint64_t reconnects = 0; ///< Successful connections after the first one.
    uint64_t failed_connects = 0;  ///< Connection attempts that ended without the
                                   ///< broker's acceptance (unreachable, refused).
  };

  /// Prepares the client; no network activity until Start(). `io` is not used
  /// by this implementation (all network work is on the publisher's own
  /// thread); it is accepted so that callers need not know that.
  /// Throws std::runtime_error if libmosquitto cannot create a client.
  MqttPublisher(boost::asio::io_context& io, const config::MqttConfig& config, DeviceInfo device);

  /// Calls Stop().
  ~MqttPublisher();

  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  /// Sets the last will (<prefix>/availability = "offline", retained, QoS 1)
  /// and credentials, then starts the network thread, which connects
  /// asynchronously. Returns at once. Call at most once.
  void Start();

  /// Queues one event JSON text for <prefix>/result. Thread-safe; never blocks
  /// on the network. Events given before Start() wait for the first connect.
  void PublishResult(std::string payload);

  /// If connected, publishes "offline" (retained) and waits for the broker's
  /// acknowledgement for at most 2 s; then disconnects and joins the network
  /// thread. Queued events are discarded. Idempotent.
  void Stop();

  /// A consistent snapshot of the counters. Thread-safe.
  Stats stats() const;

  /// <prefix>/result.
  const std::string& result_topic() const { return topics_.result; }
  /// <prefix>/availability.
  const std::string& availability_topic() const { return topics_.availability; }

 private:
  static void OnConnect(mosquitto* mosq, void* self, int rc);
  static void OnDisconnect(mosquitto* mosq, void* self, int rc);
  static void OnPublish(mosquitto* mosq, void* self, int mid);
  static void OnMessage(mosquitto* mosq, void* self, const mosquitto_message* message);
  static void OnLog(mosquitto* mosq, void* self, int level, const char* text);

  void Run();                          // The network thread: connect, back off, repeat.
  int RunConnection();                 // Loops one connection until it ends; its error.
  bool SleepUnlessStopping(int seconds);
  void HandleConnect(int rc);
  void HandleDisconnect(int rc);
  void PublishDiscoveryLocked();       // Requires mutex_.
  void FlushQueueLocked();             // Requires mutex_.
  bool PublishLocked(const std::string& topic, const std::string& payload, int qos,
                     bool retain, int* mid = nullptr);

  const config::MqttConfig config_;
  const DeviceInfo device_;
  const CameraTopics topics_;
  const std::string status_topic_;     // <discovery prefix>/status (Home Assistant's birth).
  mosquitto* mosq_ = nullptr;
  std::thread thread_;

  // Network thread only.
  bool accepted_ = false;              // This attempt got a successful CONNACK.
  std::string refusal_;                // This attempt's CONNACK refusal reason.
  int offline_mid_ = -1;               // Message id of the goodbye "offline".
  bool offline_acked_ = false;

  mutable std::mutex mutex_;           // Guards everything below.
  std::condition_variable wake_;       // Stop requested.
  std::deque<std::string> queue_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  bool connected_ = false;
  bool ever_connected_ = false;
  uint64_t published_ = 0;
  uint64_t dropped_ = 0;
  uint64_t dropped_while_down_ = 0;    // For the log line on reconnect.
  uint64_t reconnects_ = 0;
  uint64_t failed_connects_ = 0;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_
