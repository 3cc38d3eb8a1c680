#include "server/socket_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include "support/catch_compat.h"
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"
#include "support/unix_client.h"
#include "support/wait.h"

namespace lookout::daemon {
namespace {

using lookout::testing::Client;
using lookout::testing::kEventDeadline;
using lookout::testing::TempDir;
using lookout::testing::WaitUntil;
using nlohmann::json;

// An io_context running on a background thread, as in the daemon.
class IoThread {
 public:
  IoThread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  boost::asio::io_context& io() { return io_; }

  // Runs `f` on the io thread and returns its result (rethrowing).
  template <typename F>
  auto Run(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    if (result.wait_for(kEventDeadline) != std::future_status::ready) {
      FAIL("io thread did not run the task");
    }
    return result.get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

json TestHandler(const std::string& cmd, const json& request) {
  if (cmd == "version") return {{"version", "1.2.3"}, {"model", "test"}};
  if (cmd == "echo") return request;
  throw std::runtime_error("unknown command \"" + cmd + "\" (expected one of: version, echo)");
}

// A SocketServer on a temporary path, run on an IoThread.
struct Fixture {
  explicit Fixture(std::function<void(config::SocketConfig&)> adjust = {}) {
    config.path = dir.path() / "lookoutd.sock";
    if (adjust) adjust(config);
    io.Run([this] {
      server = std::make_unique<SocketServer>(io.io(), config, &TestHandler);
      server->Start();
      return 0;
    });
  }
  ~Fixture() {
    io.Run([this] {
      server.reset();
      return 0;
    });
  }

  void Broadcast(const std::string& line) {
    io.Run([&] {
      server->Broadcast(std::make_shared<const std::string>(line));
      return 0;
    });
  }

  TempDir dir;
  IoThread io;
  config::SocketConfig config;
  std::unique_ptr<SocketServer> server;
};

TEST_CASE("socket: handler result comes back with the request id", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  const json reply = client.Request({{"cmd", "version"}, {"id", 7}});
  CHECK(reply == json({{"ok", true},
                       {"id", 7},
                       {"cmd", "version"},
                       {"result", {{"version", "1.2.3"}, {"model", "test"}}}}));

  // Any JSON id is echoed verbatim; the handler sees the whole request.
  const json request = {{"cmd", "echo"}, {"id", {{"n", "x"}, {"list", {1, 2}}}}, {"extra", true}};
  const json echoed = client.Request(request);
  CHECK(echoed["ok"] == true);
  CHECK(echoed["id"] == request["id"]);
  CHECK(echoed["result"] == request);

  // Without an id, the reply has none.
  const json no_id = client.Request({{"cmd", "version"}});
  CHECK(no_id["ok"] == true);
  CHECK_FALSE(no_id.contains("id"));
  CHECK(f.server->client_count() == 1);
}

TEST_CASE("socket: malformed lines get an error and the connection stays usable", "[socket]") {
  Fixture f;
  Client client(f.config.path);

  client.SendLine("{not json");
  json reply = client.ReadJson();
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), lookout::testing::Contains("not valid JSON"));
  CHECK(client.Request({{"cmd", "version"}, {"id", 1}})["ok"] == true);

  client.SendLine("[1, 2]");
  CHECK_THAT(client.ReadJson()["error"].get<std::string>(), lookout::testing::Contains("JSON object"));

  reply = client.Request({{"id", 3}});
  CHECK(reply["ok"] == false);
  CHECK(reply["id"] == 3);
  CHECK_THAT(reply["error"].get<std::string>(), lookout::testing::Contains("\"cmd\""));

  reply = client.Request({{"cmd", 5}, {"id", 4}});
  CHECK(reply["ok"] == false);
  CHECK(reply["id"] == 4);

  client.SendLine("\"\xff\xfe\"");  // Invalid UTF-8 inside a JSON string.
  CHECK(client.ReadJson()["ok"] == false);

