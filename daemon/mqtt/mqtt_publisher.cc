#include "mqtt/mqtt_publisher.h"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

namespace lookout::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// mosquitto_loop()'s select timeout: how soon the network thread notices a
// Stop() while nothing else wakes it.
constexpr int kLoopTimeoutMs = 100;
constexpr auto kOfflineAckTimeout = std::chrono::seconds(2);
constexpr auto kDisconnectTimeout = std::chrono::seconds(1);

// MOSQ_ERR_SUCCESS, or why libmosquitto could not initialize (its random
// source, for client ids and websocket keys).
int InitLibraryOnce() {
  static const int rc = mosquitto_lib_init();
  return rc;
}

// mosquitto_strerror() for MOSQ_ERR_ERRNO says only "Unknown error"-ish text;
// errno carries the real reason (ECONNREFUSED, EHOSTUNREACH, ...).
std::string ErrorText(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace

MqttPublisher::MqttPublisher(boost::asio::io_context& /*io*/, const config::MqttConfig& config,
                             DeviceInfo device, std::vector<ZoneInfo> zones)
    : config_(config),
      device_(std::move(device)),
      zones_(std::move(zones)),
      topics_(TopicsFor(config, device_.camera)),
      status_topic_(config.discovery.prefix + "/status") {
  if (const int rc = InitLibraryOnce(); rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("mqtt: cannot initialize libmosquitto: " + std::string(mosquitto_strerror(rc)));
  }
  const std::string client_id =
      config_.client_id.empty() ? config::DefaultMqttClientId(device_.camera) : config_.client_id;
  mosq_.reset(mosquitto_new(client_id.c_str(), /*clean_session=*/true, this));
  if (mosq_ == nullptr) {
    throw std::runtime_error("mqtt: cannot create a libmosquitto client: " +
                             std::string(std::strerror(errno)));
  }
  // Our own thread runs the loop while other threads publish: libmosquitto
  // must queue their packets and wake the loop rather than write directly.
  if (const int rc = mosquitto_threaded_set(mosq_.get(), true); rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("mqtt: cannot set up libmosquitto for threads: " + std::string(mosquitto_strerror(rc)));
  }
  mosquitto_connect_callback_set(mosq_.get(), &MqttPublisher::OnConnect);
  mosquitto_disconnect_callback_set(mosq_.get(), &MqttPublisher::OnDisconnect);
  mosquitto_publish_callback_set(mosq_.get(), &MqttPublisher::OnPublish);
  mosquitto_message_callback_set(mosq_.get(), &MqttPublisher::OnMessage);
  mosquitto_log_callback_set(mosq_.get(), &MqttPublisher::OnLog);
  if (config_.tls.enabled) SetUpTls();
}

void MqttPublisher::SetUpTls() {
  const config::TlsConfig& tls = config_.tls;
  auto c_str = [](const std::filesystem::path& path) { return path.empty() ? nullptr : path.c_str(); };
  // libmosquitto only checks that the files open; name them, since it cannot.
  for (const auto& [key, path] : {std::pair{"ca_file", tls.ca_file}, std::pair{"cert_file", tls.cert_file},
                                  std::pair{"key_file", tls.key_file}}) {
    if (path.empty()) continue;
    if (FILE* f = std::fopen(path.c_str(), "rb"); f != nullptr) {
      std::fclose(f);
    } else {
      throw std::runtime_error("mqtt: /mqtt/tls/" + std::string(key) + ": cannot read " + path.string() + ": " +
                               std::strerror(errno));
    }
  }
  // Without a CA file, the system's CA folder (Debian: /etc/ssl/certs).
  const char* ca_path = tls.ca_file.empty() ? "/etc/ssl/certs" : nullptr;
  int rc = mosquitto_tls_set(mosq_.get(), c_str(tls.ca_file), ca_path, c_str(tls.cert_file), c_str(tls.key_file), nullptr);
  if (rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("mqtt: TLS settings refused (/mqtt/tls): " + ErrorText(rc));
  }
  rc = mosquitto_tls_opts_set(mosq_.get(), tls.verify ? 1 : 0, nullptr, nullptr);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(mosq_.get(), !tls.verify);
  if (rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("mqtt: TLS options refused (/mqtt/tls/verify): " + ErrorText(rc));
  }
  if (!tls.verify) spdlog::warn("mqtt: TLS without verifying the broker (/mqtt/tls/verify is false)");
}

void MqttPublisher::MosquittoDeleter::operator()(mosquitto* client) const { mosquitto_destroy(client); }

MqttPublisher::~MqttPublisher() { Stop(); }

void MqttPublisher::Start() {
  {
    std::lock_guard lock(mutex_);
    if (started_ || stopped_) return;
    started_ = true;
  }
  int rc = mosquitto_will_set(mosq_.get(), topics_.availability.c_str(),
                              static_cast<int>(std::strlen(kOffline)), kOffline, 1, true);
  if (rc != MOSQ_ERR_SUCCESS) spdlog::error("mqtt: cannot set the last will: {}", ErrorText(rc));
  if (!config_.username.empty()) {
    rc = mosquitto_username_pw_set(mosq_.get(), config_.username.c_str(),
                                   config_.password.empty() ? nullptr : config_.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) spdlog::error("mqtt: cannot set credentials: {}", ErrorText(rc));
  }
  spdlog::info("mqtt: publishing to {}:{} under {}", config_.host, config_.port,
               topics_.result.substr(0, topics_.result.size() - std::strlen("/result")));
  thread_ = std::thread([this] { Run(); });
}

void MqttPublisher::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  connected_ = false;
  if (!queue_.empty()) {
    spdlog::warn("mqtt: discarding {} unsent messages at shutdown", queue_.size());
    dropped_ += queue_.size();
    queue_.clear();
  }
}

