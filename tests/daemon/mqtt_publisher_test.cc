#include "mqtt/mqtt_publisher.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "support/mosquitto_broker.h"
#include "support/tls_certs.h"
#include "support/tcp_port.h"
#include "support/wait.h"

namespace lookout::daemon {
namespace {

using lookout::testing::BrokerOptions;
using lookout::testing::FreeTcpPort;
using lookout::testing::MosquittoBroker;
using lookout::testing::MqttTestClient;
using lookout::testing::RequireReturns;
using lookout::testing::WaitUntil;
using nlohmann::json;

constexpr char kResult[] = "lookout/front/result";
constexpr char kAvailability[] = "lookout/front/availability";

config::MqttConfig TestConfig(int port) {
  config::MqttConfig config;
  config.enabled = true;
  config.host = "127.0.0.1";
  config.port = port;
  config.client_id = "lookout-front";
  config.topic_prefix = "lookout/front";  // What config parsing fills in.
  config.qos = 1;
  config.reconnect_min_s = 1;
  config.reconnect_max_s = 2;
  config.results = "every_frame";  // The top label and score sensors read the results.
  return config;
}

DeviceInfo TestDevice() { return {"front", "mobilenet_v2_1.0_224_quant", "0.1.0", ""}; }

std::string Event(int seq) { return json({{"v", 1}, {"camera", "front"}, {"seq", seq}}).dump(); }

std::vector<std::string> Payloads(const std::vector<testing::ReceivedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.payload);
  return out;
}

bool WaitConnected(const MqttPublisher& publisher, bool connected = true) {
  return WaitUntil([&] { return publisher.stats().connected == connected; });
}

// Waits (bounded) until a connection attempt has failed: the publisher is
// then backing off, or about to.
bool WaitFailedConnect(const MqttPublisher& publisher) {
  return WaitUntil([&] { return publisher.stats().failed_connects >= 1; });
}

TEST_CASE("mqtt: online, discovery and results reach a subscriber, offline after Stop",
          "[mqtt]") {
  MosquittoBroker broker;
  boost::asio::io_context io;
  MqttTestClient live(broker.port());
  live.Subscribe("lookout/front/#");
  live.Subscribe("homeassistant/#");

  MqttPublisher publisher(io, TestConfig(broker.port()), TestDevice());
  CHECK(publisher.result_topic() == kResult);
  CHECK(publisher.availability_topic() == kAvailability);
  publisher.Start();
  REQUIRE(WaitConnected(publisher));
  REQUIRE(live.WaitForCount(kAvailability, 1));
  CHECK(live.Messages(kAvailability)[0].payload == "online");

  // A client arriving later gets the retained state: "online" and the configs.
  // Without zones: the camera's four diagnostic sensors and, with results on
  // MQTT, the top label and score.
  const std::vector<std::string> objects = {"top_label", "top_score"};
  MqttTestClient late(broker.port());
  late.Subscribe(kAvailability);
  late.Subscribe("homeassistant/sensor/+/+/config");
  REQUIRE(late.WaitForCount(kAvailability, 1));
  CHECK(late.Messages(kAvailability)[0].payload == "online");
  CHECK(late.Messages(kAvailability)[0].retain);
  REQUIRE(late.WaitForCount("", 7));
  for (const std::string& object : objects) {
    const std::string topic = "homeassistant/sensor/lookout_front/" + object + "/config";
    const auto configs = late.Messages(topic);
    REQUIRE(configs.size() == 1);
    CHECK(configs[0].retain);
    const json config = json::parse(configs[0].payload);
    CHECK(config["unique_id"] == "lookout_front_" + object);
    CHECK(config["state_topic"] == kResult);
    CHECK(config["availability_topic"] == kAvailability);
    CHECK(config["payload_available"] == "online");
    CHECK(config["payload_not_available"] == "offline");
    CHECK(config["device"]["identifiers"] == json::array({"lookout_front"}));
    CHECK(config["device"]["name"] == "Lookout front");
    CHECK(config["device"]["manufacturer"] == "Lookout");
    CHECK(config["device"]["model"] == "mobilenet_v2_1.0_224_quant");
    CHECK(config["device"]["sw_version"] == "0.1.0");
    CHECK(config["value_template"].is_string());
  }
  const json label = json::parse(
      late.Messages("homeassistant/sensor/lookout_front/top_label/config")[0].payload);
  CHECK(label["value_template"] ==
        "{{ value_json.top_k[0].label if value_json.top_k else 'none' }}");
  CHECK(label["json_attributes_topic"] == kResult);
  CHECK_THAT(label["json_attributes_template"].get<std::string>(), lookout::testing::Contains("top_k"));
  const json latency = json::parse(
      late.Messages("homeassistant/sensor/lookout_front/inference_ms/config")[0].payload);
  CHECK(latency["state_topic"] == "lookout/front/diagnostics");
  CHECK(latency["value_template"] == "{{ value_json.inference_ms }}");
  CHECK(latency["unit_of_measurement"] == "ms");
  CHECK(latency["entity_category"] == "diagnostic");

  // Results arrive in order.
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(Event(i));
    publisher.PublishResult(sent.back());
  }
  REQUIRE(live.WaitForCount(kResult, sent.size()));
  CHECK(Payloads(live.Messages(kResult)) == sent);
  CHECK(publisher.stats().published == sent.size());
  CHECK(publisher.stats().dropped == 0);

