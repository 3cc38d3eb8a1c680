#include "server/socket_server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace lookout::daemon {
namespace {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using boost::system::error_code;
using nlohmann::json;

// Lines handed to one async_write at most; bounds the iovec array.
constexpr size_t kMaxGather = 64;
constexpr char kNewline[] = "\n";
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::runtime_error PathError(const std::string& path, const std::string& what) {
  return std::runtime_error("socket " + path + ": " + what);
}

std::string ErrnoText() { return std::strerror(errno); }

// Identity of the socket file we created, so Stop() never unlinks a file that
// someone else has put at the path since.
struct FileId {
  dev_t dev;
  ino_t ino;
};

std::optional<FileId> SocketFileId(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

// Dump that cannot throw on invalid UTF-8 (a Latin-1 label file, a handler's
// error text): bad bytes become U+FFFD.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A bare command word: "latest". Anything else is parsed as JSON.
bool IsBareWord(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] ".
std::string WithoutExceptionTag(const char* what) {
  std::string_view text(what);
  if (!text.empty() && text.front() == '[') {
    if (const size_t end = text.find("] "); end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

json ErrorReply(const json* id, const std::string* cmd, const std::string& message) {
  json reply = {{"ok", false}, {"error", message}};
  if (id != nullptr) reply["id"] = *id;
  if (cmd != nullptr) reply["cmd"] = *cmd;
  return reply;
}

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
  if (rc != 0) throw PathError(path, "cannot look up group \"" + group + "\": " + std::strerror(rc));
  if (found == nullptr) throw PathError(path, "unknown group \"" + group + "\"");
  return found->gr_gid;
}

}  // namespace

// One connected client: reads request lines, owns the bounded output queue.
// Kept alive by the pending asio handlers (shared_from_this) and by the
// server's session table; it reaches the server through a weak_ptr so that a
// handler running after Stop() never touches a destroyed server.
class SocketServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::weak_ptr<Impl> server, stream_protocol::socket socket, uint64_t id,
          size_t max_queued_bytes)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        id_(id),
        max_queued_bytes_(max_queued_bytes) {}

  void Start() { Read(); }

  uint64_t id() const { return id_; }
  bool subscribed() const { return subscribed_; }
  void set_subscribed(bool on) { subscribed_ = on; }
  bool open() const { return !closed_ && !close_after_flush_; }
  size_t queued_bytes() const { return queued_bytes_; }

  // Queues one line (newline added). Returns false, queueing nothing, when the
  // output limit would be exceeded; the caller then drops the client.
  bool Send(std::shared_ptr<const std::string> line) {
    if (closed_) return true;  // Already gone; nothing to drop.
    const size_t bytes = line->size() + 1;
    if (queued_bytes_ + bytes > max_queued_bytes_) return false;
    queue_.push_back(std::move(line));
    queued_bytes_ += bytes;
    if (!writing_) Write();
    return true;
  }

  // Sends what is queued, then closes; reads nothing more.
  void CloseAfterFlush() {
    close_after_flush_ = true;
    if (!writing_) Close("closed by server");
  }

  void Close(const std::string& reason);

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(read_buffer_),
                            [self = shared_from_this()](const error_code& ec, size_t n) {
                              self->OnRead(ec, n);
                            });
  }

  void OnRead(const error_code& ec, size_t n);

  void Write() {
    writing_ = true;
    gather_.clear();
    in_flight_ = 0;
    for (const auto& line : queue_) {
      if (in_flight_ == kMaxGather) break;
      gather_.push_back(asio::buffer(*line));
      gather_.push_back(asio::buffer(kNewline, 1));
      ++in_flight_;
    }
    // The deque only grows at the back while this is in flight, which keeps
    // the strings (and so gather_'s buffers) in place.
    asio::async_write(socket_, gather_, [self = shared_from_this()](const error_code& ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      Close("write failed: " + ec.message());
      return;
    }
    for (size_t i = 0; i < in_flight_; ++i) {
      queued_bytes_ -= queue_.front()->size() + 1;
      queue_.pop_front();
    }
    in_flight_ = 0;
    if (!queue_.empty()) {
      Write();
      return;
    }
    writing_ = false;
    if (close_after_flush_) Close("closed by server");
  }

  std::weak_ptr<Impl> server_;
  stream_protocol::socket socket_;
  const uint64_t id_;
  const size_t max_queued_bytes_;
  std::array<char, 8192> read_buffer_{};
  std::string pending_;  // Received bytes not yet ending in a newline.
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::vector<asio::const_buffer> gather_;
  size_t in_flight_ = 0;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool subscribed_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
};

class SocketServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, const config::SocketConfig& config, Handler handler)
      : io_(io),
        config_(config),
        path_(config.path.string()),
        handler_(std::move(handler)),
        acceptor_(io),
        accept_retry_(io) {}

  void Bind();
  void Start();
  void Stop();
  void Broadcast(const std::shared_ptr<const std::string>& line);
  void HandleLine(Session& session, std::string_view line);
  void Reply(Session& session, const json& reply);
  void Remove(Session& session);

  std::atomic<size_t> client_count{0};
  std::atomic<uint64_t> dropped_clients{0};

 private:
  void RemoveStaleSocket();
  void Accept();
  void OnAccept(const error_code& ec, stream_protocol::socket socket);
  void Refuse(stream_protocol::socket socket);
  void Deliver(Session& session, std::shared_ptr<const std::string> line);
  void RemoveSocketFile();

  asio::io_context& io_;
  const config::SocketConfig config_;
  const std::string path_;
  Handler handler_;
  stream_protocol::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  std::optional<FileId> socket_file_;
  uint64_t next_client_id_ = 1;
  bool started_ = false;
  bool stopped_ = false;
};

void SocketServer::Session::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);  // Cancels pending reads/writes; their buffers stay alive with us.
  spdlog::debug("socket: client #{} disconnected: {}", id_, reason);
  if (auto server = server_.lock()) server->Remove(*this);
}

void SocketServer::Session::OnRead(const error_code& ec, size_t n) {
  if (closed_ || close_after_flush_) return;
  auto server = server_.lock();
  if (!server) return;
  const bool eof = ec == asio::error::eof;
  if (ec && !eof) {
    Close("read failed: " + ec.message());
    return;
  }
  pending_.append(read_buffer_.data(), n);

  size_t start = 0;
  for (size_t newline; open() && (newline = pending_.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    const size_t length = newline - start;
    if (length > kMaxRequestBytes) break;  // Reported below.
    server->HandleLine(*this, std::string_view(pending_).substr(start, length));
  }
  pending_.erase(0, start);
  if (!open()) return;

  // Without a newline within the limit there is no telling where the next
  // request starts, so the connection cannot be resynchronised.
  if (pending_.size() > kMaxRequestBytes) {
    server->Reply(*this, ErrorReply(nullptr, nullptr,
                                    "request line longer than " + std::to_string(kMaxRequestBytes) +
                                        " bytes; closing the connection"));
    CloseAfterFlush();
    return;
  }
  if (eof) {
    // A last request without its newline ("printf latest | nc -U ...").
    if (!pending_.empty()) server->HandleLine(*this, pending_);
    pending_.clear();
    // A half-closed subscriber keeps receiving events until writing fails.
    if (open() && !subscribed_) CloseAfterFlush();
    return;
  }
  Read();
}

void SocketServer::Impl::RemoveStaleSocket() {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw PathError(path_, "cannot inspect existing file: " + ErrnoText());
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw PathError(path_, "a file that is not a socket exists at this path; refusing to remove it");
  }
  // A socket file is stale when nobody accepts on it. Non-blocking, so a
  // listener with a full backlog reports EAGAIN instead of stalling us.
  stream_protocol::socket probe(io_);
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
    throw PathError(path_, "cannot remove stale socket file: " + ErrnoText());
  }
  spdlog::info("socket: removed stale socket file {}", path_);
}