void MqttPublisher::PublishResult(std::string payload) {
  Enqueue({topics_.result, std::move(payload), config_.retain}, false);
}

void MqttPublisher::Publish(std::string topic, std::string payload, bool retain) {
  Enqueue({std::move(topic), std::move(payload), retain}, false);
}

void MqttPublisher::PublishState(std::string topic, std::string payload) {
  Enqueue({std::move(topic), std::move(payload), true}, true);
}

void MqttPublisher::SetZones(std::vector<ZoneInfo> zones, std::string model) {
  std::vector<std::string> removed;
  {
    std::lock_guard lock(mutex_);
    DeviceInfo device = device_;
    device.model = std::move(model);
    std::set<std::string> configs;
    for (const DiscoveryMessage& m : DiscoveryMessages(config_, device, topics_, zones)) configs.insert(m.topic);
    for (const DiscoveryMessage& m : DiscoveryMessages(config_, device_, topics_, zones_)) {
      if (configs.count(m.topic) == 0) removed.push_back(m.topic);
    }
    // Each zone's own topics, then every state under a zone that is not one of them.
    std::set<std::string> kept;
    for (const ZoneInfo& zone : zones) {
      for (const std::string& topic : {topics_.ZoneState(zone.name), topics_.ZoneAttributes(zone.name),
                                       topics_.ZoneSnapshot(zone.name)}) {
        kept.insert(topic);
      }
      for (const std::string& group : zone.groups) kept.insert(topics_.ZoneGroup(zone.name, group));
    }
    for (const ZoneInfo& zone : zones_) {
      const std::string under = topics_.prefix + "/" + zone.name + "/";
      for (auto it = states_.begin(); it != states_.end();) {
        if (it->first.rfind(under, 0) == 0 && kept.count(it->first) == 0) {
          removed.push_back(it->first);
          it = states_.erase(it);
        } else {
          ++it;
        }
      }
    }
    device_ = std::move(device);
    zones_ = std::move(zones);
    if (ready_ && !stopping_) PublishDiscoveryLocked();
  }
  for (std::string& topic : removed) Enqueue({std::move(topic), std::string(), true}, false);
}