  // Home Assistant's birth message makes the publisher send the configs again.
  const size_t configs_before = live.Messages().size();
  live.Publish("homeassistant/status", "online");
  CHECK(WaitUntil([&] {
    size_t configs = 0;
    for (const auto& m : live.Messages()) configs += m.topic.ends_with("/config");
    return configs >= 12;
  }));
  CHECK(live.Messages().size() > configs_before);

  RequireReturns("Stop()", [&] { publisher.Stop(); });
  CHECK_FALSE(publisher.stats().connected);
  publisher.Stop();  // Idempotent.

  MqttTestClient after(broker.port());
  after.Subscribe(kAvailability);
  REQUIRE(after.WaitForCount(kAvailability, 1));
  CHECK(after.Messages(kAvailability)[0].payload == "offline");
  CHECK(after.Messages(kAvailability)[0].retain);
}

TEST_CASE("mqtt: the last will says offline when the publisher dies", "[mqtt]") {
  MosquittoBroker broker;
  int go[2];
  REQUIRE(::pipe(go) == 0);
  // The publisher runs in a child process that exits without Stop(), as a
  // crashed daemon would; fork() before any thread exists in this process.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(go[1]);
    int code = 1;
    try {
      boost::asio::io_context io;
      auto* publisher = new MqttPublisher(io, TestConfig(broker.port()), TestDevice());
      publisher->Start();
      if (WaitConnected(*publisher)) {
        char byte;
        code = ::read(go[0], &byte, 1) == 1 ? 0 : 2;
      }
    } catch (...) {
      code = 3;
    }
    ::_exit(code);  // No destructors: the TCP connection just drops.
  }
  ::close(go[0]);

  MqttTestClient watcher(broker.port());
  watcher.Subscribe(kAvailability);
  REQUIRE(watcher.WaitForCount(kAvailability, 1));
  CHECK(watcher.Messages(kAvailability)[0].payload == "online");

  REQUIRE(::write(go[1], "x", 1) == 1);
  ::close(go[1]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  REQUIRE(watcher.WaitForCount(kAvailability, 2));
  CHECK(watcher.Messages(kAvailability)[1].payload == "offline");
}

