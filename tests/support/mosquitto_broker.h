// Test fixtures for the MQTT tests: a real mosquitto broker process on a free
// 127.0.0.1 port (optionally a TLS listener: certificates from tls_certs.h),
// and a libmosquitto client that records what it receives.
#ifndef LOOKOUT_TESTS_SUPPORT_MOSQUITTO_BROKER_H_
#define LOOKOUT_TESTS_SUPPORT_MOSQUITTO_BROKER_H_

#include <fcntl.h>
#include <mosquitto.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/tcp_port.h"
#include "support/temp_dir.h"
#include "support/wait.h"

extern char** environ;

namespace lookout::testing {

inline constexpr char kMosquittoPath[] = "/usr/sbin/mosquitto";

/// Runs a program to completion; returns its exit status (-1 if it could not
/// start or did not exit normally).
inline int RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

struct BrokerOptions {
  int port = 0;               ///< 0: a free port.
  std::string username;       ///< Non-empty: password_file with this user, no anonymous access.
  std::string password;
  bool persistence = false;   ///< Keep sessions and queued messages across Stop()/Start().
  /// Non-empty tls_cert_file and tls_key_file: the listener speaks MQTT over
  /// TLS only (e.g. TestPki's server.crt/server.key, valid for 127.0.0.1).
  std::string tls_ca_file;    ///< The CA that client certificates must be signed by.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool require_client_certificate = false;  ///< TLS: refuse clients without a certificate from tls_ca_file.
};

/// A mosquitto process owned by the test. Start() waits (bounded) until it
/// accepts connections; Stop() ends only this process. Restarting keeps the
/// port, the configuration and (with persistence) the broker's state.
class MosquittoBroker {
 public:
  explicit MosquittoBroker(BrokerOptions options = {})
      : port_(options.port != 0 ? options.port : FreeTcpPort()) {
    const std::string dir = dir_.path().string();
    std::ofstream conf(dir + "/mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\n";
    // The listener's own options follow its line.
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
        throw std::runtime_error("BrokerOptions: TLS needs both tls_cert_file and tls_key_file");
      }
      if (!options.tls_ca_file.empty()) conf << "cafile " << options.tls_ca_file << "\n";
      conf << "certfile " << options.tls_cert_file << "\nkeyfile " << options.tls_key_file
           << "\n";
      if (options.require_client_certificate) {
        if (options.tls_ca_file.empty()) {
          throw std::runtime_error("BrokerOptions: require_client_certificate needs tls_ca_file");
        }
        conf << "require_certificate true\n";
      }
    } else if (options.require_client_certificate || !options.tls_ca_file.empty()) {
      throw std::runtime_error("BrokerOptions: TLS options without tls_cert_file/tls_key_file");
    }
    // As root, mosquitto would switch to the "mosquitto" user, which cannot
    // read our temporary directory.
    if (const passwd* user = ::getpwuid(::geteuid()); user != nullptr) {
      conf << "user " << user->pw_name << "\n";
    }
    if (options.username.empty()) {
      conf << "allow_anonymous true\n";
    } else {
      const std::string passwd_file = dir + "/passwd";
      if (RunProgram({"mosquitto_passwd", "-b", "-c", passwd_file, options.username,
                      options.password}) != 0) {
        throw std::runtime_error("mosquitto_passwd failed");
      }
      conf << "allow_anonymous false\npassword_file " << passwd_file << "\n";
    }
    if (options.persistence) {
      conf << "persistence true\npersistence_location " << dir << "/\n";
    }
    conf << "log_dest stderr\nlog_type all\n";
    conf.close();
    Start();
  }

  ~MosquittoBroker() { Stop(); }

  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  int port() const { return port_; }