void MqttPublisher::Enqueue(Message message, bool state) {
  std::lock_guard lock(mutex_);
  if (state) states_[message.topic] = message.payload;
  if (stopped_) {
    ++dropped_;
    return;
  }
  // Straight to libmosquitto only once the queue has been flushed after the
  // connect, and when nothing older waits: that keeps the order.
  if (ready_ && !stopping_ && queue_.empty()) {
    if (SendLocked(message)) return;
  }
  if (!ready_ && config_.queue_limit == 0) {
    // No queue: a state is still remembered and republished on reconnect.
    ++dropped_;
    if (++dropped_while_down_ == 1) spdlog::warn("mqtt: broker unreachable and queue_limit is 0: dropping messages");
    return;
  }
  // While connected the queue only holds what the network thread has not
  // flushed yet; the limit is for outages.
  const size_t limit = static_cast<size_t>(std::max(config_.queue_limit, 1));
  while (!ready_ && queue_.size() >= limit) {
    queue_.pop_front();
    ++dropped_;
    if (++dropped_while_down_ == 1) {
      spdlog::warn("mqtt: broker unreachable and {} messages queued; dropping the oldest", limit);
    }
  }
  queue_.push_back(std::move(message));
}

bool MqttPublisher::SendLocked(const Message& message) {
  const int rc = mosquitto_publish(mosq_.get(), nullptr, message.topic.c_str(), static_cast<int>(message.payload.size()),
                                   message.payload.data(), config_.qos, message.retain);
  if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && config_.qos > 0)) {
    // With QoS 1/2 libmosquitto keeps the message until acknowledged, across
    // a reconnect too (it resends it first): it is ours no longer.
    ++published_;
    return true;
  }
  if (rc == MOSQ_ERR_NO_CONN) return false;  // QoS 0: lost with the connection; queue it.
  ++dropped_;
  spdlog::error("mqtt: cannot publish on {}: {}", message.topic, ErrorText(rc));
  return true;
}

MqttPublisher::Stats MqttPublisher::stats() const {
  std::lock_guard lock(mutex_);
  return Stats{ready_, published_, queue_.size(), dropped_, reconnects_, failed_connects_};
}

bool MqttPublisher::SleepUnlessStopping(int seconds) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::seconds(seconds), [this] { return stopping_; });
}

void MqttPublisher::Run() {
  const int min_delay = std::max(config_.reconnect_min_s, 1);
  const int max_delay = std::max(config_.reconnect_max_s, min_delay);
  const int keepalive = std::clamp(config_.keepalive_s, 5, 65535);  // libmosquitto needs >= 5.
  int delay = min_delay;
  int failures = 0;  // Consecutive attempts that did not reach CONNACK.
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    // Resolves the host (blocking, on this thread) and starts a non-blocking
    // TCP connect; the CONNECT exchange completes inside mosquitto_loop().
    accepted_ = false;
    refusal_.clear();
    tls_error_.clear();
    int rc = mosquitto_connect_async(mosq_.get(), config_.host.c_str(), config_.port, keepalive);
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = RunConnection();
      if (accepted_) {
        failures = 0;
        delay = min_delay;
      }
    }
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
      ready_ = false;
      if (!accepted_) ++failed_connects_;
      if (stopping_) break;
    }
    if (!accepted_) {
      // One line per outage at warning level (error for a refusal such as bad
      // credentials); the retries that follow only at debug level.
      const bool refused = !refusal_.empty();
      const bool tls = rc == MOSQ_ERR_TLS || !tls_error_.empty();
      const auto level = failures++ > 0        ? spdlog::level::debug
                         : refused || tls      ? spdlog::level::err
                                               : spdlog::level::warn;
      std::string reason = refused ? refusal_ : ErrorText(rc);
      if (tls) {
        // OpenSSL's words, e.g. "certificate verify failed", and where to look.
        reason = "TLS handshake failed: " + (tls_error_.empty() ? ErrorText(rc) : tls_error_) +
                 " (the broker's certificate must chain to /mqtt/tls/ca_file and name the host)";
      }
      spdlog::log(level, "mqtt: cannot connect to {}:{}: {} (attempt {}); retrying in {} s",
                  config_.host, config_.port, reason, failures, delay);
    } else {
      spdlog::info("mqtt: reconnecting to {}:{} in {} s", config_.host, config_.port, delay);
    }
    if (!SleepUnlessStopping(delay)) break;
    if (!accepted_) delay = std::min(delay * 2, max_delay);
  }
  std::lock_guard lock(mutex_);
  connected_ = false;
  ready_ = false;
}

