// A blocking Unix-socket client with line framing and bounded waits, for
// the socket server and daemon tests.
#ifndef LOOKOUT_TESTS_SUPPORT_UNIX_CLIENT_H_
#define LOOKOUT_TESTS_SUPPORT_UNIX_CLIENT_H_

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "support/catch_compat.h"
#include "support/wait.h"

namespace lookout::testing {

// True when something accepts connections on the Unix socket at `path`. A
// server creates the file (bind) before it listens, so the file alone does
// not say it is ready.
inline bool Accepts(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

class Client {
 public:
  explicit Client(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void SendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      sent += static_cast<size_t>(n);
    }
  }
  void SendLine(const std::string& line) { SendRaw(line + "\n"); }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Bytes sent that the server has not read yet (SIOCOUTQ: on a Unix socket
  // they stay charged to the sender until the receiver reads them); -1 on
  // error. 0 proves the server has read everything sent so far.
  int Unread() const {
    int bytes = 0;
    return ::ioctl(fd_, SIOCOUTQ, &bytes) == 0 ? bytes : -1;
  }

  // The next line without its newline; nullopt on timeout or end of stream.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout = kEventDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        eof_ = true;  // EOF, or ECONNRESET after the server closed.
      } else {
        buffer_.append(chunk, static_cast<size_t>(n));
      }
    }
  }

  nlohmann::json ReadJson() {
    const std::optional<std::string> line = ReadLine();
    REQUIRE(line.has_value());
    return nlohmann::json::parse(*line);
  }

  // True once the server has closed the connection (all data read).
  bool WaitClosed(std::chrono::milliseconds timeout = kEventDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && std::chrono::steady_clock::now() < deadline) {
      buffer_.clear();
      ReadLine(std::chrono::milliseconds(50));
    }
    return eof_;
  }

  nlohmann::json Request(const nlohmann::json& request) {
    SendLine(request.dump());
    return ReadJson();
  }

 private:
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_UNIX_CLIENT_H_