  /// Starts the broker and waits (bounded) until it accepts connections.
  void Start() {
    if (pid_ > 0) return;
    const std::string dir = dir_.path().string();
    const std::string conf = dir + "/mosquitto.conf";
    const std::string log = dir + "/broker.log";
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                       O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    char* argv[] = {const_cast<char*>("mosquitto"), const_cast<char*>("-c"),
                    const_cast<char*>(conf.c_str()), nullptr};
    const int rc = ::posix_spawn(&pid_, kMosquittoPath, &actions, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error(std::string("cannot start mosquitto: ") + std::strerror(rc));
    }
    const bool up = WaitUntil([&] {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;  // Exited: reported below.
      }
      return TcpPortAccepts(port_);
    });
    if (!up || pid_ < 0) {
      Stop();
      throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) +
                               "; its log:\n" + Log());
    }
  }

  /// Stops the broker (SIGTERM, then SIGKILL after 5 s) and reaps it.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status;
    const bool exited = WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; },
                                  std::chrono::seconds(5));
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  /// The broker's log so far (for failure messages).
  std::string Log() const {
    std::ifstream in(dir_.path() / "broker.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  TempDir dir_;
  int port_;
  pid_t pid_ = -1;
};

/// One received message.
struct ReceivedMessage {
  std::string topic;
  std::string payload;
  bool retain = false;
};

struct MqttTestClientOptions {
  std::string client_id;       ///< Empty: random.
  bool clean_session = true;
  std::string username;        ///< Empty: anonymous.
  std::string password;
  /// Non-empty: connect over TLS, trusting this CA; the broker's certificate
  /// must also name the host connected to (127.0.0.1).
  std::string tls_ca_file;
  std::string tls_cert_file;   ///< With tls_key_file: present this client certificate.
  std::string tls_key_file;
};

namespace internal {

inline void InitMosquittoLib() {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
}

/// Gives a new client the credentials and TLS settings of `options`; throws
/// if libmosquitto refuses them (e.g. an unreadable certificate file).
inline void ApplyClientOptions(mosquitto* mosq, const MqttTestClientOptions& options) {
  if (!options.username.empty()) {
    mosquitto_username_pw_set(mosq, options.username.c_str(), options.password.c_str());
  }
  if (!options.tls_ca_file.empty()) {
    const char* cert = options.tls_cert_file.empty() ? nullptr : options.tls_cert_file.c_str();
    const char* key = options.tls_key_file.empty() ? nullptr : options.tls_key_file.c_str();
    if (int rc = mosquitto_tls_set(mosq, options.tls_ca_file.c_str(), nullptr, cert, key, nullptr);
        rc != MOSQ_ERR_SUCCESS) {
      throw std::runtime_error(std::string("test client: mosquitto_tls_set: ") +
                               mosquitto_strerror(rc));
    }
  } else if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    throw std::runtime_error("MqttTestClientOptions: a client certificate needs tls_ca_file");
  }
}

}  // namespace internal