void SocketServer::Impl::Bind() {
  if (path_.empty()) throw PathError(path_, "path is empty");
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
    throw PathError(path_, "path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                               " bytes");
  }
  RemoveStaleSocket();

  const stream_protocol::endpoint endpoint(path_);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) throw PathError(path_, "cannot create socket: " + ec.message());
  acceptor_.bind(endpoint, ec);
  if (ec) {
    acceptor_.close(ec);
    throw PathError(path_, "cannot bind: " + ec.message());
  }
  socket_file_ = SocketFileId(path_);
  try {
    // Mode and owner are set before listen(), so no client can connect while
    // the file still has the umask's permissions.
    if (::chmod(path_.c_str(), static_cast<mode_t>(config_.mode)) != 0) {
      throw PathError(path_, "cannot chmod: " + ErrnoText());
    }
    if (!config_.group.empty()) {
      const gid_t gid = LookUpGroup(path_, config_.group);
      if (::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0) {
        throw PathError(path_, "cannot chown to group \"" + config_.group + "\": " + ErrnoText());
      }
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw PathError(path_, "cannot listen: " + ec.message());
  } catch (...) {
    acceptor_.close(ec);
    RemoveSocketFile();
    throw;
  }
  spdlog::info("socket: listening on {} (mode {:04o})", path_, config_.mode);
}

void SocketServer::Impl::Start() {
  if (started_ || stopped_) return;
  started_ = true;
  Accept();
}

void SocketServer::Impl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  // Close() calls Remove(), which must not erase from the table being walked.
  auto sessions = std::move(sessions_);
  sessions_.clear();
  client_count = 0;
  for (auto& [raw, session] : sessions) session->Close("server stopping");
  RemoveSocketFile();
  if (started_) spdlog::info("socket: stopped listening on {}", path_);
}

void SocketServer::Impl::RemoveSocketFile() {
  if (!socket_file_) return;
  const std::optional<FileId> now = SocketFileId(path_);
  if (now && now->dev == socket_file_->dev && now->ino == socket_file_->ino) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("socket: cannot remove {}: {}", path_, ErrnoText());
    }
  }
  socket_file_.reset();
}

void SocketServer::Impl::Accept() {
  acceptor_.async_accept(
      [self = shared_from_this()](const error_code& ec, stream_protocol::socket socket) {
        self->OnAccept(ec, std::move(socket));
      });
}

void SocketServer::Impl::OnAccept(const error_code& ec, stream_protocol::socket socket) {
  if (stopped_) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // EMFILE and friends fail again at once; retrying later avoids a busy loop.
    spdlog::warn("socket: accept on {} failed: {}", path_, ec.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->stopped_) self->Accept();
    });
    return;
  }
  if (sessions_.size() >= static_cast<size_t>(std::max(config_.max_clients, 0))) {
    Refuse(std::move(socket));
  } else {
    const uint64_t id = next_client_id_++;
    ucred peer{};
    socklen_t peer_size = sizeof(peer);
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) == 0) {
      spdlog::debug("socket: client #{} connected (pid {}, uid {})", id, peer.pid, peer.uid);
    }
    auto session = std::make_shared<Session>(
        weak_from_this(), std::move(socket), id,
        static_cast<size_t>(std::max<int64_t>(config_.max_client_buffer_bytes, 0)));
    sessions_.emplace(session.get(), session);
    client_count = sessions_.size();
    session->Start();
  }
  Accept();
}

void SocketServer::Impl::Refuse(stream_protocol::socket socket) {
  spdlog::warn("socket: refusing a connection: {} clients already connected", sessions_.size());
  auto refused = std::make_shared<stream_protocol::socket>(std::move(socket));
  auto text = std::make_shared<const std::string>(
      Dump(ErrorReply(nullptr, nullptr,
                      "too many clients (max_clients " + std::to_string(config_.max_clients) + ")")) +
      "\n");
  // One short line fits the socket buffer, so this completes at once.
  asio::async_write(*refused, asio::buffer(*text), [refused, text](const error_code&, size_t) {
    error_code ignored;
    refused->shutdown(stream_protocol::socket::shutdown_both, ignored);
    refused->close(ignored);
  });
}

