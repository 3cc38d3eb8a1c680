// One connected socket client (asio's "connection"): splits what it reads
// into request lines and hands each to its SessionHost; owns a bounded
// output queue written asynchronously, so a client that stops reading never
// blocks the io thread or other clients.
//
// Threading: everything on the io_context thread that runs the socket.
// Lifetime: shared; the pending asio handlers (shared_from_this) and the
// host's session table keep it alive. It reaches the host through a
// weak_ptr, so a handler that runs after the host is gone does nothing.
#ifndef LOOKOUT_DAEMON_SERVER_SESSION_H_
#define LOOKOUT_DAEMON_SERVER_SESSION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace lookout::daemon {

class Session;

/// What a session reports to the server that owns it.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  /// One complete request line (without its newline, at most
  /// protocol::kMaxRequestBytes long; may be blank).
  virtual void OnLine(Session& session, std::string_view line) = 0;
  /// The client sent more than protocol::kMaxRequestBytes without a
  /// newline; the session closes after flushing what is queued.
  virtual void OnLineTooLong(Session& session) = 0;
  /// The session closed (for any reason); called once.
  virtual void OnClosed(Session& session) = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  /// `max_queued_bytes`: the output queue's bound, newlines included.
  Session(std::weak_ptr<SessionHost> host, Socket socket, uint64_t id, size_t max_queued_bytes);

  /// Begins reading.
  void Start();

  /// Queues one line (the newline is added). Returns false, queueing
  /// nothing, when the output queue would exceed its bound; the caller then
  /// drops the client. A line is always taken when the queue is empty, so
  /// the bound is exceeded by at most one line. True (nothing queued) once
  /// closed.
  ///
  /// Requests are read only while the queue is below half its bound: a
  /// client that sends many requests at once gets its replies as fast as it
  /// reads them and is never dropped for it; only events it does not read
  /// fill the queue.
  bool Send(std::shared_ptr<const std::string> line);

  /// Sends what is queued, then closes; reads nothing more.
  void CloseAfterFlush();

  /// Closes now, cancelling pending reads and writes; logs `reason`.
  /// Idempotent.
  void Close(const std::string& reason);

  /// Number for the logs, unique within a server.
  uint64_t id() const { return id_; }
  /// Whether events are sent to it ("subscribe").
  bool subscribed() const { return subscribed_; }
  void set_subscribed(bool on) { subscribed_ = on; }
  /// Neither closed nor closing.
  bool open() const { return !closed_ && !close_after_flush_; }
  /// Bytes queued for writing, newlines included.
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  void Read();
  void OnRead(const boost::system::error_code& ec, size_t n);
  // Handles the complete lines in pending_ while the queue is below half its
  // bound, then reads on, or waits for OnWrite() to drain the queue.
  void HandlePending();
  void Write();
  void OnWrite(const boost::system::error_code& ec);

  std::weak_ptr<SessionHost> host_;
  Socket socket_;
  const uint64_t id_;
  const size_t max_queued_bytes_;
  std::array<char, 8192> read_buffer_{};
  std::string pending_;  // Received bytes not yet ending in a newline.
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::vector<boost::asio::const_buffer> gather_;
  size_t in_flight_ = 0;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool subscribed_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
  bool eof_ = false;     // The client has shut down its side.
  bool paused_ = false;  // Requests wait in pending_ for the queue to drain.
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_SERVER_SESSION_H_
