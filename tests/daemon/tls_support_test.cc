// The MQTT-over-TLS test support itself: TestPki's certificates
// (tls_certs.h) with a real mosquitto TLS listener (mosquitto_broker.h).
#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/catch_compat.h"
#include "support/mosquitto_broker.h"
#include "support/temp_dir.h"
#include "support/tls_certs.h"

namespace lookout::testing {
namespace {

BrokerOptions TlsBroker(const TestPki& pki, bool require_client_certificate = false) {
  BrokerOptions options;
  options.tls_ca_file = pki.ca_cert().string();
  options.tls_cert_file = pki.server_cert().string();
  options.tls_key_file = pki.server_key().string();
  options.require_client_certificate = require_client_certificate;
  return options;
}

MqttTestClientOptions TrustingCa(const std::filesystem::path& ca) {
  MqttTestClientOptions options;
  options.tls_ca_file = ca.string();
  return options;
}

TEST_CASE("tls support: TestPki makes every file, in its own folder or a given one",
          "[mqtt][tls]") {
  const TestPki own;
  TempDir dir;
  const TestPki given(dir.path() / "pki");
  CHECK(given.dir() == dir.path() / "pki");
  for (const TestPki* pki : {&own, &given}) {
    for (const auto& file : {pki->ca_cert(), pki->ca_key(), pki->server_cert(), pki->server_key(),
                             pki->client_cert(), pki->client_key(), pki->other_ca_cert(),
                             pki->other_ca_key()}) {
      INFO(file);
      CHECK(std::filesystem::file_size(file) > 0);
    }
  }
  CHECK(own.ca_cert().filename() == "ca.crt");
  CHECK(own.other_ca_cert().filename() == "other_ca.crt");
}

TEST_CASE("tls support: clients that trust the CA exchange messages through a TLS listener",
          "[mqtt][tls]") {
  const TestPki pki;
  MosquittoBroker broker(TlsBroker(pki));
  MqttTestClient subscriber(broker.port(), TrustingCa(pki.ca_cert()));
  subscriber.Subscribe("tls/test");
  MqttTestClient publisher(broker.port(), TrustingCa(pki.ca_cert()));
  publisher.Publish("tls/test", "over TLS");
  REQUIRE(subscriber.WaitForCount("tls/test", 1));
  CHECK(subscriber.Messages("tls/test")[0].payload == "over TLS");
}

TEST_CASE("tls support: a client that trusts another CA, or speaks plain MQTT, is refused",
          "[mqtt][tls]") {
  const TestPki pki;
  MosquittoBroker broker(TlsBroker(pki));
  CHECK(MqttConnectAccepted(broker.port(), TrustingCa(pki.ca_cert())));
  CHECK_FALSE(MqttConnectAccepted(broker.port(), TrustingCa(pki.other_ca_cert())));
  CHECK_FALSE(MqttConnectAccepted(broker.port()));
  CHECK(MqttConnectAccepted(broker.port(), TrustingCa(pki.ca_cert())));  // Still up.
}

TEST_CASE("tls support: require_client_certificate admits only clients with the CA's certificate",
          "[mqtt][tls]") {
  const TestPki pki;
  MosquittoBroker broker(TlsBroker(pki, /*require_client_certificate=*/true));
  CHECK_FALSE(MqttConnectAccepted(broker.port(), TrustingCa(pki.ca_cert())));

  MqttTestClientOptions with_cert = TrustingCa(pki.ca_cert());
  with_cert.tls_cert_file = pki.client_cert().string();
  with_cert.tls_key_file = pki.client_key().string();
  CHECK(MqttConnectAccepted(broker.port(), with_cert));

  // A certificate the CA did not sign (the other CA's own, with its key) is
  // refused too.
  MqttTestClientOptions foreign = TrustingCa(pki.ca_cert());
  foreign.tls_cert_file = pki.other_ca_cert().string();
  foreign.tls_key_file = pki.other_ca_key().string();
  CHECK_FALSE(MqttConnectAccepted(broker.port(), foreign));

  MqttTestClient subscriber(broker.port(), with_cert);
  subscriber.Subscribe("tls/cert");
  MqttTestClient publisher(broker.port(), with_cert);
  publisher.Publish("tls/cert", "mutual TLS");
  REQUIRE(subscriber.WaitForCount("tls/cert", 1));
  CHECK(subscriber.Messages("tls/cert")[0].payload == "mutual TLS");
}

TEST_CASE("tls support: inconsistent TLS options are refused before anything starts",
          "[mqtt][tls]") {
  BrokerOptions no_key;
  no_key.tls_cert_file = "/nonexistent/server.crt";
  CHECK_THROWS_AS(MosquittoBroker(no_key), std::runtime_error);
  BrokerOptions no_ca;
  no_ca.tls_cert_file = "/nonexistent/server.crt";
  no_ca.tls_key_file = "/nonexistent/server.key";
  no_ca.require_client_certificate = true;
  CHECK_THROWS_AS(MosquittoBroker(no_ca), std::runtime_error);
  MqttTestClientOptions unreadable_ca;
  unreadable_ca.tls_ca_file = "/nonexistent/ca.crt";
  CHECK_THROWS_AS(MqttConnectAccepted(1, unreadable_ca), std::runtime_error);
}

}  // namespace
}  // namespace lookout::testing