void SocketServer::Impl::Remove(Session& session) {
  sessions_.erase(&session);
  client_count = sessions_.size();
}

void SocketServer::Impl::Deliver(Session& session, std::shared_ptr<const std::string> line) {
  if (session.Send(std::move(line))) return;
  ++dropped_clients;
  spdlog::warn("socket: dropping client #{}: it is not reading ({} bytes queued, limit {})",
               session.id(), session.queued_bytes(), config_.max_client_buffer_bytes);
  session.Close("output queue full");
}

void SocketServer::Impl::Reply(Session& session, const json& reply) {
  Deliver(session, std::make_shared<const std::string>(Dump(reply)));
}

void SocketServer::Impl::Broadcast(const std::shared_ptr<const std::string>& line) {
  if (stopped_ || !line) return;
  // Snapshot: dropping a client erases it from sessions_.
  std::vector<std::shared_ptr<Session>> targets;
  targets.reserve(sessions_.size());
  for (const auto& [raw, session] : sessions_) {
    if (session->subscribed() && session->open()) targets.push_back(session);
  }
  for (const auto& session : targets) Deliver(*session, line);
}

void SocketServer::Impl::HandleLine(Session& session, std::string_view raw_line) {
  const std::string_view line = Trim(raw_line);
  if (line.empty()) return;  // Blank lines (keep-alives, stray CRLF) get no reply.

  json request;
  if (IsBareWord(line)) {
    request = {{"cmd", std::string(line)}};
  } else {
    try {
      request = json::parse(line);
    } catch (const json::parse_error& e) {
      Reply(session, ErrorReply(nullptr, nullptr,
                                "request is not valid JSON: " + WithoutExceptionTag(e.what())));
      return;
    }
  }
  if (!request.is_object()) {
    Reply(session, ErrorReply(nullptr, nullptr, "request must be a JSON object or a command word"));
    return;
  }
  const auto id_it = request.find("id");
  const json* id = id_it != request.end() ? &*id_it : nullptr;
  const auto cmd_it = request.find("cmd");
  if (cmd_it == request.end() || !cmd_it->is_string()) {
    Reply(session, ErrorReply(id, nullptr, "request needs a string \"cmd\""));
    return;
  }
  const std::string cmd = cmd_it->get<std::string>();

  json result;
  if (cmd == "subscribe" || cmd == "unsubscribe") {
    session.set_subscribed(cmd == "subscribe");
    result = {{"subscribed", session.subscribed()}};
  } else {
    try {
      if (!handler_) throw std::runtime_error("unknown command \"" + cmd + "\"");
      result = handler_(cmd, request);
    } catch (const std::exception& e) {
      Reply(session, ErrorReply(id, &cmd, e.what()));
      return;
    } catch (...) {
      Reply(session, ErrorReply(id, &cmd, "internal error"));
      return;
    }
  }
  json reply = {{"ok", true}, {"cmd", cmd}, {"result", std::move(result)}};
  if (id != nullptr) reply["id"] = *id;
  Reply(session, reply);
}

SocketServer::SocketServer(asio::io_context& io, const config::SocketConfig& config, Handler handler)
    : impl_(std::make_shared<Impl>(io, config, std::move(handler))) {
  impl_->Bind();
}

SocketServer::~SocketServer() { Stop(); }

void SocketServer::Start() { impl_->Start(); }

void SocketServer::Stop() { impl_->Stop(); }

void SocketServer::Broadcast(std::shared_ptr<const std::string> line) { impl_->Broadcast(line); }

size_t SocketServer::client_count() const { return impl_->client_count.load(); }

uint64_t SocketServer::dropped_clients() const { return impl_->dropped_clients.load(); }

}  // namespace lookout::daemon