/// A libmosquitto client for checking what the publisher sends. Runs
/// libmosquitto's own thread (loop_start), which also reconnects.
class MqttTestClient {
 public:
  explicit MqttTestClient(int port, MqttTestClientOptions options = {}) {
    internal::InitMosquittoLib();
    mosq_ = mosquitto_new(options.client_id.empty() ? nullptr : options.client_id.c_str(),
                          options.clean_session, this);
    if (mosq_ == nullptr) throw std::runtime_error("mosquitto_new failed");
    try {
      internal::ApplyClientOptions(mosq_, options);
    } catch (...) {
      mosquitto_destroy(mosq_);
      throw;
    }
    mosquitto_connect_callback_set(mosq_, [](mosquitto*, void* self, int rc) {
      auto* client = static_cast<MqttTestClient*>(self);
      std::lock_guard lock(client->mutex_);
      client->connected_ = rc == 0;
    });
    mosquitto_disconnect_callback_set(mosq_, [](mosquitto*, void* self, int) {
      auto* client = static_cast<MqttTestClient*>(self);
      std::lock_guard lock(client->mutex_);
      client->connected_ = false;
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
      auto* client = static_cast<MqttTestClient*>(self);
      std::lock_guard lock(client->mutex_);
      ++client->subacks_;
    });
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* client = static_cast<MqttTestClient*>(self);
      std::lock_guard lock(client->mutex_);
      client->messages_.push_back(
          {m->topic, std::string(static_cast<const char*>(m->payload), m->payloadlen), m->retain});
    });
    if (int rc = mosquitto_connect(mosq_, "127.0.0.1", port, 10); rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(mosq_);
      throw std::runtime_error(std::string("test client cannot connect: ") + mosquitto_strerror(rc));
    }
    mosquitto_loop_start(mosq_);
    if (!WaitUntil([&] { return connected(); })) {
      Shutdown();
      throw std::runtime_error("test client: no CONNACK");
    }
  }

  ~MqttTestClient() { Shutdown(); }

  MqttTestClient(const MqttTestClient&) = delete;
  MqttTestClient& operator=(const MqttTestClient&) = delete;

  /// Subscribes and waits (bounded) for the broker's SUBACK.
  void Subscribe(const std::string& topic, int qos = 1) {
    int before;
    {
      std::lock_guard lock(mutex_);
      before = subacks_;
    }
    if (mosquitto_subscribe(mosq_, nullptr, topic.c_str(), qos) != MOSQ_ERR_SUCCESS ||
        !WaitUntil([&] {
          std::lock_guard lock(mutex_);
          return subacks_ > before;
        })) {
      throw std::runtime_error("test client cannot subscribe to " + topic);
    }
  }

  /// Publishes and returns at once.
  void Publish(const std::string& topic, const std::string& payload, bool retain = false) {
    mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                      payload.data(), 1, retain);
  }

  bool connected() const {
    std::lock_guard lock(mutex_);
    return connected_;
  }

  /// Messages received so far on `topic` (all topics if empty), in order.
  std::vector<ReceivedMessage> Messages(const std::string& topic = {}) const {
    std::lock_guard lock(mutex_);
    std::vector<ReceivedMessage> out;
    for (const auto& m : messages_) {
      if (topic.empty() || m.topic == topic) out.push_back(m);
    }
    return out;
  }

  /// Waits (bounded) until `count` messages have arrived on `topic`.
  bool WaitForCount(const std::string& topic, size_t count,
                    std::chrono::milliseconds timeout = kEventDeadline) const {
    return WaitUntil([&] { return Messages(topic).size() >= count; }, timeout);
  }

 private:
  void Shutdown() {
    if (mosq_ == nullptr) return;
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }

  mosquitto* mosq_ = nullptr;
  mutable std::mutex mutex_;
  bool connected_ = false;
  int subacks_ = 0;
  std::vector<ReceivedMessage> messages_;
};

/// Connects once to 127.0.0.1:`port` with `options` (credentials, TLS) and
/// waits (bounded) for the outcome: true if the broker accepted the
/// connection (CONNACK success), false as soon as the TCP connection, the TLS
/// handshake (either side's verification) or the MQTT CONNECT was refused.
/// Quicker than MqttTestClient for checking that a connection is refused:
/// no reconnecting until a deadline. Disconnects before returning.
inline bool MqttConnectAccepted(int port, const MqttTestClientOptions& options = {},
                                std::chrono::milliseconds timeout = kEventDeadline) {
  internal::InitMosquittoLib();
  struct Outcome {
    bool decided = false;
    bool accepted = false;
  } outcome;
  mosquitto* mosq = mosquitto_new(options.client_id.empty() ? nullptr : options.client_id.c_str(),
                                  options.clean_session, &outcome);
  if (mosq == nullptr) throw std::runtime_error("mosquitto_new failed");
  try {
    internal::ApplyClientOptions(mosq, options);
  } catch (...) {
    mosquitto_destroy(mosq);
    throw;
  }
  mosquitto_connect_callback_set(mosq, [](mosquitto*, void* data, int rc) {
    auto* o = static_cast<Outcome*>(data);
    o->decided = true;
    o->accepted = rc == 0;
  });
  mosquitto_disconnect_callback_set(mosq, [](mosquitto*, void* data, int) {
    static_cast<Outcome*>(data)->decided = true;
  });
  // Everything runs on this thread (mosquitto_loop), so no locking.
  if (mosquitto_connect(mosq, "127.0.0.1", port, 10) == MOSQ_ERR_SUCCESS) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!outcome.decided && std::chrono::steady_clock::now() < deadline) {
      if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS) outcome.decided = true;
    }
  }
  if (outcome.accepted) mosquitto_disconnect(mosq);
  mosquitto_destroy(mosq);
  return outcome.accepted;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_MOSQUITTO_BROKER_H_
