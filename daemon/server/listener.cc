#include "server/listener.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

namespace lookout::daemon {
namespace {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using boost::system::error_code;

std::runtime_error PathError(const std::string& path, const std::string& what) {
  return std::runtime_error("socket " + path + ": " + what);
}

// Read errno at once: anything called before the message is built may
// overwrite it.
std::string ErrnoText(int error) { return std::strerror(error); }

gid_t LookUpGroup(const std::string& path, const std::string& group) {
  if (!group.empty() &&
      group.find_first_not_of("0123456789") == std::string::npos && group.size() < 10) {
    return static_cast<gid_t>(std::stoul(group));
  }
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  int rc;
  while ((rc = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0) throw PathError(path, "cannot look up group \"" + group + "\": " + ErrnoText(rc));
  if (found == nullptr) throw PathError(path, "unknown group \"" + group + "\"");
  return found->gr_gid;
}

}  // namespace

Listener::Listener(asio::io_context& io, const config::SocketConfig& config)
    : path_(config.path.string()), acceptor_(io) {
  if (path_.empty()) throw PathError(path_, "path is empty");
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
    throw PathError(path_, "path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                               " bytes");
  }
  RemoveStaleSocket(io);
  Bind(config);
  spdlog::info("socket: listening on {} (mode {:04o})", path_, config.mode);
}

Listener::~Listener() { Close(); }

void Listener::Close() {
  error_code ignored;
  acceptor_.close(ignored);
  RemoveSocketFile();
}

std::optional<Listener::FileId> Listener::SocketFileId(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

void Listener::RemoveStaleSocket(asio::io_context& io) {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) return;
    throw PathError(path_, "cannot inspect existing file: " + ErrnoText(error));
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw PathError(path_, "a file that is not a socket exists at this path; refusing to remove it");
  }
  // A socket file is stale when nobody accepts on it. Non-blocking, so a
  // listener with a full backlog reports EAGAIN instead of stalling us.
  stream_protocol::socket probe(io);
  error_code ec;
  probe.open(stream_protocol(), ec);
  if (!ec) probe.non_blocking(true, ec);
  if (!ec) probe.connect(stream_protocol::endpoint(path_), ec);
  if (!ec || ec == asio::error::would_block || ec == asio::error::try_again ||
      ec == asio::error::in_progress) {
    throw PathError(path_, "another process is listening on this socket");
  }
  if (ec != asio::error::connection_refused) {
    throw PathError(path_, "cannot probe existing socket file: " + ec.message());
  }
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    throw PathError(path_, "cannot remove stale socket file: " + ErrnoText(errno));
  }
  spdlog::info("socket: removed stale socket file {}", path_);
}

void Listener::Bind(const config::SocketConfig& config) {
  const stream_protocol::endpoint endpoint(path_);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) throw PathError(path_, "cannot create socket: " + ec.message());
  acceptor_.bind(endpoint, ec);
  if (ec) {
    const std::string reason = ec.message();
    error_code ignored;
    acceptor_.close(ignored);
    throw PathError(path_, "cannot bind: " + reason);
  }
  socket_file_ = SocketFileId(path_);
  try {
    if (::chmod(path_.c_str(), static_cast<mode_t>(config.mode)) != 0) {
      throw PathError(path_, "cannot chmod: " + ErrnoText(errno));
    }
    if (!config.group.empty()) {
      const gid_t gid = LookUpGroup(path_, config.group);
      if (::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0) {
        throw PathError(path_, "cannot chown to group \"" + config.group + "\": " + ErrnoText(errno));
      }
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw PathError(path_, "cannot listen: " + ec.message());
  } catch (...) {
    Close();
    throw;
  }
}

void Listener::RemoveSocketFile() {
  if (!socket_file_) return;
  const std::optional<FileId> now = SocketFileId(path_);
  if (now && now->dev == socket_file_->dev && now->ino == socket_file_->ino) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("socket: cannot remove {}: {}", path_, ErrnoText(errno));
    }
  }
  socket_file_.reset();
}

}  // namespace lookout::daemon
