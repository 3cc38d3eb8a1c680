// The socket file: a listening Unix stream socket at a path, with the mode
// and group the configuration asks for, removed again on Close() if it is
// still the file this listener created.
//
// Threading: construct, use acceptor() and Close() on the io_context thread
// (or while the io_context is not running).
#ifndef LOOKOUT_DAEMON_SERVER_LISTENER_H_
#define LOOKOUT_DAEMON_SERVER_LISTENER_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "lookout/config/config.h"

namespace lookout::daemon {

class Listener {
 public:
  using Acceptor = boost::asio::local::stream_protocol::acceptor;

  /// Binds and listens on config.path: removes a stale socket file first
  /// (one nobody listens on), chmods to config.mode and chowns to
  /// config.group (a name or a number) if set, all before listen(), so no
  /// client connects while the file has the umask's permissions. Throws
  /// std::runtime_error "socket <path>: <what>" with the system's error
  /// text when the path is empty or longer than sun_path allows, holds a
  /// non-socket file or a socket another process still listens on, or a
  /// system call fails; nothing is left at the path then.
  Listener(boost::asio::io_context& io, const config::SocketConfig& config);

  /// Calls Close().
  ~Listener();

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// The listening socket, for async_accept.
  Acceptor& acceptor() { return acceptor_; }

  const std::string& path() const { return path_; }

  /// Stops listening (pending accepts complete with operation_aborted) and
  /// unlinks the socket file if it is still the one created here (not a
  /// file someone else has put at the path since). Idempotent.
  void Close();

 private:
  struct FileId {
    dev_t dev;
    ino_t ino;
  };
  static std::optional<FileId> SocketFileId(const std::string& path);

  void RemoveStaleSocket(boost::asio::io_context& io);
  void Bind(const config::SocketConfig& config);
  void RemoveSocketFile();

  const std::string path_;
  Acceptor acceptor_;
  std::optional<FileId> socket_file_;
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_SERVER_LISTENER_H_
