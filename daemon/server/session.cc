#include "server/session.h"

#include <utility>

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "server/protocol.h"

namespace lookout::daemon {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Lines handed to one async_write at most; bounds the iovec array.
constexpr size_t kMaxGather = 64;
constexpr char kNewline[] = "\n";

}  // namespace

Session::Session(std::weak_ptr<SessionHost> host, Socket socket, uint64_t id, size_t max_queued_bytes)
    : host_(std::move(host)), socket_(std::move(socket)), id_(id), max_queued_bytes_(max_queued_bytes) {}

void Session::Start() { Read(); }

bool Session::Send(std::shared_ptr<const std::string> line) {
  if (closed_) return true;
  const size_t bytes = line->size() + 1;
  if (queued_bytes_ > 0 && queued_bytes_ + bytes > max_queued_bytes_) return false;
  queue_.push_back(std::move(line));
  queued_bytes_ += bytes;
  if (!writing_) Write();
  return true;
}

void Session::CloseAfterFlush() {
  close_after_flush_ = true;
  if (!writing_) Close("closed by server");
}

void Session::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);  // Cancels pending reads/writes; their buffers stay alive with us.
  spdlog::debug("socket: client #{} disconnected: {}", id_, reason);
  if (auto host = host_.lock()) host->OnClosed(*this);
}

void Session::Read() {
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            self->OnRead(ec, n);
                          });
}

void Session::OnRead(const error_code& ec, size_t n) {
  if (closed_ || close_after_flush_) return;
  eof_ = ec == asio::error::eof;
  if (ec && !eof_) {
    Close("read failed: " + ec.message());
    return;
  }
  pending_.append(read_buffer_.data(), n);
  HandlePending();
}

void Session::HandlePending() {
  auto host = host_.lock();
  if (!host) return;
  const size_t resume_below = max_queued_bytes_ / 2;
  size_t start = 0;
  for (size_t newline; open() && queued_bytes_ < resume_below &&
                       (newline = pending_.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    const size_t length = newline - start;
    if (length > protocol::kMaxRequestBytes) break;  // Reported below.
    host->OnLine(*this, std::string_view(pending_).substr(start, length));
  }
  pending_.erase(0, start);
  if (!open()) return;
  if (queued_bytes_ >= resume_below && pending_.find('\n') != std::string::npos) {
    paused_ = true;  // OnWrite() comes back here once the client has read.
    return;
  }

  // Without a newline within the limit there is no telling where the next
  // request starts, so the connection cannot be resynchronised.
  if (pending_.size() > protocol::kMaxRequestBytes) {
    host->OnLineTooLong(*this);
    CloseAfterFlush();
    return;
  }
  if (eof_) {
    // A last request without its newline ("printf latest | nc -U ...").
    if (!pending_.empty()) host->OnLine(*this, pending_);
    pending_.clear();
    // A half-closed subscriber keeps receiving events until writing fails.
    if (open() && !subscribed_) CloseAfterFlush();
    return;
  }
  Read();
}

void Session::Write() {
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

void Session::OnWrite(const error_code& ec) {
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
  if (paused_ && queued_bytes_ < max_queued_bytes_ / 2) {
    paused_ = false;
    HandlePending();
    if (closed_) return;
  }
  if (!queue_.empty()) {
    Write();  // HandlePending()'s replies did not start one: writing_ was still set.
    return;
  }
  writing_ = false;
  if (close_after_flush_) Close("closed by server");
}

}  // namespace lookout::daemon