int MqttPublisher::RunConnection() {
  enum class Goodbye { kNone, kOfflineSent, kDisconnectSent };
  Goodbye goodbye = Goodbye::kNone;
  Clock::time_point deadline{};
  while (true) {
    const int rc = mosquitto_loop(mosq_.get(), kLoopTimeoutMs, 1);
    if (rc != MOSQ_ERR_SUCCESS) return rc;
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      if (connected_ && !ready_) FlushQueueLocked();
      continue;
    }
    if (!connected_) return MOSQ_ERR_SUCCESS;  // No session to close politely.
    const auto now = Clock::now();
    switch (goodbye) {
      case Goodbye::kNone:
        // Queued ahead of the DISCONNECT, so it is sent first even if the
        // acknowledgement never comes.
        offline_acked_ = false;
        if (PublishLocked(topics_.availability, kOffline, 1, true, &offline_mid_)) {
          goodbye = Goodbye::kOfflineSent;
          deadline = now + kOfflineAckTimeout;
          break;
        }
        [[fallthrough]];
      case Goodbye::kOfflineSent:
        if (goodbye == Goodbye::kNone || offline_acked_ || now >= deadline) {
          // MOSQ_ERR_NO_CONN: the broker went first; the loop sees it either way.
          if (const int rc = mosquitto_disconnect(mosq_.get()); rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
            spdlog::debug("mqtt: DISCONNECT not sent: {}", ErrorText(rc));
          }
          goodbye = Goodbye::kDisconnectSent;
          deadline = now + kDisconnectTimeout;
        }
        break;
      case Goodbye::kDisconnectSent:
        if (now >= deadline) return MOSQ_ERR_SUCCESS;
        break;
    }
  }
}

bool MqttPublisher::PublishLocked(const std::string& topic, const std::string& payload, int qos,
                                  bool retain, int* mid) {
  const int rc = mosquitto_publish(mosq_.get(), mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) {
    spdlog::warn("mqtt: cannot publish on {}: {}", topic, ErrorText(rc));
    return false;
  }
  return true;
}

void MqttPublisher::PublishDiscoveryLocked() {
  for (const DiscoveryMessage& message : DiscoveryMessages(config_, device_, topics_, zones_)) {
    PublishLocked(message.topic, message.payload.dump(), 1, true);
  }
  spdlog::debug("mqtt: published Home Assistant discovery under {}", config_.discovery.prefix);
}

void MqttPublisher::RepublishStatesLocked(const std::set<std::string>& skip) {
  for (const auto& [topic, payload] : states_) {
    if (skip.count(topic) == 0) PublishLocked(topic, payload, config_.qos, true);
  }
}

void MqttPublisher::FlushQueueLocked() {
  std::set<std::string> sent;
  if (!queue_.empty()) {
    spdlog::info("mqtt: sending {} queued messages ({} dropped while disconnected)", queue_.size(),
                 dropped_while_down_);
  }
  while (!queue_.empty()) {
    if (!SendLocked(queue_.front())) return;  // Lost again; keep the rest for next time.
    sent.insert(queue_.front().topic);
    queue_.pop_front();
  }
  dropped_while_down_ = 0;
  // States whose latest value was not in the queue (dropped, or the broker
  // lost its retained messages).
  RepublishStatesLocked(sent);
  ready_ = true;
}