TEST_CASE("mqtt: events published during a broker outage arrive in order afterwards",
          "[mqtt]") {
  BrokerOptions options;
  options.persistence = true;  // The subscriber's session survives the restart.
  MosquittoBroker broker(options);
  testing::MqttTestClientOptions sub_options;
  sub_options.client_id = "outage-subscriber";
  sub_options.clean_session = false;
  MqttTestClient subscriber(broker.port(), sub_options);
  subscriber.Subscribe(kResult, 1);

  boost::asio::io_context io;
  MqttPublisher publisher(io, TestConfig(broker.port()), TestDevice());
  publisher.Start();
  REQUIRE(WaitConnected(publisher));
  std::vector<std::string> sent = {Event(0)};
  publisher.PublishResult(sent[0]);
  REQUIRE(subscriber.WaitForCount(kResult, 1));

  broker.Stop();
  REQUIRE(WaitConnected(publisher, false));
  for (int i = 1; i <= 5; ++i) {
    sent.push_back(Event(i));
    publisher.PublishResult(sent.back());
  }
  CHECK(publisher.stats().queued == 5);
  CHECK(publisher.stats().dropped == 0);

  broker.Start();
  REQUIRE(WaitConnected(publisher));
  // The last event arriving means all have: the subscriber gets them in order.
  REQUIRE(WaitUntil([&] {
    const auto messages = subscriber.Messages(kResult);
    return !messages.empty() && messages.back().payload == sent.back();
  }));
  // QoS 1 is at least once: event 0 may arrive twice, when the outage cut
  // off its PUBACK and libmosquitto sent it again after reconnecting. Only
  // such an adjacent repeat is allowed; the order holds.
  std::vector<std::string> received = Payloads(subscriber.Messages(kResult));
  const size_t repeats = received.size() - static_cast<size_t>(
      std::distance(received.begin(), std::unique(received.begin(), received.end())));
  received.erase(std::unique(received.begin(), received.end()), received.end());
  CHECK(received == sent);
  CHECK(repeats <= 1);
  const MqttPublisher::Stats stats = publisher.stats();
  CHECK(stats.queued == 0);
  CHECK(stats.published == sent.size());
  CHECK(stats.reconnects == 1);
  CHECK(stats.dropped == 0);
}

TEST_CASE("mqtt: a full queue drops the oldest events and counts them", "[mqtt]") {
  MosquittoBroker broker;
  MqttTestClient subscriber(broker.port());
  subscriber.Subscribe(kResult);

  boost::asio::io_context io;
  config::MqttConfig config = TestConfig(broker.port());
  config.queue_limit = 3;
  MqttPublisher publisher(io, config, TestDevice());
  // Not connected yet: events wait in the queue.
  for (int i = 1; i <= 5; ++i) publisher.PublishResult(Event(i));
  MqttPublisher::Stats stats = publisher.stats();
  CHECK(stats.queued == 3);
  CHECK(stats.dropped == 2);
  CHECK_FALSE(stats.connected);

  publisher.Start();
  REQUIRE(subscriber.WaitForCount(kResult, 3));
  CHECK(Payloads(subscriber.Messages(kResult)) ==
        std::vector<std::string>{Event(3), Event(4), Event(5)});
  stats = publisher.stats();
  CHECK(stats.queued == 0);
  CHECK(stats.published == 3);
  CHECK(stats.dropped == 2);
}

TEST_CASE("mqtt: the broker may come up after the publisher", "[mqtt]") {
  BrokerOptions options;
  options.port = FreeTcpPort();
  boost::asio::io_context io;
  MqttPublisher publisher(io, TestConfig(options.port), TestDevice());
  publisher.Start();
  publisher.PublishResult(Event(1));
  REQUIRE(WaitFailedConnect(publisher));  // Nothing listens on the port yet.
  CHECK_FALSE(publisher.stats().connected);
  CHECK(publisher.stats().queued == 1);

  MosquittoBroker broker(options);
  REQUIRE(WaitConnected(publisher));
  MqttPublisher::Stats stats = publisher.stats();
  CHECK(stats.published == 1);
  CHECK(stats.queued == 0);
  CHECK(stats.reconnects == 0);  // Failed attempts are not connections.

  MqttTestClient watcher(broker.port());
  watcher.Subscribe(kAvailability);
  REQUIRE(watcher.WaitForCount(kAvailability, 1));
  CHECK(watcher.Messages(kAvailability)[0].payload == "online");
}

