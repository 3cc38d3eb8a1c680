#include "server/socket_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "server/listener.h"
#include "server/session.h"

namespace lookout::daemon {
namespace {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using boost::system::error_code;
using nlohmann::json;

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

}  // namespace

class SocketServer::Impl : public SessionHost, public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, const config::SocketConfig& config, Handler handler)
      : config_(config), handler_(std::move(handler)), listener_(io, config), accept_retry_(io) {}

  void Start();
  void Stop();
  void Broadcast(const std::shared_ptr<const std::string>& line);

  void OnLine(Session& session, std::string_view line) override;
  void OnLineTooLong(Session& session) override;
  void OnClosed(Session& session) override;

  std::atomic<size_t> client_count{0};
  std::atomic<uint64_t> dropped_clients{0};

 private:
  void Accept();
  void OnAccept(const error_code& ec, stream_protocol::socket socket);
  void Refuse(stream_protocol::socket socket);
  void Reply(Session& session, const json& reply);
  void Deliver(Session& session, std::shared_ptr<const std::string> line);

  const config::SocketConfig config_;
  Handler handler_;
  Listener listener_;
  asio::steady_timer accept_retry_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  uint64_t next_client_id_ = 1;
  bool started_ = false;
  bool stopped_ = false;
};

void SocketServer::Impl::Start() {
  if (started_ || stopped_) return;
  started_ = true;
  Accept();
}

void SocketServer::Impl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  accept_retry_.cancel();
  // Close() calls OnClosed(), which must not erase from the table being walked.
  auto sessions = std::move(sessions_);
  sessions_.clear();
  client_count = 0;
  for (auto& [raw, session] : sessions) session->Close("server stopping");
  listener_.Close();
  if (started_) spdlog::info("socket: stopped listening on {}", listener_.path());
}

void SocketServer::Impl::Accept() {
  listener_.acceptor().async_accept(
      [self = shared_from_this()](const error_code& ec, stream_protocol::socket socket) {
        self->OnAccept(ec, std::move(socket));
      });
}

void SocketServer::Impl::OnAccept(const error_code& ec, stream_protocol::socket socket) {
  if (stopped_) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // EMFILE and friends fail again at once; retrying later avoids a busy loop.
    spdlog::warn("socket: accept on {} failed: {}", listener_.path(), ec.message());
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
      protocol::Dump(protocol::ErrorReply("too many clients (max_clients " +
                                          std::to_string(config_.max_clients) + ")")) +
      "\n");
  // One short line fits the socket buffer, so this completes at once.
  asio::async_write(*refused, asio::buffer(*text), [refused, text](const error_code&, size_t) {
    error_code ignored;
    refused->shutdown(stream_protocol::socket::shutdown_both, ignored);
    refused->close(ignored);
  });
}

void SocketServer::Impl::OnClosed(Session& session) {
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
  Deliver(session, std::make_shared<const std::string>(protocol::Dump(reply)));
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

void SocketServer::Impl::OnLineTooLong(Session& session) {
  Reply(session, protocol::ErrorReply("request line longer than " +
                                      std::to_string(protocol::kMaxRequestBytes) +
                                      " bytes; closing the connection"));
}

void SocketServer::Impl::OnLine(Session& session, std::string_view line) {
  protocol::ParsedLine parsed = protocol::ParseLine(line);
  if (parsed.kind == protocol::ParsedLine::Kind::kBlank) return;  // No reply to keep-alives.
  if (parsed.kind == protocol::ParsedLine::Kind::kInvalid) {
    Reply(session, parsed.error_reply);
    return;
  }
  const protocol::Request& request = parsed.request;
  json result;
  if (request.cmd == "subscribe" || request.cmd == "unsubscribe") {
    session.set_subscribed(request.cmd == "subscribe");
    result = {{"subscribed", session.subscribed()}};
  } else {
    try {
      if (!handler_) throw std::runtime_error("unknown command \"" + request.cmd + "\"");
      result = handler_(request.cmd, request.body);
    } catch (const std::exception& e) {
      Reply(session, protocol::ErrorReply(request, e.what()));
      return;
    } catch (...) {
      Reply(session, protocol::ErrorReply(request, "internal error"));
      return;
    }
  }
  Reply(session, protocol::OkReply(request, std::move(result)));
}

SocketServer::SocketServer(asio::io_context& io, const config::SocketConfig& config, Handler handler)
    : impl_(std::make_shared<Impl>(io, config, std::move(handler))) {}

SocketServer::~SocketServer() { Stop(); }

void SocketServer::Start() { impl_->Start(); }

void SocketServer::Stop() { impl_->Stop(); }

void SocketServer::Broadcast(std::shared_ptr<const std::string> line) { impl_->Broadcast(line); }

size_t SocketServer::client_count() const { return impl_->client_count.load(); }

uint64_t SocketServer::dropped_clients() const { return impl_->dropped_clients.load(); }

}  // namespace lookout::daemon