void MqttPublisher::HandleConnect(int rc) {
  if (rc != 0) {
    // The broker closes the connection next; Run() logs, backs off, retries.
    refusal_ = mosquitto_connack_string(rc);
    return;
  }
  accepted_ = true;
  std::lock_guard lock(mutex_);
  if (ever_connected_) ++reconnects_;
  ever_connected_ = true;
  connected_ = true;
  spdlog::info("mqtt: connected to {}:{}", config_.host, config_.port);
  if (stopping_) return;  // RunConnection() says "offline" and disconnects.
  PublishLocked(topics_.availability, kOnline, 1, true);
  if (config_.discovery.enabled) {
    const int sub_rc = mosquitto_subscribe(mosq_.get(), nullptr, status_topic_.c_str(), 1);
    if (sub_rc != MOSQ_ERR_SUCCESS) {
      spdlog::warn("mqtt: cannot subscribe to {}: {}", status_topic_, ErrorText(sub_rc));
    }
    PublishDiscoveryLocked();
  }
  // The queue is flushed by RunConnection() once this loop iteration is
  // over: libmosquitto resends the messages that were in flight when the
  // connection broke right after this callback, and they are older.
}

void MqttPublisher::HandleDisconnect(int rc) {
  std::lock_guard lock(mutex_);
  const bool was_connected = connected_;
  connected_ = false;
  ready_ = false;
  if (!was_connected) return;
  if (rc == 0) {
    spdlog::info("mqtt: disconnected from {}:{}", config_.host, config_.port);
  } else {
    spdlog::warn("mqtt: lost the connection to {}:{}: {}", config_.host, config_.port,
                 ErrorText(rc));
  }
}

void MqttPublisher::OnConnect(mosquitto*, void* self, int rc) {
  static_cast<MqttPublisher*>(self)->HandleConnect(rc);
}

void MqttPublisher::OnDisconnect(mosquitto*, void* self, int rc) {
  static_cast<MqttPublisher*>(self)->HandleDisconnect(rc);
}

void MqttPublisher::OnPublish(mosquitto*, void* self, int mid) {
  // Network thread, like RunConnection(), which reads offline_mid_/_acked_.
  auto* publisher = static_cast<MqttPublisher*>(self);
  if (mid == publisher->offline_mid_) publisher->offline_acked_ = true;
}

void MqttPublisher::OnMessage(mosquitto*, void* self, const mosquitto_message* message) {
  auto* publisher = static_cast<MqttPublisher*>(self);
  if (message->topic == nullptr || publisher->status_topic_ != message->topic) return;
  const std::string payload(static_cast<const char*>(message->payload),
                            static_cast<size_t>(std::max(message->payloadlen, 0)));
  // A retained "online" arrives with every subscribe, right after the
  // configs were published anyway; only a live birth message means Home
  // Assistant restarted and forgot them.
  if (payload != kOnline || message->retain) return;
  std::lock_guard lock(publisher->mutex_);
  if (!publisher->connected_ || publisher->stopping_) return;
  spdlog::info("mqtt: Home Assistant is online; republishing discovery and {} states",
               publisher->states_.size());
  publisher->PublishDiscoveryLocked();
  if (publisher->ready_) publisher->RepublishStatesLocked({});
}

void MqttPublisher::OnLog(mosquitto*, void* self, int level, const char* text) {
  // Network thread. libmosquitto reports OpenSSL's reason only here.
  if ((level & MOSQ_LOG_ERR) && text != nullptr && std::strncmp(text, "OpenSSL Error", 13) == 0) {
    auto* publisher = static_cast<MqttPublisher*>(self);
    std::string error = text;
    // "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"
    if (const size_t colon = error.rfind(':'); colon != std::string::npos && colon + 1 < error.size()) {
      error = error.substr(colon + 1);
    }
    if (publisher->tls_error_.empty()) publisher->tls_error_ = error;
  }
  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
    spdlog::debug("libmosquitto: {}", text);
  } else {
    spdlog::trace("libmosquitto: {}", text);
  }
}

}  // namespace lookout::daemon