  // Blank lines are ignored; the next reply answers the next request.
  client.SendLine("");
  client.SendLine("   ");
  reply = client.Request({{"cmd", "version"}, {"id", 5}});
  CHECK(reply["ok"] == true);
  CHECK(reply["id"] == 5);
}

TEST_CASE("socket: a bare command word is a request", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  client.SendLine("version");
  json reply = client.ReadJson();
  CHECK(reply["ok"] == true);
  CHECK(reply["cmd"] == "version");
  CHECK(reply["result"]["version"] == "1.2.3");
  CHECK_FALSE(reply.contains("id"));

  client.SendRaw("version\r\n");  // Telnet-style line ending.
  CHECK(client.ReadJson()["ok"] == true);
}

TEST_CASE("socket: an unknown command is an error reply", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  const json reply = client.Request({{"cmd", "nope"}, {"id", 2}});
  CHECK(reply["ok"] == false);
  CHECK(reply["id"] == 2);
  CHECK(reply["error"] == "unknown command \"nope\" (expected one of: version, echo)");

  client.SendLine("nope");
  CHECK_THAT(client.ReadJson()["error"].get<std::string>(), lookout::testing::StartsWith("unknown command"));
}

TEST_CASE("socket: pipelined and split requests", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  client.SendRaw("{\"cmd\":\"version\",\"id\":1}\n{\"cmd\":\"version\",\"id\":2}\nversion\n");
  CHECK(client.ReadJson()["id"] == 1);
  CHECK(client.ReadJson()["id"] == 2);
  CHECK(client.ReadJson()["ok"] == true);

  client.SendRaw("{\"cmd\":\"ver");
  // Once the server has read the first half, a reply to it would come before
  // the reply to the whole request: the first line back must be the latter.
  REQUIRE(WaitUntil([&] { return client.Unread() == 0; }));
  client.SendRaw("sion\",\"id\":3}\n");
  CHECK(client.ReadJson()["id"] == 3);
}

TEST_CASE("socket: a last request without newline is answered at end of input", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  client.SendRaw("version");
  client.ShutdownWrite();
  CHECK(client.ReadJson()["result"]["version"] == "1.2.3");
  CHECK(client.WaitClosed());
}

TEST_CASE("socket: subscribers receive broadcasts in order", "[socket]") {
  Fixture f;
  Client subscriber(f.config.path);
  Client bystander(f.config.path);

  const json reply = subscriber.Request({{"cmd", "subscribe"}, {"id", "s"}});
  CHECK(reply["ok"] == true);
  CHECK(reply["id"] == "s");
  CHECK(reply["result"]["subscribed"] == true);
  // The bystander's request proves the server has seen it connect.
  CHECK(bystander.Request({{"cmd", "version"}})["ok"] == true);

  const std::vector<std::string> events = {R"({"v":1,"seq":1})", R"({"v":1,"seq":2})",
                                           R"({"v":1,"seq":3})"};
  for (const std::string& e : events) f.Broadcast(e);
  for (const std::string& e : events) CHECK(subscriber.ReadLine() == e);

  // Not subscribed: the next line the bystander sees is its own reply.
  CHECK(bystander.Request({{"cmd", "version"}, {"id", 9}})["id"] == 9);

  // After unsubscribe, events stop.
  CHECK(subscriber.Request({{"cmd", "unsubscribe"}})["result"]["subscribed"] == false);
  f.Broadcast(R"({"v":1,"seq":4})");
  CHECK(subscriber.Request({{"cmd", "version"}, {"id", 10}})["id"] == 10);
}

TEST_CASE("socket: a subscriber that does not read is dropped, others get everything",
          "[socket]") {
  Fixture f([](config::SocketConfig& c) { c.max_client_buffer_bytes = 64 * 1024; });
  Client stuck(f.config.path);
  Client reader(f.config.path);
  CHECK(stuck.Request({{"cmd", "subscribe"}})["ok"] == true);
  CHECK(reader.Request({{"cmd", "subscribe"}})["ok"] == true);

  // 300 events of 8 KiB: far beyond the kernel's socket buffer plus 64 KiB.
  constexpr int kEvents = 300;
  std::atomic<int> received{0};
  std::atomic<bool> in_order{true};
  std::thread reading([&] {
    for (int i = 0; i < kEvents; ++i) {
      const std::optional<std::string> line = reader.ReadLine();
      if (!line) return;
      if (json::parse(*line)["seq"] != i) in_order = false;
      ++received;
    }
  });
  const std::string padding(8 * 1024, 'x');
  for (int i = 0; i < kEvents; ++i) {
    // Paced like a camera: the reader is never more than a few events behind.
    REQUIRE(WaitUntil([&] { return received >= i - 4; }));
    f.Broadcast(json({{"seq", i}, {"pad", padding}}).dump());
  }
  reading.join();

  CHECK(received == kEvents);
  CHECK(in_order);
  CHECK(f.server->dropped_clients() == 1);
  CHECK(WaitUntil([&] { return f.server->client_count() == 1; }));
  CHECK(stuck.WaitClosed());
}

TEST_CASE("socket: a client that sends many requests at once gets every reply and is not dropped",
          "[socket]") {
  Fixture f([](config::SocketConfig& c) { c.max_client_buffer_bytes = 4096; });
  Client client(f.config.path);
  // 2000 replies of ~250 bytes: 500 KB, far beyond the 4 KiB bound plus the
  // kernel's buffers. The server reads requests only as the replies drain,
  // so the sender blocks at times: it runs on a thread of its own.
  constexpr int kRequests = 2000;
  const std::string padding(200, 'p');
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += json({{"cmd", "echo"}, {"id", i}, {"pad", padding}}).dump() + "\n";
  std::thread sending([&] { client.SendRaw(batch); });
  int in_order = 0;
  for (int i = 0; i < kRequests; ++i) {
    const std::optional<std::string> line = client.ReadLine();
    if (!line) break;
    if (json::parse(*line)["id"] == i) ++in_order;
  }
  sending.join();
  CHECK(in_order == kRequests);
  CHECK(f.server->dropped_clients() == 0);
  // One reply larger than the whole bound still comes, whole.
  const std::string big(10000, 'b');
  const json reply = client.Request({{"cmd", "echo"}, {"id", "big"}, {"pad", big}});
  CHECK(reply["result"]["pad"] == big);
  CHECK(f.server->dropped_clients() == 0);
}

TEST_CASE("socket: connections beyond max_clients get one error line", "[socket]") {
  Fixture f([](config::SocketConfig& c) { c.max_clients = 1; });
  Client first(f.config.path);
  CHECK(first.Request({{"cmd", "version"}})["ok"] == true);

  Client second(f.config.path);
  const json reply = second.ReadJson();
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), lookout::testing::Contains("too many clients"));
  CHECK(second.WaitClosed());