TEST_CASE("mqtt: Stop() without a broker returns promptly and counts unsent events",
          "[mqtt]") {
  boost::asio::io_context io;
  config::MqttConfig config = TestConfig(FreeTcpPort());
  // An hour between attempts: Stop() can come back within the deadline only
  // by interrupting the wait.
  config.reconnect_min_s = 3600;
  config.reconnect_max_s = 3600;
  MqttPublisher publisher(io, config, TestDevice());
  publisher.Start();
  publisher.PublishResult(Event(1));
  publisher.PublishResult(Event(2));
  REQUIRE(WaitFailedConnect(publisher));
  RequireReturns("Stop()", [&] { publisher.Stop(); });
  const MqttPublisher::Stats stats = publisher.stats();
  CHECK_FALSE(stats.connected);
  CHECK(stats.queued == 0);
  CHECK(stats.dropped == 2);
  publisher.PublishResult(Event(3));  // After Stop(): counted, not sent.
  CHECK(publisher.stats().dropped == 3);
}

TEST_CASE("mqtt: username and password", "[mqtt]") {
  BrokerOptions options;
  options.username = "camera";
  options.password = "s3cret";
  MosquittoBroker broker(options);
  boost::asio::io_context io;

  SECTION("correct credentials connect") {
    config::MqttConfig config = TestConfig(broker.port());
    config.username = "camera";
    config.password = "s3cret";
    MqttPublisher publisher(io, config, TestDevice());
    publisher.Start();
    CHECK(WaitConnected(publisher));

    testing::MqttTestClientOptions client_options;
    client_options.username = "camera";
    client_options.password = "s3cret";
    MqttTestClient watcher(broker.port(), client_options);
    watcher.Subscribe(kAvailability);
    REQUIRE(watcher.WaitForCount(kAvailability, 1));
    CHECK(watcher.Messages(kAvailability)[0].payload == "online");
  }

  SECTION("wrong credentials and no credentials do not") {
    auto refusals = [&] {
      size_t count = 0;
      const std::string log = broker.Log();
      for (size_t at = 0; (at = log.find("not authorised", at)) != std::string::npos; ++at) {
        ++count;
      }
      return count;
    };
    for (const std::string& password : {std::string("wrong"), std::string()}) {
      config::MqttConfig config = TestConfig(broker.port());
      config.username = password.empty() ? "" : "camera";
      config.password = password;
      const size_t before = refusals();
      MqttPublisher publisher(io, config, TestDevice());
      publisher.Start();
      // The broker has refused this client, and it did not count as connected.
      CHECK(WaitUntil([&] { return refusals() > before; }));
      CHECK_FALSE(publisher.stats().connected);
      publisher.Stop();
      CHECK_FALSE(publisher.stats().connected);
    }
  }
}

// QoS 1 is "at least once": after a reconnect libmosquitto resends, in
// order, the messages whose PUBACK the outage cut off, though the broker may
// have delivered them already. So a subscriber can see a run of recent
// events again (137 138 137 138 139). Removes such repeats and returns how
// many there were; a repeat of anything older than libmosquitto's in-flight
// window (20 messages) stays, and fails the comparison.
size_t RemoveResentRepeats(std::vector<std::string>& received, const std::vector<std::string>& sent) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < sent.size(); ++i) index[sent[i]] = i;
  std::vector<std::string> kept;
  std::set<std::string> seen;
  size_t newest = 0, repeats = 0;
  for (const std::string& message : received) {
    const auto it = index.find(message);
    if (it != index.end() && seen.count(message) && it->second + 20 >= newest) {
      ++repeats;
      continue;
    }
    seen.insert(message);
    if (it != index.end()) newest = std::max(newest, it->second);
    kept.push_back(message);
  }
  received = std::move(kept);
  return repeats;
}

