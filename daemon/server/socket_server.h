// The local control and event socket: JSON lines over a Unix stream socket
// (docs/protocol.md is the client's view). The server is asio's "connection
// manager": it accepts on a Listener (listener.h, the socket file), keeps
// the table of Sessions (session.h, one client each), parses each line with
// protocol.h and hands requests to the Handler.
//
// Threading: everything runs on one io_context thread. Construct the server,
// then call Start(), Stop(), Broadcast() and client_count() on the thread that
// runs `io` (or while `io` is not running). The Handler is called on that
// thread, one request at a time, and must not block. client_count() and
// dropped_clients() may be read from any thread.
//
// Writes are asynchronous: a client that stops reading never blocks the io
// thread or other clients. Its queued output is bounded by
// SocketConfig::max_client_buffer_bytes; past that it is disconnected.
#ifndef LOOKOUT_DAEMON_SERVER_SOCKET_SERVER_H_
#define LOOKOUT_DAEMON_SERVER_SOCKET_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "lookout/config/config.h"
#include "server/protocol.h"

namespace lookout::daemon {

class SocketServer {
 public:
  /// Handles one request; returns the "result" value, or throws std::exception
  /// whose what() becomes the error reply. `request` is the whole request
  /// object ({"cmd": cmd} for a bare command word). Not called for the
  /// server's own commands ("subscribe", "unsubscribe").
  using Handler =
      std::function<nlohmann::json(const std::string& cmd, const nlohmann::json& request)>;

  /// Longest request line accepted, in bytes without the newline.
  static constexpr size_t kMaxRequestBytes = protocol::kMaxRequestBytes;

  /// Binds and listens on a Unix stream socket at config.path: removes a stale
  /// socket file first (one nobody listens on), chmods to config.mode and
  /// chowns to config.group if set. Does not accept until Start(). Throws
  /// std::runtime_error naming the path when the path holds a non-socket file
  /// or a socket another process still listens on, or on any system error.
  SocketServer(boost::asio::io_context& io, const config::SocketConfig& config, Handler handler);

  /// Calls Stop().
  ~SocketServer();

  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  /// Begins accepting connections.
  void Start();

  /// Closes the listener and every client and removes the socket file (if it
  /// is still the one this server created). Idempotent; no handler touches
  /// the server afterwards.
  void Stop();

  /// Queues one event JSON text (no newline) to every subscribed client.
  /// Clients whose output queue would exceed the limit are dropped.
  void Broadcast(std::shared_ptr<const std::string> line);

  /// Connected clients (refused connections not counted).
  size_t client_count() const;

  /// Clients disconnected because their output queue overflowed.
  uint64_t dropped_clients() const;

 private:
  class Impl;
  // Shared with pending asio handlers, which may outlive this object.
  std::shared_ptr<Impl> impl_;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_SERVER_SOCKET_SERVER_H_
