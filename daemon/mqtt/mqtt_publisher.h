// Publishes to an MQTT broker through libmosquitto: result events, zone
// states (retained, remembered), an availability topic with a last will and
// Home Assistant discovery (docs/protocol.md lists the topics and payloads).
// TLS (/mqtt/tls) and username/password are set up before connecting.
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
// Delivery and order: every message goes out in the order it was given.
// While the broker is unreachable, messages wait in a queue of at most
// config.queue_limit (the oldest are dropped and counted; 0 = no queue).
// After a reconnect, libmosquitto first resends the QoS 1/2 messages that
// were in flight when the connection broke, then the queue is flushed, then
// newer messages follow: nothing newer goes out before something older.
// Duplicates: a QoS 1 message whose PUBACK was lost with the connection is
// sent again (MQTT's "at least once"); a subscriber may then see it twice,
// next to each other. Nothing else is duplicated.
//
// States: PublishState() messages are retained and remembered per topic. On
// every (re)connect the remembered states not already sent from the queue
// are published again (a broker restarted without persistence has lost its
// retained messages), and on Home Assistant's birth message (<discovery
// prefix>/status = "online") the discovery configs and all states are.
#ifndef LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_
#define LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
    bool connected = false;  ///< Connected, acknowledged by the broker (CONNACK), and what was queued
                             ///< during the outage handed to libmosquitto.
    uint64_t published = 0;  ///< Messages handed to libmosquitto while connected (republished states not counted).
    uint64_t queued = 0;     ///< Messages waiting for a connection now.
    uint64_t dropped = 0;    ///< Messages discarded (queue overflow, no queue, rejected, after Stop).
    uint64_t reconnects = 0; ///< Successful connections after the first one.
    uint64_t failed_connects = 0;  ///< Connection attempts that ended without the
                                   ///< broker's acceptance (unreachable, refused).
  };

  /// Prepares the client; no network activity until Start(). `io` is not used
  /// by this implementation (all network work is on the publisher's own
  /// thread); it is accepted so that callers need not know that. `zones`
  /// are announced in the discovery configs. Throws std::runtime_error if
  /// libmosquitto cannot create a client or refuses the TLS settings (a CA,
  /// certificate or key file it cannot read: the message names it).
  MqttPublisher(boost::asio::io_context& io, const config::MqttConfig& config, DeviceInfo device,
                std::vector<ZoneInfo> zones = {});

  /// Calls Stop().
  ~MqttPublisher();

  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  /// Sets the last will (<prefix>/availability = "offline", retained, QoS 1)
  /// and credentials, then starts the network thread, which connects
  /// asynchronously. Returns at once. Call at most once.
  void Start();

  /// Queues one event JSON text for <prefix>/result (config qos and retain).
  /// Thread-safe; never blocks on the network. Messages given before Start()
  /// wait for the first connect.
  void PublishResult(std::string payload);
  /// Queues a message for `topic` with config.qos, in order with all others.
  void Publish(std::string topic, std::string payload, bool retain);
  /// Queues a retained message for `topic` and remembers it as the topic's
  /// current state (republished after reconnects and on Home Assistant's
  /// birth message). `payload` may be binary (a JPEG).
  void PublishState(std::string topic, std::string payload);

  /// Replaces the zones (and the device's model name) that discovery
  /// announces, after a reload: the new discovery configs are published
  /// when connected (else on connect), and for what is gone (zones, groups)
  /// an empty retained message removes its discovery config and clears its
  /// retained state topics, so Home Assistant drops the entity. Thread-safe.
  void SetZones(std::vector<ZoneInfo> zones, std::string model);

  /// If connected, publishes "offline" (retained) and waits for the broker's
  /// acknowledgement for at most 2 s; then disconnects and joins the network
  /// thread. Queued events are discarded. Idempotent.
  void Stop();

  /// A consistent snapshot of the counters. Thread-safe.
  Stats stats() const;

  /// The camera's topics.
  const CameraTopics& topics() const { return topics_; }
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

  void SetUpTls();                     // Constructor: /mqtt/tls into libmosquitto.
  void Run();                          // The network thread: connect, back off, repeat.
  int RunConnection();                 // Loops one connection until it ends; its error.
  bool SleepUnlessStopping(int seconds);
  void HandleConnect(int rc);
  void HandleDisconnect(int rc);
  struct Message {
    std::string topic;
    std::string payload;
    bool retain = false;
  };
  void Enqueue(Message message, bool state);
  bool SendLocked(const Message& message);  // Requires mutex_; false: connection lost, keep it.
  void PublishDiscoveryLocked();       // Requires mutex_.
  void RepublishStatesLocked(const std::set<std::string>& skip);  // Requires mutex_.
  void FlushQueueLocked();             // Requires mutex_.
  bool PublishLocked(const std::string& topic, const std::string& payload, int qos,
                     bool retain, int* mid = nullptr);

  const config::MqttConfig config_;
  DeviceInfo device_;             // Guarded by mutex_ (SetZones() changes the model).
  std::vector<ZoneInfo> zones_;   // Guarded by mutex_.
  const CameraTopics topics_;
  const std::string status_topic_;     // <discovery prefix>/status (Home Assistant's birth).
  struct MosquittoDeleter {
    void operator()(mosquitto* client) const;
  };
  // Freed after ~MqttPublisher() has stopped the loop, or when the
  // constructor throws (e.g. TLS settings refused).
  std::unique_ptr<mosquitto, MosquittoDeleter> mosq_;
  std::thread thread_;

  // Network thread only.
  bool accepted_ = false;              // This attempt got a successful CONNACK.
  std::string refusal_;                // This attempt's CONNACK refusal reason.
  std::string tls_error_;              // This attempt's last OpenSSL error (from the log callback).
  int offline_mid_ = -1;               // Message id of the goodbye "offline".
  bool offline_acked_ = false;

  mutable std::mutex mutex_;           // Guards everything below.
  std::condition_variable wake_;       // Stop requested.
  std::deque<Message> queue_;
  std::map<std::string, std::string> states_;  // Topic -> latest PublishState() payload.
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  bool connected_ = false;             // CONNACK received, connection not lost since.
  bool ready_ = false;                 // Connected and the queue flushed after libmosquitto's resends:
                                       // new messages may go straight to libmosquitto.
  bool ever_connected_ = false;
  uint64_t published_ = 0;
  uint64_t dropped_ = 0;
  uint64_t dropped_while_down_ = 0;    // For the log line on reconnect.
  uint64_t reconnects_ = 0;
  uint64_t failed_connects_ = 0;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_MQTT_MQTT_PUBLISHER_H_