  CHECK(first.Request({{"cmd", "version"}})["ok"] == true);
  CHECK(f.server->client_count() == 1);
}

TEST_CASE("socket: a line over 64 KiB is refused and the connection closed", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  client.SendRaw(std::string(SocketServer::kMaxRequestBytes + 4096, 'a'));
  const json reply = client.ReadJson();
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), lookout::testing::Contains("65536"));
  CHECK(client.WaitClosed());

  // A line just under the limit is fine.
  Client other(f.config.path);
  const std::string big = json({{"cmd", "echo"}, {"pad", std::string(60000, 'b')}}).dump();
  CHECK(other.Request(json::parse(big))["ok"] == true);
}

TEST_CASE("socket: file mode, stale sockets, refusal of other files, removal on Stop",
          "[socket]") {
  TempDir dir;
  IoThread io;
  config::SocketConfig config;
  config.path = dir.path() / "s.sock";
  auto make_server = [&] {
    return io.Run([&] { return std::make_unique<SocketServer>(io.io(), config, &TestHandler); });
  };
  auto destroy = [&](std::unique_ptr<SocketServer>& server) {
    io.Run([&] {
      server.reset();
      return 0;
    });
  };

  SECTION("mode follows the configuration and Stop() removes the file") {
    for (uint32_t mode : {0660u, 0600u, 0666u}) {
      config.mode = mode;
      auto server = make_server();
      struct stat st {};
      REQUIRE(::lstat(config.path.c_str(), &st) == 0);
      CHECK(S_ISSOCK(st.st_mode));
      CHECK((st.st_mode & 07777) == mode);
      io.Run([&] {
        server->Stop();
        server->Stop();  // Idempotent.
        return 0;
      });
      CHECK_FALSE(std::filesystem::exists(config.path));
      destroy(server);
    }
  }

  SECTION("a stale socket file is replaced") {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, config.path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);  // The file stays behind, with nobody listening.
    REQUIRE(std::filesystem::is_socket(config.path));

    auto server = make_server();
    io.Run([&] {
      server->Start();
      return 0;
    });
    Client client(config.path);
    CHECK(client.Request({{"cmd", "version"}})["ok"] == true);
    destroy(server);
  }

  SECTION("a socket someone listens on is left alone") {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, config.path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    CHECK_THROWS_WITH(make_server(), lookout::testing::Contains(config.path.string()) &&
                                         lookout::testing::Contains("another process is listening"));
    CHECK(std::filesystem::is_socket(config.path));
    ::close(fd);
  }

  SECTION("a regular file is refused, not removed") {
    std::ofstream(config.path) << "precious";
    CHECK_THROWS_WITH(make_server(),
                      lookout::testing::Contains(config.path.string()) && lookout::testing::Contains("not a socket"));
    std::ifstream in(config.path);
    std::string content;
    in >> content;
    CHECK(content == "precious");
  }

  SECTION("an unknown group is an error naming the path") {
    config.group = "no-such-group-lookout";
    CHECK_THROWS_WITH(make_server(), lookout::testing::Contains(config.path.string()) &&
                                         lookout::testing::Contains("no-such-group-lookout"));
    CHECK_FALSE(std::filesystem::exists(config.path));
  }

  SECTION("a missing directory is an error naming the path") {
    config.path = dir.path() / "missing" / "s.sock";
    // The system's reason, not one overwritten by the clean-up after it.
    CHECK_THROWS_WITH(make_server(), lookout::testing::Contains(config.path.string()) &&
                                         lookout::testing::Contains("cannot bind: No such file or directory"));
  }
}

TEST_CASE("socket: Stop() closes clients and later events are ignored", "[socket]") {
  Fixture f;
  Client client(f.config.path);
  CHECK(client.Request({{"cmd", "subscribe"}})["ok"] == true);
  f.io.Run([&] {
    f.server->Stop();
    f.server->Broadcast(std::make_shared<const std::string>("{}"));
    return 0;
  });
  CHECK(client.WaitClosed());
  CHECK(f.server->client_count() == 0);
  CHECK_FALSE(std::filesystem::exists(f.config.path));
}

}  // namespace
}  // namespace lookout::daemon