TEST_CASE("mqtt: a steady stream keeps its order through three broker restarts", "[mqtt]") {
  BrokerOptions options;
  options.persistence = true;  // The subscriber's session survives the restarts.
  MosquittoBroker broker(options);
  testing::MqttTestClientOptions sub_options;
  sub_options.client_id = "restart-subscriber";
  sub_options.clean_session = false;
  MqttTestClient subscriber(broker.port(), sub_options);
  subscriber.Subscribe(kResult, 1);

  boost::asio::io_context io;
  config::MqttConfig config = TestConfig(broker.port());
  config.queue_limit = 100000;  // Nothing may be dropped in this test.
  MqttPublisher publisher(io, config, TestDevice());
  publisher.Start();
  REQUIRE(WaitConnected(publisher));

  // Events every 2 ms from another thread, as the daemon's io thread gives
  // them, while the broker goes away and comes back three times: some are in
  // flight when it dies.
  std::atomic<bool> run{true};
  std::atomic<int> next{0};
  std::thread producer([&] {
    while (run) {
      publisher.PublishResult(Event(next++));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int restart = 0; restart < 3; ++restart) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    broker.Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    broker.Start();
    REQUIRE(WaitConnected(publisher));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run = false;
  producer.join();
  const int sent = next.load();
  const std::string last = Event(sent - 1);
  REQUIRE(WaitUntil([&] {
    const auto messages = subscriber.Messages(kResult);
    return !messages.empty() && messages.back().payload == last;
  }));
  std::vector<std::string> expected;
  for (int i = 0; i < sent; ++i) expected.push_back(Event(i));
  std::vector<std::string> received = Payloads(subscriber.Messages(kResult));
  const size_t repeats = RemoveResentRepeats(received, expected);
  // Where the first difference is, as sequence numbers, if any.
  std::string around;
  for (size_t i = 0; i < received.size(); ++i) {
    if (i < expected.size() && received[i] == expected[i]) continue;
    for (size_t j = i >= 5 ? i - 5 : 0; j < std::min(received.size(), i + 25); ++j) {
      around += std::to_string(json::parse(received[j])["seq"].get<int>()) + " ";
    }
    break;
  }
  INFO("received from the first difference on: " << around);
  CHECK(received.size() == expected.size());
  CHECK(received == expected);  // Every event, each after the one before it.
  CHECK(publisher.stats().dropped == 0);
  CHECK(publisher.stats().reconnects == 3);
  // At most the events in flight at each outage (libmosquitto's window is 20).
  CHECK(repeats <= 3 * 20);
  INFO("events " << sent << ", adjacent repeats " << repeats);
}

TEST_CASE("mqtt: queue_limit 0 keeps nothing during an outage, but states come back", "[mqtt]") {
  MosquittoBroker broker;
  boost::asio::io_context io;
  config::MqttConfig config = TestConfig(broker.port());
  config.queue_limit = 0;
  MqttPublisher publisher(io, config, TestDevice());
  publisher.Start();
  REQUIRE(WaitConnected(publisher));
  broker.Stop();
  REQUIRE(WaitConnected(publisher, false));
  publisher.PublishResult(Event(1));
  publisher.PublishState("lookout/front/door/state", "cat");
  MqttPublisher::Stats stats = publisher.stats();
  CHECK(stats.queued == 0);
  CHECK(stats.dropped == 2);

  // The broker comes back without its retained messages (no persistence):
  // the remembered state is published again; the result event is gone.
  broker.Start();
  REQUIRE(WaitConnected(publisher));
  MqttTestClient late(broker.port());
  late.Subscribe("lookout/front/#");
  REQUIRE(late.WaitForCount("lookout/front/door/state", 1));
  CHECK(late.Messages("lookout/front/door/state")[0].payload == "cat");
  CHECK(late.Messages("lookout/front/door/state")[0].retain);
  CHECK(late.Messages(kResult).empty());
}

TEST_CASE("mqtt: Home Assistant restarting gets the configs and the current states again", "[mqtt]") {
  MosquittoBroker broker;
  boost::asio::io_context io;
  MqttPublisher publisher(io, TestConfig(broker.port()), TestDevice(), {{"door", {"cat"}}});
  publisher.Start();
  REQUIRE(WaitConnected(publisher));
  publisher.PublishState("lookout/front/door/state", "none");
  publisher.PublishState("lookout/front/door/cat", "OFF");
  publisher.PublishState("lookout/front/door/state", "cat");
  publisher.PublishState("lookout/front/door/cat", "ON");

  // Home Assistant, restarted: it subscribes, then announces itself.
  MqttTestClient ha(broker.port());
  ha.Subscribe("homeassistant/#");
  ha.Subscribe("lookout/front/#");
  // Retained: the configs and the latest states, once each.
  REQUIRE(ha.WaitForCount("lookout/front/door/cat", 1));
  REQUIRE(ha.WaitForCount("lookout/front/door/state", 1));
  const size_t configs = ha.Messages().size() - ha.Messages("lookout/front/door/state").size() -
                         ha.Messages("lookout/front/door/cat").size() -
                         ha.Messages(kAvailability).size();
  CHECK(ha.Messages("lookout/front/door/state")[0].payload == "cat");
  ha.Publish("homeassistant/status", "online");
  // Live (not retained) copies of the configs and the states follow.
  REQUIRE(ha.WaitForCount("lookout/front/door/state", 2));
  REQUIRE(ha.WaitForCount("lookout/front/door/cat", 2));
  CHECK(ha.Messages("lookout/front/door/state")[1].payload == "cat");
  CHECK(ha.Messages("lookout/front/door/cat")[1].payload == "ON");
  CHECK(WaitUntil([&] {
    size_t n = 0;
    for (const auto& m : ha.Messages()) n += m.topic.ends_with("/config");
    return n == 2 * configs;
  }));
}

// Runs `body` with spdlog writing into a ring buffer; returns the lines.
template <typename Body>
std::vector<std::string> CapturingLog(Body body) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  try {
    body();
  } catch (...) {
    spdlog::set_default_logger(previous);
    throw;
  }
  spdlog::set_default_logger(previous);
  return sink->last_formatted();
}

TEST_CASE("mqtt: TLS with a CA the test makes, and a wrong CA is refused with a clear log line", "[mqtt][tls]") {
  testing::TestPki pki;
  BrokerOptions options;
  options.tls_ca_file = pki.ca_cert().string();
  options.tls_cert_file = pki.server_cert().string();
  options.tls_key_file = pki.server_key().string();
  options.require_client_certificate = true;
  options.username = "camera";
  options.password = "s3cret";
  MosquittoBroker broker(options);
  boost::asio::io_context io;
  config::MqttConfig config = TestConfig(broker.port());
  config.username = "camera";
  config.password = "s3cret";
  config.tls.enabled = true;
  config.tls.ca_file = pki.ca_cert();
  config.tls.cert_file = pki.client_cert();
  config.tls.key_file = pki.client_key();

  SECTION("the right CA, a client certificate and a password connect") {
    MqttPublisher publisher(io, config, TestDevice());
    publisher.Start();
    REQUIRE(WaitConnected(publisher));
    testing::MqttTestClientOptions client;
    client.username = "camera";
    client.password = "s3cret";
    client.tls_ca_file = pki.ca_cert().string();
    client.tls_cert_file = pki.client_cert().string();
    client.tls_key_file = pki.client_key().string();
    MqttTestClient watcher(broker.port(), client);
    watcher.Subscribe(kResult);
    publisher.PublishResult(Event(7));
    REQUIRE(watcher.WaitForCount(kResult, 1));
    CHECK(watcher.Messages(kResult)[0].payload == Event(7));
  }

  SECTION("another CA is refused, and the log says why") {
    config.tls.ca_file = pki.other_ca_cert();
    const auto lines = CapturingLog([&] {
      MqttPublisher publisher(io, config, TestDevice());
      publisher.Start();
      REQUIRE(WaitFailedConnect(publisher));
      CHECK_FALSE(publisher.stats().connected);
      publisher.Stop();
    });
    bool found = false;
    for (const std::string& line : lines) {
      found = found || (line.find("TLS handshake failed: certificate verify failed") != std::string::npos &&
                        line.find("/mqtt/tls/ca_file") != std::string::npos);
    }
    CHECK(found);
  }

  SECTION("an unreadable CA file is refused before connecting, naming the key") {
    config.tls.ca_file = "/nonexistent/ca.crt";
    try {
      MqttPublisher publisher(io, config, TestDevice());
      FAIL("accepted");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) ==
            "mqtt: /mqtt/tls/ca_file: cannot read /nonexistent/ca.crt: No such file or directory");
    }
  }
}

}  // namespace
}  // namespace lookout::daemon
